"""Two bridge replicas sharing one Redis store and one keys folder, as behind a load
balancer (N stateless replicas + Redis): each is `wecom-oidc serve` with
2 workers, on its own loopback port. There is no balancer here: the tests choose the
replica for every request, which is the worst a balancer could do.

Both replicas have the same issuer (replica A's URL), as they would behind one balancer
name; the WeCom emulator sends the browser back to A, and a test moves that callback to B.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import requests
from e2e.stack import (
    DESKTOP_UA,
    RelyingParty,
    Stack,
    bridge_config,
    browser,
    follow_to_client,
    free_port,
    wait_http,
)

from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve
from wecom_oidc.oidc.keys import generate_key

WORKERS = 2


def replica_config(issuer_port: int, emulator_url: str, workdir: Path, store_url: str,
                   keys_dir: Path, extra: str = "") -> str:
    """e2e's bridge config with the shared store and keys folder swapped in."""
    text = bridge_config(issuer_port, emulator_url, workdir, extra)
    text, stores = re.subn(r'(?m)^url = "sqlite:///.*"$', f'url = "{store_url}"', text)
    text, dirs = re.subn(r'(?m)^dir = ".*"$', f'dir = "{keys_dir}"', text)
    assert stores == 1 and dirs == 1, "e2e.stack.bridge_config changed shape"
    return text


def shared_keys(workdir: Path) -> Path:
    """The keys folder every replica mounts, generated beforehand (as an admin would)."""
    keys = workdir / "shared-keys"
    generate_key(keys)
    return keys


def start_replica(config: Path, port: int, log_path: Path) -> tuple[subprocess.Popen, object]:
    log = open(log_path, "wb")  # noqa: SIM115 - closed by Stack.stop with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "wecom_oidc.cli", "--config", str(config), "serve",
         "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--threads", "4"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, log


def start_replicas(workdir: Path, store_url: str, keys_dir: Path,
                   count: int = 2, extra: str = "") -> tuple[Stack, list[str]]:
    """The emulator in a thread and `count` replicas; Stack.bridge_url is replica A.
    `extra` is appended to every replica's config."""
    ports = [free_port() for _ in range(count)]
    server, emulator_url = serve(EmulatorConfig(trusted_domains=[f"127.0.0.1:{ports[0]}"]))
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    stack = Stack(urls[0], emulator_url, workdir, servers=[server])
    try:
        for i, port in enumerate(ports):
            config = workdir / f"replica-{i}.toml"
            config.write_text(replica_config(ports[0], emulator_url, workdir, store_url,
                                             keys_dir, extra), encoding="utf-8")
            proc, log = start_replica(config, port, workdir / f"replica-{i}.log")
            stack.procs.append(proc)
            stack.files.append(log)
        for proc, url in zip(stack.procs, urls, strict=True):
            wait_http(url + "/healthz", proc)
    except Exception:
        stack.stop()
        raise
    return stack, urls


def on(url: str, base: str) -> str:
    """`url` sent to the replica at `base` instead (same path and query)."""
    target = urlsplit(base)
    return urlunsplit(urlsplit(url)._replace(scheme=target.scheme, netloc=target.netloc))


def hop_login(stack: Stack, first: str, second: str, userid: str = "zhangsan",
              session: requests.Session | None = None) -> tuple[dict, dict, dict]:
    """A QR login whose steps alternate: authorize on `first`, WeCom callback on `second`,
    token on `first`, userinfo on `second`. Returns (token, ID token claims, userinfo);
    Authlib's client validates the ID token (signature via A's JWKS, iss, aud, nonce)."""
    rp = RelyingParty(stack)
    rp.client.access_token_url = first + "/token"
    started = rp.start()
    b = session or browser(DESKTOP_UA)
    to_wecom = b.get(on(started["url"], first), allow_redirects=False)
    assert to_wecom.status_code == 302, to_wecom.text
    page = urlsplit(to_wecom.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(page.query).items()}
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": userid}), allow_redirects=False)
    assert scanned.status_code == 302, scanned.text
    back = follow_to_client(b, on(scanned.headers["Location"], second))
    query = parse_qs(urlsplit(back).query)
    assert query["state"] == [started["state"]], back
    with rp.app.app_context():
        token = rp.client.fetch_access_token(
            redirect_uri=rp.redirect_uri, code=query["code"][0],
            code_verifier=started.get("code_verifier"))
        claims = rp.client.parse_id_token(token, nonce=started["nonce"])
        userinfo = rp.client.get(second + "/userinfo", token=token)
    assert userinfo.status_code == 200, userinfo.text
    return token, dict(claims), userinfo.json()
