"""Throwaway redis-server processes on loopback ports: a plain server (outage tests, it
can be stopped and started again on the same port), a Sentinel watching one, and a
three-master Cluster. Data lives in memory only; every process is stopped by its owner."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

BINARY = shutil.which("redis-server")
CLI = shutil.which("redis-cli")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def redis_or_skip(url: str = REDIS_URL) -> redis.Redis:
    """A live redis-py client for `url`, or skip (fail under CI) when Redis is down."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        message = f"Redis at {url} unreachable ({exc}); set REDIS_URL or start redis-server"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return client


def binary_or_skip() -> None:
    """Skip (fail under CI) when redis-server / redis-cli are not installed."""
    if BINARY is None or CLI is None:
        message = "redis-server / redis-cli not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete this prefix's keys (never FLUSHDB: the database may be shared)."""
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.delete(*keys)
    return len(keys)


def prefixed_url(url: str, prefix: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}key_prefix={prefix}"


def free_port(bus: bool = False) -> int:
    """A free loopback port; with `bus`, port + 10000 is free too (Cluster's bus port)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not bus:
            return port
        if port < 55535:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    continue


def wait_ping(port: int, proc: subprocess.Popen, timeout: float = 10) -> None:
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {port} exited with {proc.returncode}")
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {port} did not answer within {timeout}s")
    finally:
        client.close()


class RedisServer:
    """One redis-server process; `stop()` then `start()` brings it back on the same port."""

    def __init__(self, workdir: Path, *, port: int | None = None, args: tuple[str, ...] = (),
                 config: str | None = None):
        if BINARY is None:
            raise RuntimeError("redis-server is not installed")
        self.workdir = workdir
        self.port = port or free_port()
        self.args = args
        self.config = config
        self.proc: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = [BINARY]
        if self.config is not None:  # Sentinel rewrites its config file: give it its own
            conf = self.workdir / f"redis-{self.port}.conf"
            conf.write_text(self.config)
            command.append(str(conf))
        command += ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", str(self.workdir), *self.args]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_ping(self.port, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class SentinelSetup:
    """A master and one Sentinel monitoring it as `mymaster` (quorum 1)."""

    SERVICE = "mymaster"

    def __init__(self, workdir: Path):
        self.master = RedisServer(workdir / "master")
        sentinel_port = free_port()
        config = (f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master.port} 1\n"
                  f"sentinel down-after-milliseconds {self.SERVICE} 5000\n")
        self.sentinel = RedisServer(workdir / "sentinel", port=sentinel_port,
                                    args=("--sentinel",), config=config)

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/{self.SERVICE}/0"

    def start(self) -> SentinelSetup:
        self.master.start()
        self.sentinel.start()
        return self

    def stop(self) -> None:
        self.sentinel.stop()
        self.master.stop()


class ClusterSetup:
    """Three masters, no replicas, all 16384 slots assigned."""

    def __init__(self, workdir: Path, size: int = 3):
        self.nodes = []
        for _ in range(size):
            port = free_port(bus=True)
            self.nodes.append(RedisServer(
                workdir / f"node-{port}", port=port,
                args=("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                      "--cluster-node-timeout", "5000")))

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> ClusterSetup:
        for node in self.nodes:
            node.start()
        if CLI is None:
            raise RuntimeError("redis-cli is not installed")
        subprocess.run([CLI, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        self._wait_ok()
        return self

    def _wait_ok(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            client = redis.Redis(host="127.0.0.1", port=node.port)
            try:
                while client.cluster("info").get("cluster_state") != "ok":
                    if time.monotonic() > deadline:
                        raise RuntimeError("the test cluster did not become ready")
                    time.sleep(0.1)
            finally:
                client.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
