"""Where WeCom's latency costs: `run.py`'s (b) phases at 0 ms and at +N ms in turns, with
the CPU per login of every process on the machine's cores (the bridge, the WeCom
emulator, Redis, this load driver) and the share of the cores left idle.

    python benchmarks/latency_cpu.py [--store redis] [--rounds 3] [--users 64,256]
                                      [--seconds 6] [--wecom-ms 100]

The driver's work per login does not depend on the bridge or its store: when its CPU per
login moves between the phases as much as the bridge's does, the machine moved (how
often its cores idle and wake, what else runs), not a code path of the bridge. A phase
whose cores never idle is CPU-bound: its throughput is the cores over the CPU per login.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402
import servers  # noqa: E402
from run import REDIS_URL, Bench, _drop_prefix  # noqa: E402

PROCESSES = ("bridge", "emulator", "redis", "driver")


def _cores() -> tuple[int, int]:
    """(idle, total) clock ticks of every core since boot."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return ticks[3], sum(ticks[:8])


def _redis_pid() -> int | None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def phase(b: Bench, users: int, wecom_ms: int, redis_pid: int | None) -> dict[str, float]:
    b.latency(wecom_ms)
    marks: dict[bool, tuple] = {}

    def on_window(opening: bool) -> None:
        cpu = (b.bridge.cpu(), b.emulator.cpu() if b.emulator else 0.0,
               servers.cpu_seconds(redis_pid) if redis_pid else 0.0,
               servers.cpu_seconds(os.getpid()))
        marks[opening] = (cpu, _cores())

    async def op(http, u, i):
        await load.qr_login(http, b.target, load.PEOPLE[(u + i) % len(load.PEOPLE)])

    result = asyncio.run(load.run_users(op, users, seconds=b.seconds, on_window=on_window))
    (c0, (idle0, all0)), (c1, (idle1, all1)) = marks[True], marks[False]
    n = len(result.durations) or 1
    out = {name: 1000 * (after - before) / n
           for name, before, after in zip(PROCESSES, c0, c1, strict=True)}
    out.update(rate=result.rate, idle=100 * (idle1 - idle0) / max(1, all1 - all0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="redis", choices=("redis", "sqlite"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", default="64")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--wecom-ms", type=int, default=100)
    args = parser.parse_args()
    users = [int(n) for n in args.users.split(",")]
    with tempfile.TemporaryDirectory(prefix="wecom-oidc-latency-") as tmp:
        work = Path(tmp)
        port = servers.free_port()
        emulator = servers.start_emulator(work, port)
        prefix = f"bench-{secrets.token_hex(4)}:"
        on_redis = args.store == "redis"
        store_url = f"{REDIS_URL}?key_prefix={prefix}" if on_redis else f"sqlite:///{work}/b.db"
        bridge = servers.start_bridge(work, port, emulator.url, store_url, [])
        b = Bench(bridge, emulator, args.seconds)
        try:
            b.logins_phase("warm-up", 4, count=200)
            redis_pid = _redis_pid() if on_redis else None
            print(f"{args.store}: CPU ms per login of each process; +{args.wecom_ms} ms "
                  "against the 0 ms phase just before it")
            for _ in range(args.rounds):
                for n in users:
                    base = phase(b, n, 0, redis_pid)
                    slow = phase(b, n, args.wecom_ms, redis_pid)
                    for label, p in ((f"{n} users 0 ms", base),
                                     (f"{n} users +{args.wecom_ms} ms", slow)):
                        print(f"  {label:18s} {p['rate']:6.1f}/s  idle {p['idle']:4.1f} %  "
                              + "  ".join(f"{k} {p[k]:5.2f}" for k in PROCESSES if p[k]))
                    print(f"  {'ratio':18s} {slow['rate'] / base['rate']:6.2f}            "
                          + "  ".join(f"{k} {slow[k] / base[k]:5.2f}"
                                      for k in PROCESSES if base[k]), flush=True)
        finally:
            b.latency(0)
            bridge.stop()
            emulator.stop()
            if on_redis:
                _drop_prefix(prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
