"""`wecom-oidc login --device`: sign in from a terminal with the device grant
(RFC 8628). The QR code of verification_uri_complete goes to the terminal
(stderr), the person scans it with WeCom and taps Approve, and the tokens are
printed as JSON on stdout, so `TOKENS=$(wecom-oidc login --device ...)` works.

A client of the bridge like any other: it reads discovery, and polls the token
endpoint with Authlib's OAuth2Session, keeping the interval (+5 s per slow_down).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import requests
import segno
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
TIMEOUT = 10


class DeviceLoginError(Exception):
    """The login did not give tokens; the message says why, for a person."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("login", help="sign in from this terminal by scanning a QR code "
                                     "with WeCom (device grant) and print the tokens")
    p.add_argument("--device", action="store_true", required=True,
                   help="use the device authorization grant (RFC 8628)")
    p.add_argument("--client-id", required=True, help="a client whose grant_types include "
                                                      "the device grant")
    p.add_argument("--client-secret-file", help="the client's secret, for a confidential "
                                                "client (omit for a public one)")
    p.add_argument("--issuer", help="the bridge's issuer URL (default: issuer of --config)")
    p.add_argument("--scope", default="openid profile", help='default: "openid profile"')
    p.add_argument("--output", choices=["json", "id_token", "access_token"], default="json",
                   help="what to print on stdout (default: the token response as JSON)")


def run(args: argparse.Namespace, issuer_from_config: Callable[[], str]) -> int:
    issuer = (args.issuer or issuer_from_config()).rstrip("/")
    secret = None
    if args.client_secret_file:
        secret = Path(args.client_secret_file).read_text(encoding="utf-8").strip()
    try:
        token = device_login(issuer, args.client_id, secret, args.scope)
    except DeviceLoginError as e:
        print(f"wecom-oidc login: {e}", file=sys.stderr)
        return 1
    if args.output == "json":
        print(json.dumps(token, indent=2))
    else:
        print(token[args.output])
    return 0


def device_login(issuer: str, client_id: str, client_secret: str | None, scope: str, *,
                 out: TextIO | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Run the whole device login; returns the token response."""
    out = out or sys.stderr
    session = OAuth2Session(client_id, client_secret, scope=scope, token_endpoint_auth_method=(
        "client_secret_basic" if client_secret else "none"))
    try:
        meta = _json(session.get(f"{issuer}/.well-known/openid-configuration",
                                 timeout=TIMEOUT, withhold_token=True))
        endpoint = meta.get("device_authorization_endpoint")
        if not endpoint:
            raise DeviceLoginError(f"{issuer} does not offer the device grant (no "
                                   "device_authorization_endpoint in its discovery).")
        form = {"scope": scope} if client_secret else {"client_id": client_id, "scope": scope}
        auth = (client_id, client_secret) if client_secret else None
        started = _json(session.post(endpoint, data=form, auth=auth, timeout=TIMEOUT,
                                     withhold_token=True))
        show(started, out)
        return poll(session, meta["token_endpoint"], started, sleep=sleep, clock=clock)
    except requests.RequestException as e:
        raise DeviceLoginError(f"cannot reach {issuer}: {e}") from None


def show(started: dict[str, Any], out: TextIO) -> None:
    """The QR code, the link and the code to compare with the confirmation page."""
    link = started.get("verification_uri_complete") or started["verification_uri"]
    print("Scan with WeCom (企业微信扫码登录):", file=out)
    # Light modules as blocks: reads on the usual dark terminal background.
    segno.make(link, error="l").terminal(out=out, compact=True, border=2)
    print(f"Or open {started['verification_uri']} and enter the code "
          f"{started['user_code']}", file=out)
    print(f"Code / 验证码: {started['user_code']}", file=out, flush=True)


def poll(session: OAuth2Session, token_endpoint: str, started: dict[str, Any], *,
         sleep: Callable[[float], None], clock: Callable[[], float]) -> dict[str, Any]:
    """Poll until approved, denied or expired (RFC 8628 §3.4, §3.5)."""
    interval = int(started.get("interval") or 5)
    deadline = clock() + int(started["expires_in"])
    while clock() < deadline:
        sleep(interval)
        try:
            return dict(session.fetch_token(token_endpoint, grant_type=DEVICE_CODE,
                                            device_code=started["device_code"],
                                            timeout=TIMEOUT))
        except OAuthError as e:
            if e.error == "authorization_pending":
                continue
            if e.error == "slow_down":
                interval += 5
                continue
            if e.error == "access_denied":
                raise DeviceLoginError("the sign-in was denied.") from None
            if e.error == "expired_token":
                break
            raise DeviceLoginError(f"{e.error}: {e.description or ''}".rstrip(": ")) from None
    raise DeviceLoginError("the code expired before it was approved; run the command again.")


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        raise DeviceLoginError(f"{resp.url} answered {resp.status_code}, not JSON.") from None
    if resp.status_code != 200 or not isinstance(body, dict):
        error = body.get("error_description") or body.get("error") if isinstance(
            body, dict) else body
        raise DeviceLoginError(f"{resp.url} answered {resp.status_code}: {error}")
    return body
