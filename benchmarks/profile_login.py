"""`make profile`: where a login's CPU goes, before anything is optimised.

Runs N complete logins in this process (the bridge app through Flask's test client, on
SQLite; the WeCom emulator under serve's server in another process, so its CPU is not counted)
and prints the CPU time per endpoint and per request hook, then, with `--top K`, the K
functions with the most CPU of their own (cProfile with a CPU clock; its overhead
inflates the absolute figures, the order is what to read).

    python benchmarks/profile_login.py [--logins 300] [--top 25] [--store URL]

`--store redis://127.0.0.1:6379/15` runs the same logins on that Redis (keys under a fresh
key_prefix, deleted afterwards) instead of a temporary SQLite file.

Instructions (steady on a shared machine): under valgrind with `--callgrind`, as
benchmarks/profile_token.py explains; divide the `totals:` of the out file by N.

No server and no sockets to the bridge: the server's share is `make bench`'s (h).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from conftest import EMULATOR_UNDER_SERVE  # noqa: E402
from e2e.stack import bridge_config, free_port, wait_http  # noqa: E402
from profile_token import measured  # noqa: E402
from test_bench_login import AUTHORIZE, BASIC, VERIFIER, WEB_REDIRECT  # noqa: E402

CALLBACK = "http://127.0.0.1:8000/wecom/callback"


class Cpu:
    """CPU seconds per label."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)

    def timed(self, label: str, f: Callable[[], Any]) -> Any:
        started = time.process_time()
        try:
            return f()
        finally:
            self.spent[label] += time.process_time() - started

    def wrap(self, label: str, f: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *a, **k: self.timed(label, lambda: f(*a, **k))


def login(app: Any, code: str, cpu: Cpu) -> None:
    client = app.test_client()
    to_wecom = cpu.timed("authorize", lambda: client.get(AUTHORIZE))
    state = parse_qs(urlsplit(to_wecom.headers["Location"]).query)["state"][0]
    back = cpu.timed("callback", lambda: client.get(f"/wecom/callback?code={code}&state={state}"))
    our_code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": our_code, "redirect_uri": WEB_REDIRECT,
            "code_verifier": VERIFIER}
    token = cpu.timed("token", lambda: client.post(
        "/token", headers={"Authorization": BASIC}, data=form).get_json())
    info = cpu.timed("userinfo", lambda: client.get(
        "/userinfo", headers={"Authorization": "Bearer " + token["access_token"]}))
    assert info.status_code == 200, info.status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--top", type=int, default=0, help="also the K costliest functions")
    parser.add_argument("--callers", help="with --top: who calls functions matching this")
    parser.add_argument("--dump", help="with --top: write the pstats file here")
    parser.add_argument("--callgrind", action="store_true",
                        help="under valgrind (--instr-atstart=no): instrument the logins only")
    parser.add_argument("--store", help="a Redis store URL instead of a temporary SQLite file")
    args = parser.parse_args()

    import secrets
    import subprocess

    import requests

    from wecom_oidc.app import create_app
    from wecom_oidc.config import load_settings

    port = free_port()
    emulator = subprocess.Popen([sys.executable, "-c", EMULATOR_UNDER_SERVE, str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/_emulator/calls", emulator)
        http = requests.Session()

        def mint() -> str:
            r = http.post(f"{url}/_emulator/login", json={
                "userid": "zhangsan", "redirect_uri": CALLBACK, "scope": "snsapi_base",
                "mode": "web"})
            r.raise_for_status()
            return str(r.json()["code"])

        with tempfile.TemporaryDirectory(prefix="wecom-oidc-profile-") as tmp:
            work = Path(tmp)
            config = bridge_config(8000, url, work)
            if args.store:
                from wecom_oidc.oidc.keys import generate_key

                generate_key(work / "keys")  # a shared store never makes its own key
                sep = "&" if "?" in args.store else "?"
                prefix = f"profile-{secrets.token_hex(4)}:"
                config = config.replace(f'url = "sqlite:///{work}/bridge.db"',
                                        f'url = "{args.store}{sep}key_prefix={prefix}"')
            (work / "bridge.toml").write_text(config, encoding="utf-8")
            app = create_app(load_settings(str(work / "bridge.toml"), env={}))
            for _ in range(20):  # warm: imports, the WeCom token, pooled connections
                login(app, mint(), Cpu())
            cpu = Cpu()
            for table in (app.before_request_funcs, app.after_request_funcs):
                for funcs in table.values():
                    funcs[:] = [cpu.wrap("hook " + getattr(f, "__qualname__", repr(f)), f)
                                for f in funcs]
            codes = [mint() for _ in range(args.logins)]
            profiler = cProfile.Profile(time.process_time) if args.top else None
            total = measured(lambda: [login(app, code, cpu) for code in codes], profiler,
                             args.callgrind)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        if args.store:
            _drop_prefix(args.store, prefix)
    n = args.logins
    print(f"CPU per login, in process (no server, no sockets to the bridge): "
          f"{1000 * total / n:.2f} ms over {n} logins"
          + (" (cProfile on: inflated)" if profiler else ""))
    for label, spent in sorted(cpu.spent.items(), key=lambda kv: -kv[1]):
        print(f"  {1000 * spent / n:7.3f} ms  {label}")
    if profiler:
        stats = pstats.Stats(profiler).sort_stats("tottime")
        if args.dump:
            stats.dump_stats(args.dump)
        stats.print_stats(args.top)
        if args.callers:
            stats.print_callers(args.callers)
    return 0


def _drop_prefix(url: str, prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(url)
    keys = list(r.scan_iter(match=prefix + "*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i:i + 500])


if __name__ == "__main__":
    sys.exit(main())
