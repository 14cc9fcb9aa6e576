"""`make bench`: the bridge under load, as deployed (`wecom-oidc serve` + the WeCom
emulator), driven over loopback HTTP by this process; prints one table per store and
whether each target of issue 11 is met.

    python benchmarks/run.py [--stores sqlite,redis] [--seconds 8] [--smoke]
                             [--serve-args "--workers 2 --threads 8"]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402
import servers  # noqa: E402

PAGES = ("wwlogin/", "wwopen/", "connect/")
# The WeCom page every login opens once: the QR page, or in the app the OAuth page.
ENTRY_PAGES = ("wwlogin/sso/login", "connect/oauth2/authorize")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass
class Phase:
    name: str
    result: load.Result
    cpu: float = 0.0  # bridge CPU seconds inside the window
    emu_cpu: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)  # emulator API calls in the window
    wecom_ms: int = 0
    # Emulator calls over the whole phase, ramp and drain included: no login is in
    # flight at either end, so these are whole logins' calls.
    all_calls: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.result.durations)

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.n if self.n else float("nan")

    def api_calls_per_op(self) -> float:
        """WeCom API calls per login: over the whole phase, per login that opened
        WeCom's page (counted in a window, the logins in flight at its edges would make
        +-1 login's calls in a 20-login window, 10 ms of the added latency)."""
        calls = self.all_calls or self.calls
        total = sum(v for k, v in calls.items() if not k.startswith(PAGES))
        entered = sum(calls.get(k, 0) for k in ENTRY_PAGES) or self.n
        return total / entered if entered else float("nan")

    def added_ms(self, p: float, *, pages: bool = False) -> float:
        """Login time minus the time spent at WeCom: its API calls (x the latency given
        them) and its pages (the QR page and the scan, as the driver timed them; with
        `pages`, those count as added)."""
        wait = self.api_calls_per_op() * self.wecom_ms / 1000
        return 1000 * (self.result.pct(p, inside=not pages) - wait)


class Bench:
    def __init__(self, bridge: servers.Server, emulator: servers.Server | None,
                 seconds: float):
        self.bridge, self.emulator, self.seconds = bridge, emulator, seconds
        self.target = load.Target(bridge.url, emulator.url if emulator else "")
        self.logins = 0
        self.trace: aiohttp.TraceConfig | None = None  # latency_trace.py's hooks
        self.window_ns: dict[bool, int] = {}  # the last measured window (monotonic)

    def emu(self, method: str, path: str, **body) -> dict:
        r = requests.request(method, f"{self.emulator.url}/_emulator/{path}",
                             json=body or None, timeout=10)
        r.raise_for_status()
        return r.json()

    def phase(self, name: str, op: load.Op, users: int, *, count: int | None = None,
              wecom_ms: int = 0, server: servers.Server | None = None) -> Phase:
        server = server or self.bridge
        marks: dict[bool, tuple] = {}

        def on_window(opening: bool) -> None:
            self.window_ns[opening] = time.monotonic_ns()
            if self.emulator is None:
                marks[opening] = (server.cpu(), 0.0, {})
            else:
                marks[opening] = (server.cpu(), self.emulator.cpu(), self.emu("GET", "calls"))

        before = self.emu("GET", "calls") if self.emulator else {}
        result = asyncio.run(load.run_users(
            op, users, seconds=None if count else self.seconds, count=count,
            on_window=on_window, trace=self.trace))
        after = self.emu("GET", "calls") if self.emulator else {}
        (c0, e0, k0), (c1, e1, k1) = marks[True], marks[False]
        phase = Phase(name, result, c1 - c0, e1 - e0, _delta(k0, k1), wecom_ms,
                      _delta(before, after))
        if result.errors:
            print(f"  {name}: {len(result.errors)} errors, first: {result.errors[0]}",
                  file=sys.stderr)
        return phase

    def logins_phase(self, name: str, users: int, *, inapp: bool = False,
                     count: int | None = None, wecom_ms: int = 0) -> Phase:
        flow = load.inapp_login if inapp else load.qr_login

        async def op(http, u, i):
            wecom: list[float] = []
            await flow(http, self.target, load.PEOPLE[(u + i) % len(load.PEOPLE)], wecom)
            return sum(wecom)

        phase = self.phase(name, op, users, count=count, wecom_ms=wecom_ms)
        self.logins += phase.n + len(phase.result.errors)
        return phase

    def latency(self, ms: int) -> None:
        self.emu("POST", "latency", api="*", ms=ms)

    def code_exchange(self, users: int, per_user: int,
                      client_id: str = "webapp") -> tuple[Phase, list[str]]:
        """Codes minted first from bridge sessions (no WeCom), then only exchanged."""
        target = load.Target(self.target.bridge, self.target.emulator, client_id)
        codes: list[list[tuple[str, str]]] = [[] for _ in range(users)]
        sessions: list = []

        async def mint() -> None:
            for u in range(users):
                http = load.new_session(1)
                sessions.append(http)
                await load.qr_login(http, target, load.PEOPLE[u % len(load.PEOPLE)])

            async def user_codes(u: int) -> None:
                for _ in range(per_user):
                    codes[u].append(await load.sso_code(sessions[u], target))

            await asyncio.gather(*(user_codes(u) for u in range(users)))
            for s in sessions:
                await s.close()

        asyncio.run(mint())
        pool = [c for per in codes for c in per]
        tokens: list[str] = []

        async def op(http, u, i):
            code, verifier = pool.pop()
            tokens.append((await load.exchange(http, target, code, verifier))
                          ["access_token"])

        return self.phase(f"code exchange {client_id}", op, users, count=users * per_user), tokens


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


@dataclass
class Stack:
    """The emulator and the bridge on one store, and what restarting the bridge or
    cleaning up after them needs."""

    bridge: servers.Server
    emulator: servers.Server
    port: int
    store_url: str
    prefix: str  # the Redis keys' prefix (deleted by stop())

    def stop(self) -> None:
        self.bridge.stop()
        self.emulator.stop()
        if self.store_url.startswith("redis"):
            _drop_prefix(self.prefix)


def start_stack(store: str, workdir: Path, serve_args: str) -> Stack:
    """The emulator, then the bridge under `wecom-oidc serve` with `serve_args`, on
    `store` ("sqlite": a file in workdir; "redis": keys under a fresh prefix)."""
    port = servers.free_port()
    emulator = servers.start_emulator(workdir, port)
    prefix = f"bench-{secrets.token_hex(4)}:"
    store_url = (f"sqlite:///{workdir}/bridge.db" if store == "sqlite"
                 else f"{REDIS_URL}?key_prefix={prefix}")
    try:
        bridge = servers.start_bridge(workdir, port, emulator.url, store_url,
                                      shlex.split(serve_args))
    except Exception:
        emulator.stop()
        raise
    return Stack(bridge, emulator, port, store_url, prefix)


def run_store(store: str, args: argparse.Namespace, workdir: Path) -> dict:
    stack = start_stack(store, workdir, args.serve_args)
    bridge, emulator = stack.bridge, stack.emulator
    b = Bench(bridge, emulator, args.seconds)
    out: dict = {"store": store}
    try:
        u, want = args.users, set(args.only)
        b.logins_phase("warm-up", 4, count=4 * u["warm"])
        if "a" in want:
            out["a"] = b.logins_phase("QR login, WeCom 0 ms", u["a"])
            out["a_inapp"] = b.logins_phase("in-app login, WeCom 0 ms", u["a"], inapp=True)
        if "g" in want:
            out["rss1k"] = _rss_after(b, args.rss[0])
        if "b" in want:
            out["b0"] = {n: b.logins_phase(f"QR login, {n} users, WeCom 0 ms", n)
                         for n in u["b"][2:]}
            b.latency(args.wecom_ms)
            try:
                out["b"] = {n: b.logins_phase(f"QR login, {n} users, WeCom +{args.wecom_ms} ms",
                                              n, wecom_ms=args.wecom_ms) for n in u["b"]}
            finally:
                b.latency(0)
        if want & set("cd"):
            out["c"], tokens = b.code_exchange(u["a"], u["codes"])

            async def info(http, uu, i):
                await load.userinfo(http, b.target, tokens[(uu * 7 + i) % len(tokens)])

            out["d"] = b.phase("userinfo", info, u["a"])
            # The same with opaque access tokens (access_token_format = "opaque").
            out["c_opaque"], opaque = b.code_exchange(u["a"], u["codes"], "webapp-opaque")

            async def info_opaque(http, uu, i):
                await load.userinfo(http, b.target, opaque[(uu * 7 + i) % len(opaque)])

            out["d_opaque"] = b.phase("userinfo opaque", info_opaque, u["a"])

        async def disco(http, uu, i):
            path = "/jwks.json" if i % 2 else "/.well-known/openid-configuration"
            async with http.get(b.target.bridge + path) as r:
                await r.read()
                if r.status != 200:
                    raise load.Failed(f"{path}: {r.status}")

        if "e" in want:
            out["e"] = b.phase("discovery + JWKS", disco, u["a"])
        if "g" in want and (args.rss_all_stores or store == args.stores.split(",")[0]):
            out["rss10k"] = _rss_after(b, args.rss[1])
        out["gettoken"] = b.emu("GET", "calls").get("gettoken", 0)
        out["workers"] = len(bridge.workers())
        if "a" in want:  # what the rate-limit counters cost: the same logins without them
            bridge.stop()
            bridge = servers.start_bridge(workdir, stack.port, emulator.url, stack.store_url,
                                          shlex.split(args.serve_args), limits=False)
            b.bridge = stack.bridge = bridge
            b.logins_phase("warm-up", 4, count=4 * u["warm"])
            out["a_nolimits"] = b.logins_phase("QR login, [limits] off", u["a"])
    finally:
        stack.stop()
    return out


def _rss_after(b: Bench, logins: int) -> tuple[int, list[float]]:
    if b.logins < logins:
        b.logins_phase("logins for RSS", 32, count=logins - b.logins)
    return b.logins, b.bridge.rss()


def _drop_prefix(prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=prefix + "*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i:i + 500])


def run_ceiling(args: argparse.Namespace, workdir: Path, bare: bool = False) -> Phase:
    """The same users and round trips a login makes to the bridge (4), on a Flask app
    that answers constants (`bare`: a plain WSGI callable, the server alone)."""
    ceiling = servers.start_ceiling(workdir, shlex.split(args.serve_args)
                                    + (["--bare"] if bare else []))
    b = Bench(ceiling, None, args.seconds)

    async def op(http, u, i):
        base = ceiling.url
        for path in ("/authorize", "/wecom/callback"):
            async with http.get(base + path, allow_redirects=False) as r:
                await r.read()
        async with http.post(base + "/token", data={"code": "c"}) as r:
            await r.read()
        async with http.get(base + "/userinfo") as r:
            await r.read()

    try:
        return b.phase("bare ceiling" if bare else "ceiling", op, args.users["a"],
                       server=ceiling)
    finally:
        ceiling.stop()


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f
                          if ln.startswith("model name")), "")
    except OSError:
        pass
    return (f"nproc {os.cpu_count()}, {model or platform.processor()}, "
            f"Python {platform.python_version()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measured phase")
    parser.add_argument("--wecom-ms", type=int, default=100)
    parser.add_argument("--serve-args", default="",
                        help="extra `wecom-oidc serve` options (default: its own defaults)")
    parser.add_argument("--rss-logins", default="1000,10000",
                        help="read worker RSS after this many logins (two numbers)")
    parser.add_argument("--rss-all-stores", action="store_true",
                        help="the second RSS reading on every store (default: the first)")
    parser.add_argument("--only", default="abcdefgh",
                        help="letters of the parts to run (default all: abcdefgh)")
    parser.add_argument("--smoke", action="store_true",
                        help="a few logins through every phase; no figures judged")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds = 0.5
        args.users = {"warm": 1, "a": 2, "b": [1, 2, 3, 4], "codes": 2}
        args.rss = (30, 40)
    else:
        # (b) at 1 user: the floor of the added latency (each step alone on an idle
        # machine, the driver's own time included), for reading the 16-user figure.
        # (c): 32 x 100 codes, some 4 s of exchanges per figure (1,280 took under 2 s,
        # short enough for the CPU clock's ticks and the machine's drift to move it 15 %).
        args.users = {"warm": 2, "a": 32, "b": [1, 16, 64, 256], "codes": 100}
        args.rss = tuple(int(n) for n in args.rss_logins.split(","))
    from report import print_report

    # Stopped (Ctrl-C, a CI timeout): unwind, so the servers started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print(f"machine: {machine()}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="wecom-oidc-bench-") as tmp:
        ceiling = ((run_ceiling(args, Path(tmp)), run_ceiling(args, Path(tmp), bare=True))
                   if "h" in args.only else None)
        for store in args.stores.split(","):
            workdir = Path(tmp) / store
            workdir.mkdir()
            print(f"running {store} ...", flush=True)
            results.append(run_store(store, args, workdir))
    errors = print_report(results, ceiling, args)
    return 1 if args.smoke and errors else 0


if __name__ == "__main__":
    sys.exit(main())
