"""`make soak`: the bridge under a fault schedule, every login classified.

Two replicas on one Redis (a redis-server of its own, AOF on, so it can be restarted)
behind a round-robin that skips a replica refusing connections (as a load balancer's
health check would), one replica on SQLite, the WeCom emulator, N virtual users for a
bounded time. Each fault is applied for a few seconds, then cleared; before it, a
sample of refresh tokens, bridge sessions and ID tokens is taken, and after it each
must still work (refresh 200, session answers without WeCom, ID token verifies at the
JWKS). Recovery = from the fault's end to the first successful login on every pool.

    PYTHONPATH=tests python -m soak.soak --duration 180 --users 16
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from contract.redis_server import RedisServer
from e2e.stack import CLI_REDIRECT, DESKTOP_UA, PUBLIC, free_port, wait_http
from joserfc import jwt
from joserfc.jwk import KeySet
from replicas.pair import replica_config, shared_keys, start_replica

from wecom_oidc.config.settings import DEFAULT_RATES
from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve

# Every virtual user comes from 127.0.0.1: the per-address rate limits (sized for a
# company behind one NAT, not for a load generator) would turn the soak into a 429 test.
NO_LIMITS = "[limits]\n" + "".join(f'{rule} = "off"\n' for rule in DEFAULT_RATES
                                   if rule.startswith(("authorize", "callback", "token",
                                                       "userinfo")))
USERS = ("zhangsan", "lisi", "wangwu", "zhaoliu", "sunqi")
HANG = 30.0  # a request without an answer for this long is a hang
OUTCOMES = ("success", "error_page", "crash", "hang", "wrong_user")


@dataclass
class Pool:
    """Replicas sharing one store, taken in turn; a dead one is skipped."""

    name: str
    urls: list[str]
    issuer: str
    procs: list[subprocess.Popen] = field(default_factory=list)
    _next: int = 0

    def pick(self) -> list[str]:
        self._next = (self._next + 1) % len(self.urls)
        return self.urls[self._next:] + self.urls[:self._next]


class Unanswered(Exception):
    """Every replica of the pool refused the connection."""


def send(pool: Pool, method: str, path_or_url: str, session: requests.Session,
         **kw) -> requests.Response:
    """One request to the next live replica of `pool` (a URL's host is replaced)."""
    path = path_or_url
    if path.startswith("http"):
        parts = urlsplit(path)
        path = parts.path + ("?" + parts.query if parts.query else "")
    for base in pool.pick():
        try:
            return session.request(method, base + path, timeout=HANG, allow_redirects=False,
                                   **kw)
        except requests.ConnectionError:
            continue
    raise Unanswered()


@dataclass
class Login:
    outcome: str
    userid: str
    token: dict | None = None
    session: requests.Session | None = None
    detail: str = ""


def login(pool: Pool, emulator: str, userid: str) -> Login:
    """One QR login through the pool; classified, never raising."""
    b = requests.Session()
    b.headers["User-Agent"] = DESKTOP_UA
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
    state = secrets.token_urlsafe(16)
    query = urlencode({"client_id": PUBLIC, "redirect_uri": CLI_REDIRECT,
                       "response_type": "code", "scope": "openid offline_access",
                       "state": state, "nonce": secrets.token_urlsafe(8),
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    try:
        r = send(pool, "GET", "/authorize?" + query, b)
        if r.status_code != 302:
            return _failed(r, userid)
        wecom = urlsplit(r.headers["Location"])
        params = {k: v[0] for k, v in parse_qs(wecom.query).items()}
        scanned = b.get(f"{emulator}/wwlogin/sso/scan?" + urlencode({**params,
                                                                     "userid": userid}),
                        allow_redirects=False, timeout=HANG)
        if scanned.status_code != 302:
            return Login("error_page", userid, detail=f"emulator {scanned.status_code}")
        back = send(pool, "GET", scanned.headers["Location"], b)
        if back.status_code != 302 or "code=" not in back.headers.get("Location", ""):
            return _failed(back, userid)
        code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
        t = send(pool, "POST", "/token", b, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": CLI_REDIRECT,
            "client_id": PUBLIC, "code_verifier": verifier})
        if t.status_code != 200:
            return _failed(t, userid)
        token = t.json()
        sub = _payload(token["id_token"])["sub"]
        if sub != userid:
            return Login("wrong_user", userid, detail=f"got {sub}")
        return Login("success", userid, token, b)
    except requests.Timeout:
        return Login("hang", userid)
    except Unanswered:
        return Login("error_page", userid, detail="no replica answered")
    except requests.RequestException as e:  # a connection cut mid-answer
        return Login("error_page", userid, detail=type(e).__name__)


def _failed(r: requests.Response, userid: str) -> Login:
    if r.status_code >= 500 and r.status_code not in (502, 503):
        return Login("crash", userid, detail=f"{r.status_code} {r.text[:200]}")
    return Login("error_page", userid, detail=f"{r.status_code}")


def _payload(id_token: str) -> dict:
    part = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# --- what was issued before a fault must still work after it -----------------------


def verify_id_token(pool: Pool, id_token: str) -> bool:
    jwks = requests.get(pool.urls[0] + "/jwks.json", timeout=10).json()
    try:
        claims = jwt.decode(id_token, KeySet.import_key_set(jwks)).claims
        assert claims["exp"] > time.time()
    except Exception:
        return False
    return True


def still_works(pool: Pool, sample: list[Login], deadline: float) -> tuple[int, int]:
    """(refresh tokens lost, sessions lost): each retried while the bridge answers
    503 (it may still be recovering), lost only on a definite refusal."""
    lost_tokens = lost_sessions = 0
    for item in sample:
        while True:
            try:
                r = send(pool, "POST", "/token", requests.Session(), data={
                    "grant_type": "refresh_token", "client_id": PUBLIC,
                    "refresh_token": item.token["refresh_token"]})
            except (Unanswered, requests.RequestException):
                r = None
            if r is not None and r.status_code == 200:
                item.token = r.json()
                break
            if (r is not None and r.status_code == 400) or time.monotonic() > deadline:
                lost_tokens += 1
                break
            time.sleep(0.2)
        while True:  # the bridge session answers /authorize without WeCom
            query = urlencode({"client_id": PUBLIC, "redirect_uri": CLI_REDIRECT,
                               "response_type": "code", "scope": "openid", "state": "s",
                               "code_challenge": "x" * 43, "code_challenge_method": "S256"})
            try:
                r = send(pool, "GET", "/authorize?" + query, item.session)
            except (Unanswered, requests.RequestException):
                r = None
            if r is not None and r.status_code == 302 and "code=" in r.headers["Location"]:
                break
            if (r is not None and r.status_code == 302) or time.monotonic() > deadline:
                lost_sessions += 1
                break
            time.sleep(0.2)
    return lost_tokens, lost_sessions


# --- the deployment ------------------------------------------------------------------


@dataclass
class Deployment:
    workdir: Path
    redis: RedisServer
    emulator: str
    emulator_server: object
    redis_pool: Pool
    sqlite_pool: Pool
    configs: dict[str, Path] = field(default_factory=dict)
    logs: list = field(default_factory=list)

    def emu(self, path: str, **body) -> None:
        requests.post(f"{self.emulator}/_emulator/{path}", json=body or None,
                      timeout=10).raise_for_status()

    def start(self, pool: Pool, i: int) -> None:
        port = int(urlsplit(pool.urls[i]).port)
        log_path = self.workdir / f"{pool.name}-{i}.log"
        proc, log = start_replica(self.configs[pool.urls[i]], port, log_path)
        self.logs.append(log)
        if i < len(pool.procs):
            pool.procs[i] = proc
        else:
            pool.procs.append(proc)
        wait_http(pool.urls[i] + "/healthz", proc, timeout=90)

    def stop(self) -> None:
        for pool in (self.redis_pool, self.sqlite_pool):
            for p in pool.procs:
                p.terminate()
            for p in pool.procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.emulator_server.shutdown()
        self.emulator_server.server_close()
        self.redis.stop()
        for f in self.logs:
            f.close()

    def tracebacks(self) -> int:
        return sum(p.read_text(errors="replace").count("Traceback")
                   for p in self.workdir.glob("*.log"))


def deploy(workdir: Path) -> Deployment:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator's access log
    redis = RedisServer(workdir / "redis", args=("--appendonly", "yes",
                                                 "--appendfsync", "always")).start()
    ports = [free_port() for _ in range(3)]
    server, emulator = serve(EmulatorConfig(trusted_domains=[f"127.0.0.1:{p}" for p in ports]))
    keys = shared_keys(workdir)
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    d = Deployment(workdir, redis, emulator, server,
                   Pool("redis", urls[:2], urls[0]), Pool("sqlite", urls[2:], urls[2]))
    stores = {urls[0]: redis.url + "?key_prefix=soak:", urls[1]: redis.url + "?key_prefix=soak:",
              urls[2]: f"sqlite:///{workdir}/sqlite-replica/bridge.db"}
    for url in urls:
        issuer_port = ports[0] if url in d.redis_pool.urls else ports[2]
        config = workdir / f"replica-{urlsplit(url).port}.toml"
        config.write_text(replica_config(issuer_port, emulator, workdir, stores[url], keys,
                                         NO_LIMITS), encoding="utf-8")
        d.configs[url] = config
    try:
        for pool in (d.redis_pool, d.sqlite_pool):
            for i in range(len(pool.urls)):
                d.start(pool, i)
    except Exception:
        d.stop()
        raise
    return d


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _kill_tree(proc: subprocess.Popen) -> None:
    kids = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for kid in kids:
        try:
            os.kill(kid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- the fault schedule: (name, apply, clear) -----------------------------------------


def faults(d: Deployment, hold: float) -> list[tuple[str, object, object]]:
    def emu_fault(api: str, errcode: object, count: int):
        return lambda: d.emu("faults", api=api, errcode=errcode, count=count)

    def clear() -> None:
        requests.post(f"{d.emulator}/_emulator/latency", json={"api": "*", "ms": 0},
                      timeout=10)

    def kill_worker() -> None:
        kids = _children(d.redis_pool.procs[0].pid)
        if kids:
            os.kill(kids[0], signal.SIGKILL)

    def kill_replica() -> None:
        _kill_tree(d.redis_pool.procs[1])

    def restart_replica() -> None:
        d.start(d.redis_pool, 1)

    def restart_sqlite_bridge() -> None:
        proc = d.sqlite_pool.procs[0]
        proc.terminate()
        proc.wait(timeout=30)
        d.start(d.sqlite_pool, 0)

    return [
        ("latency spike 1.5 s", lambda: d.emu("latency", api="*", ms=1500), clear),
        ("HTTP 500 burst", emu_fault("*", "http_500", 12), clear),
        ("dropped connections", emu_fault("*", "drop", 8), clear),
        ("errcode -1 burst", emu_fault("*", -1, 12), clear),
        ("42001 token expired", lambda: d.emu("expire-tokens", mode="expire"), clear),
        ("40014 token revoked", lambda: d.emu("expire-tokens", mode="revoke"), clear),
        ("45009 burst", emu_fault("auth/getuserinfo", 45009, 3), clear),
        ("Redis restart", d.redis.stop, d.redis.start),
        ("worker SIGKILL", kill_worker, lambda: None),
        ("replica SIGKILL + restart", kill_replica, restart_replica),
        ("bridge restart (SQLite)", restart_sqlite_bridge, lambda: None),
    ]


# --- the run ---------------------------------------------------------------------------


@dataclass
class Result:
    outcomes: Counter = field(default_factory=Counter)
    rows: list[tuple] = field(default_factory=list)
    details: Counter = field(default_factory=Counter)


def run(workdir: Path, *, duration: float, users: int, hold: float = 2.0,
        only: tuple[str, ...] = (), sample: int = 4, out=sys.stdout) -> Result:
    d = deploy(workdir)
    result, lock, stop = Result(), threading.Lock(), threading.Event()
    pools = (d.redis_pool, d.sqlite_pool)

    def user(n: int) -> None:
        pool, i = pools[n % 2], 0
        while not stop.is_set():
            got = login(pool, d.emulator, USERS[(n + i) % len(USERS)])
            i += 1
            with lock:
                result.outcomes[got.outcome] += 1
                if got.outcome != "success":
                    result.details[f"{pool.name}: {got.outcome} {got.detail}"] += 1
            if got.outcome != "success":
                time.sleep(0.2)  # a person reads the page before trying again

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        schedule = [f for f in faults(d, hold) if not only or f[0] in only]
        for name, apply, clear in schedule:
            if time.monotonic() - started > duration:
                break
            before = {p.name: [x for x in (login(p, d.emulator, u) for u in USERS[:sample])
                               if x.outcome == "success"] for p in pools}
            with lock:
                counted = Counter(result.outcomes)
            apply()
            time.sleep(hold)
            clear()
            cleared = time.monotonic()
            recovery = {}
            for p in pools:
                while login(p, d.emulator, "lisi").outcome != "success":
                    if time.monotonic() - cleared > 60:
                        break
                    time.sleep(0.1)
                recovery[p.name] = time.monotonic() - cleared
            lost = [still_works(p, before[p.name], time.monotonic() + 30) for p in pools]
            keys_ok = all(verify_id_token(p, x.token["id_token"]) for p in pools
                          for x in before[p.name])
            with lock:
                during = result.outcomes - counted
            result.rows.append((name, during["success"], during["error_page"],
                                during["crash"] + during["hang"] + during["wrong_user"],
                                sum(x[0] for x in lost), sum(x[1] for x in lost),
                                sum(len(v) for v in before.values()), keys_ok,
                                max(recovery.values())))
        while time.monotonic() - started < min(duration, 10) and not only:
            time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=HANG + 5)
        result.outcomes["traceback"] = d.tracebacks()
        d.stop()
    print_table(result, time.monotonic() - started, users, out)
    return result


def print_table(r: Result, elapsed: float, users: int, out) -> None:
    w = out.write
    w(f"\nsoak: {users} virtual users, {elapsed:.0f} s, logins: "
      + ", ".join(f"{k} {r.outcomes[k]}" for k in (*OUTCOMES, "traceback")) + "\n\n")
    w(f"{'fault':28} {'ok':>6} {'error pg':>8} {'bad':>4} {'rt lost':>8} {'sess lost':>9} "
      f"{'sampled':>8} {'keys':>5} {'recovery s':>10}\n")
    for name, ok, err, bad, rt, se, n, keys, rec in r.rows:
        w(f"{name:28} {ok:6d} {err:8d} {bad:4d} {rt:8d} {se:9d} {n:8d} "
          f"{'ok' if keys else 'LOST':>5} {rec:10.1f}\n")
    if r.details:
        w("\nnon-successes: " + "; ".join(f"{k} x{v}" for k, v in r.details.most_common(8))
          + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=180)
    p.add_argument("--users", type=int, default=16)
    p.add_argument("--hold", type=float, default=2.0)
    p.add_argument("--workdir", default="")
    a = p.parse_args()
    import tempfile

    workdir = Path(a.workdir or tempfile.mkdtemp(prefix="wecom-oidc-soak-"))
    r = run(workdir, duration=a.duration, users=a.users, hold=a.hold)
    bad = sum(r.outcomes[k] for k in ("crash", "hang", "wrong_user", "traceback"))
    lost = sum(row[4] + row[5] for row in r.rows) + sum(not row[7] for row in r.rows)
    slow = [row[0] for row in r.rows if row[8] >= 5]
    return 1 if bad or lost or slow else 0


if __name__ == "__main__":
    sys.exit(main())
