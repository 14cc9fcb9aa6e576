"""`python -m wecom_oidc.ops.probe [--ready]`: the container HEALTHCHECK.

GETs /healthz (or /readyz with --ready) of the bridge on this host, on the port of
[server] bind and below the issuer's path; exit 0 on HTTP 200, else 1. Standard
library only: the image has no curl.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request

from ..config import load_settings


def probe_url(bind: str, issuer_path: str, ready: bool) -> str:
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    target = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in target:
        target = f"[{target}]"
    return f"http://{target}:{port}{issuer_path}/{'readyz' if ready else 'healthz'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wecom_oidc.ops.probe")
    parser.add_argument("--ready", action="store_true", help="probe /readyz, not /healthz")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        url = probe_url(settings.server.bind, settings.issuer_path, args.ready)
        with urllib.request.urlopen(url, timeout=4) as resp:  # noqa: S310 - our own URL
            return 0 if resp.status == 200 else 1
    except Exception as e:  # unhealthy, whatever the reason; say it for `docker inspect`
        print(f"unhealthy: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
