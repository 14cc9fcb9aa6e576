"""`python -m wecom_oidc.ops.sample_app`: the demo's sample app in a container.

The same relying party as `wecom-oidc demo` (wecom_oidc.demo.app), configured from
the environment:

  DEMO_ISSUER                 the bridge's issuer, as the browser sees it
  DEMO_APP_URL                this app, as the browser sees it
  DEMO_CLIENT_ID              its client_id at the bridge (default demo-app)
  DEMO_CLIENT_SECRET_FILE     file holding its client_secret (or DEMO_CLIENT_SECRET)
  DEMO_BIND                   host:port to listen on (default 0.0.0.0:9002)
  DEMO_LOOPBACK_FORWARD       "PORT=HOST:PORT": when the issuer is http://localhost:PORT,
                              the browser reaches the proxy's published port, but inside
                              this container localhost is the container itself; this
                              forwards that loopback port to the proxy so the server-side
                              calls (discovery, token, userinfo, JWKS) use the same URLs.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
from pathlib import Path

from werkzeug.serving import make_server

from ..demo.app import DemoClientConfig, create_app

PIPE_THREAD = "loopback-pipe"


def forward(listen_port: int, target: tuple[str, int]) -> socket.socket:
    """Accept on 127.0.0.1:listen_port and pipe each connection to `target`."""
    server = socket.create_server(("127.0.0.1", listen_port))

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            # Each socket is read by one pipe, which closes it: the shutdown above ends
            # the other direction's recv, and nothing is left for the GC to close.
            src.close()

    def accept() -> None:
        while True:
            try:
                client, _ = server.accept()
                upstream = socket.create_connection(target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                if server.fileno() == -1:
                    return
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), name=PIPE_THREAD, daemon=True).start()

    threading.Thread(target=accept, name="loopback-forward", daemon=True).start()
    return server


def _secret(env: dict[str, str]) -> str:
    path = env.get("DEMO_CLIENT_SECRET_FILE")
    return Path(path).read_text(encoding="utf-8").strip() if path else env["DEMO_CLIENT_SECRET"]


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    rule = env.get("DEMO_LOOPBACK_FORWARD", "")
    if rule:
        port, _, target = rule.partition("=")
        host, _, target_port = target.rpartition(":")
        forward(int(port), (host, int(target_port)))
    app = create_app(DemoClientConfig(
        issuer=env["DEMO_ISSUER"].rstrip("/"), app_url=env["DEMO_APP_URL"].rstrip("/"),
        client_id=env.get("DEMO_CLIENT_ID", "demo-app"), client_secret=_secret(env),
        secret_key=secrets.token_hex(32)))
    host, _, port = env.get("DEMO_BIND", "0.0.0.0:9002").rpartition(":")
    server = make_server(host, int(port), app, threaded=True)
    print(f"sample app on {env['DEMO_APP_URL']} (issuer {env['DEMO_ISSUER']})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
