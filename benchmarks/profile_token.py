"""Where a code exchange's or a /userinfo call's CPU goes, in this process.

Mints codes from a bridge session (no WeCom: the session is started directly), then
runs N operations through Flask's test client on SQLite, with the per-request hooks
and the rate limits on (raised far above the load, as in `make bench`):

    python benchmarks/profile_token.py token 500            # CPU ms per exchange
    python benchmarks/profile_token.py userinfo 500 --top 25
    python benchmarks/profile_token.py token-opaque 500 --top 25

Modes: token, token-opaque (a client with access_token_format = "opaque"), userinfo,
userinfo-opaque (N calls with one access token), healthz (the floor of this loop).
`--top K` prints Python calls per operation and cProfile's K costliest functions
(`--sort cumulative` for inclusive costs); `--direct` calls the WSGI app as a server
does (token modes), without the test client's own work in the figures.

Instructions, which neighbours on a shared machine do not move: run it under
valgrind with `--callgrind`, which switches instrumentation on around the loop only,

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=cg.out \\
        .venv/bin/python benchmarks/profile_token.py token 200 --callgrind

and divide the `totals:` line of cg.out by N.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]

from e2e.stack import CONFIDENTIAL, WEB_REDIRECT, bridge_config  # noqa: E402
from servers import limits_config  # noqa: E402

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
OPAQUE = "webapp-opaque"


def config(workdir: Path) -> str:
    extra = f"""
[[clients]]
client_id = "{OPAQUE}"
client_secret = "{CONFIDENTIAL[1]}"
redirect_uris = ["{WEB_REDIRECT}"]
access_token_format = "opaque"

{limits_config(enabled=True)}"""
    # The WeCom URLs are never called: the session is started without a WeCom login.
    return bridge_config(8000, "http://127.0.0.1:9", workdir, extra)


def operations(app: Any, client_id: str) -> tuple[Callable[[], str], Callable[[str], Any],
                                                   Callable[[str], Any]]:
    """mint() -> code, exchange(code) -> token response, userinfo(access_token)."""
    from wecom_oidc.identity import Identity
    from wecom_oidc.web.current import PROVIDER

    provider = app.extensions[PROVIDER]
    user = provider.user_for(Identity(subject="zhangsan", name="Zhang San"))
    session = provider.sessions.start(sub=user.sub, claims=user.claims, identity=user.identity,
                                      auth_time=user.auth_time, client_id=client_id)
    http = app.test_client()
    http.set_cookie(provider.settings.session.cookie_name, session.cookie, domain="localhost")
    basic = "Basic " + base64.b64encode(f"{client_id}:{CONFIDENTIAL[1]}".encode()).decode()
    authorize = (f"/authorize?response_type=code&client_id={client_id}"
                 f"&scope=openid+profile+email&redirect_uri={WEB_REDIRECT}&state=s1&nonce=n1"
                 f"&code_challenge={CHALLENGE}&code_challenge_method=S256")

    def mint() -> str:
        resp = http.get(authorize)
        assert resp.status_code == 302, resp.status_code
        return parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]

    def exchange(code: str) -> Any:
        resp = http.post("/token", headers={"Authorization": basic}, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": WEB_REDIRECT,
            "code_verifier": VERIFIER})
        assert resp.status_code == 200, resp.status_code
        return resp.get_json()

    def userinfo(access_token: str) -> Any:
        resp = http.get("/userinfo", headers={"Authorization": "Bearer " + access_token})
        assert resp.status_code == 200, resp.status_code
        return resp

    return mint, exchange, userinfo


def direct_exchange(app: Any, client_id: str) -> Callable[[str], Any]:
    """exchange(code) as a WSGI server calls the bridge (an environ, start_response),
    without the test client's own work: the bridge's cost alone."""
    basic = "Basic " + base64.b64encode(f"{client_id}:{CONFIDENTIAL[1]}".encode()).decode()
    wsgi = app.wsgi_app
    base = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/token",
            "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "HTTP_HOST": "127.0.0.1:8080",
            "HTTP_AUTHORIZATION": basic, "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False}
    status: list[str] = []

    def start_response(line: str, headers: Any, exc_info: Any = None) -> None:
        status.append(line)

    def exchange(code: str) -> Any:
        body = urlencode({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": WEB_REDIRECT, "code_verifier": VERIFIER}).encode()
        environ = {**base, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        answer = b"".join(wsgi(environ, start_response))
        assert status.pop() == "200 OK", answer
        return answer

    return exchange


def callgrind(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   check=True, stdout=subprocess.DEVNULL)


def measured(run: Callable[[], Any], profiler: cProfile.Profile | None,
             under_callgrind: bool) -> float:
    """CPU seconds of run(), with cProfile and callgrind's instrumentation (when asked)
    on around it only."""
    if under_callgrind:
        callgrind(True)
    started = time.process_time()
    if profiler:
        profiler.enable()
    run()
    if profiler:
        profiler.disable()
    spent = time.process_time() - started
    if under_callgrind:
        callgrind(False)
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["token", "token-opaque", "userinfo",
                                         "userinfo-opaque", "healthz"])
    parser.add_argument("n", type=int, nargs="?", default=500)
    parser.add_argument("--top", type=int, default=0, help="cProfile's K costliest functions")
    parser.add_argument("--direct", action="store_true",
                        help="token modes: call the WSGI app as a server does, no test client")
    parser.add_argument("--sort", default="tottime", help="cProfile's order for --top")
    parser.add_argument("--callgrind", action="store_true",
                        help="under valgrind: instrument the loop only")
    args = parser.parse_args()

    from wecom_oidc.app import create_app
    from wecom_oidc.config import load_settings

    with tempfile.TemporaryDirectory(prefix="wecom-oidc-profile-") as tmp:
        work = Path(tmp)
        (work / "bridge.toml").write_text(config(work), encoding="utf-8")
        app = create_app(load_settings(str(work / "bridge.toml"), env={}))
        client_id = OPAQUE if args.mode.endswith("opaque") else CONFIDENTIAL[0]
        mint, exchange, userinfo = operations(app, client_id)
        for _ in range(30):  # warm: imports, connections, caches
            userinfo(exchange(mint())["access_token"])
        op: Callable[[Any], Any]
        if args.mode == "healthz":
            http = app.test_client()
            items: list[Any] = [None] * args.n
            op = lambda _: http.get("/healthz")  # noqa: E731
        elif args.mode.startswith("token"):
            items = [mint() for _ in range(args.n)]
            op = direct_exchange(app, client_id) if args.direct else exchange
        else:
            items, op = [exchange(mint())["access_token"]] * args.n, userinfo
        profiler = cProfile.Profile() if args.top else None
        spent = measured(lambda: [op(item) for item in items], profiler, args.callgrind)
    print(f"{args.mode}: {1000 * spent / args.n:.3f} ms CPU per operation over {args.n}"
          + (" (cProfile on: inflated)" if profiler else ""))
    if profiler:
        stats = pstats.Stats(profiler)
        print(f"Python calls per operation: {stats.total_calls / args.n:.0f}")  # type: ignore[attr-defined]
        stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
