"""Apache httpd with mod_auth_openidc (Debian's packages `apache2` and
`libapache2-mod-auth-openidc`) protects a page that shows the member's claims; a
`requests` session with cookies logs in through it: apache -> bridge -> emulator's QR
page -> bridge callback -> apache, then logs out through mod_auth_openidc's logout URL,
which goes through the bridge's end_session.

The test writes its own httpd config into a temp dir (its own ServerRoot, PidFile,
loopback port, modules loaded by absolute path): no system config is read or touched."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import requests
from e2e.stack import browser, follow_to_client

from .conftest import APACHE
from .support import MEMBER, unavailable

FIX = ("apt-get install apache2 libapache2-mod-auth-openidc "
       "(`make test` does it when it runs as root)")
MODULE_DIRS = ("/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules")
MODULES = {
    "mpm_event_module": "mod_mpm_event.so",
    "authn_core_module": "mod_authn_core.so",
    "authz_core_module": "mod_authz_core.so",
    "authz_user_module": "mod_authz_user.so",
    "include_module": "mod_include.so",
    "auth_openidc_module": "mod_auth_openidc.so",
}
# The claims the protected page shows, as mod_auth_openidc exports them (OIDC_CLAIM_*).
SHOWN = ("REMOTE_USER", "OIDC_CLAIM_sub", "OIDC_CLAIM_preferred_username", "OIDC_CLAIM_name",
         "OIDC_CLAIM_email", "OIDC_CLAIM_email_verified", "OIDC_CLAIM_iss", "OIDC_CLAIM_groups")
# The recipe's directive. mod_auth_openidc >= 2.4.15 encodes claim values as Latin-1 by
# default (张三 would arrive as ??), "none" turns that off; before 2.4.15 values were
# never encoded and the second word is refused ("only base64url or latin1").
PASS_CLAIMS = "OIDCPassClaimsAs environment none"
PASS_CLAIMS_BEFORE_2_4_15 = "OIDCPassClaimsAs environment"
PAGE = "<html><body><dl>\n" + "".join(
    f'<dt>{v}</dt><dd id="{v}"><!--#echo var="{v}" encoding="entity" --></dd>\n'
    for v in SHOWN) + "</dl></body></html>\n"


def apache_binary() -> str:
    found = shutil.which("apache2") or shutil.which("httpd")
    for candidate in (found, "/usr/sbin/apache2", "/usr/sbin/httpd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    unavailable("the mod_auth_openidc test needs Apache httpd: no apache2 binary", FIX)


def module_dir() -> Path:
    for d in MODULE_DIRS:
        if (Path(d) / MODULES["auth_openidc_module"]).exists():
            return Path(d)
    unavailable("the mod_auth_openidc test needs mod_auth_openidc.so: not found in "
                + ", ".join(MODULE_DIRS), FIX)


def httpd_conf(root: Path, mods: Path, port: int, issuer: str) -> str:
    base = f"http://127.0.0.1:{port}"
    run_as = ""
    if os.geteuid() == 0:  # httpd started as root drops to an unprivileged user
        for user in ("www-data", "apache", "daemon", "nobody"):
            try:
                pw = pwd.getpwnam(user)
            except KeyError:
                continue
            run_as = f"User {user}\nGroup #{pw.pw_gid}\n"
            break
    loads = "".join(f"LoadModule {name} {mods / so}\n" for name, so in MODULES.items())
    return f"""
ServerRoot "{root}"
{loads}
{run_as}
ServerName 127.0.0.1
AddDefaultCharset utf-8
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
Mutex file:{root} default
ErrorLog "{root}/error.log"
LogLevel warn auth_openidc:info
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
DocumentRoot "{root}/htdocs"
<Directory "{root}/htdocs">
    Require all granted
</Directory>

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {APACHE[0]}
OIDCClientSecret {APACHE[1]}
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRedirectURI {base}/protected/redirect_uri
OIDCCryptoPassphrase {secrets.token_hex(24)}
OIDCScope "openid profile email groups"
OIDCPKCEMethod S256
OIDCRemoteUserClaim preferred_username
{PASS_CLAIMS}
OIDCDefaultLoggedOutURL {base}/loggedout.html

<Location /protected>
    AuthType openid-connect
    Require valid-user
</Location>
<Location /protected/platform>
    AuthType openid-connect
    Require claim "groups:研发中心/平台部"
</Location>
<Location /protected/finance>
    AuthType openid-connect
    Require claim "groups:财务部"
</Location>
<Directory "{root}/htdocs/protected">
    Options +Includes
    <Files "*.shtml">
        ForceType text/html
        SetOutputFilter INCLUDES
    </Files>
</Directory>
"""


class Apache:
    def __init__(self, binary: str, conf: Path, root: Path, base: str):
        self.binary, self.conf, self.root, self.base = binary, conf, root, base
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        check = subprocess.run([self.binary, "-f", str(self.conf), "-t"],
                               capture_output=True, text=True, timeout=30)
        if "unknown encoding option" in check.stderr:  # mod_auth_openidc < 2.4.15
            self.conf.write_text(self.conf.read_text(encoding="utf-8").replace(
                PASS_CLAIMS, PASS_CLAIMS_BEFORE_2_4_15), encoding="utf-8")
            check = subprocess.run([self.binary, "-f", str(self.conf), "-t"],
                                   capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"httpd config refused: {check.stderr}"
        self.proc = subprocess.Popen([self.binary, "-f", str(self.conf), "-DFOREGROUND"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                pytest.fail(f"httpd exited with {self.proc.returncode}: {out} {self.log()}")
            try:
                requests.get(self.base + "/loggedout.html", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        pytest.fail(f"httpd did not answer: {self.log()}")

    def log(self) -> str:
        p = self.root / "error.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()  # SIGTERM: httpd stops its children and removes the pid file
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def apache(interop_stack, apache_port) -> Iterator[Apache]:
    binary, mods = apache_binary(), module_dir()
    # Not below pytest's tmp dir: that one is private to us, and httpd's children run
    # as an unprivileged user that must read the pages.
    root = Path(tempfile.mkdtemp(prefix="wecom-oidc-httpd-"))
    try:
        root.chmod(0o755)
        (root / "htdocs" / "protected").mkdir(parents=True)
        (root / "htdocs").chmod(0o755)
        (root / "htdocs" / "protected").chmod(0o755)
        (root / "htdocs" / "protected" / "claims.shtml").write_text(PAGE, encoding="utf-8")
        for team in ("platform", "finance"):
            (root / "htdocs" / "protected" / team).mkdir()
            (root / "htdocs" / "protected" / team).chmod(0o755)
            (root / "htdocs" / "protected" / team / "index.html").write_text(
                f"<html><body>{team}</body></html>\n", encoding="utf-8")
        (root / "htdocs" / "loggedout.html").write_text(
            "<html><body>logged out</body></html>\n", encoding="utf-8")
        for f in (root / "htdocs").rglob("*.*html"):
            f.chmod(0o644)
        conf = root / "httpd.conf"
        conf.write_text(httpd_conf(root, mods, apache_port, interop_stack.bridge_url),
                        encoding="utf-8")
        a = Apache(binary, conf, root, f"http://127.0.0.1:{apache_port}")
        a.start()
        try:
            yield a
        finally:
            a.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def shown(page: str) -> dict[str, str]:
    import html
    import re

    return {k: html.unescape(v) for k, v in
            re.findall(r'<dd id="([^"]+)">(.*?)</dd>', page, re.S)}


def login_through_apache(stack, apache: Apache, b: requests.Session) -> requests.Response:
    """GET the protected page; follow apache -> bridge -> emulator (scan) -> bridge ->
    apache's redirect_uri -> the page, all with the one cookie jar."""
    first = b.get(apache.base + "/protected/claims.shtml", allow_redirects=False)
    assert first.status_code == 302, f"{first.status_code} {first.text[:300]} {apache.log()}"
    authorize = first.headers["Location"]
    assert authorize.startswith(stack.bridge_url + "/authorize?"), authorize
    q = parse_qs(urlsplit(authorize).query)
    assert q["client_id"] == [APACHE[0]]
    assert q["code_challenge_method"] == ["S256"] and q["code_challenge"]
    assert q["nonce"] and q["state"]
    to_wecom = b.get(authorize, allow_redirects=False)
    assert to_wecom.status_code == 302, to_wecom.text[:500]
    params = {k: v[0] for k, v in parse_qs(urlsplit(to_wecom.headers["Location"]).query).items()}
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": MEMBER}), allow_redirects=False)
    assert scanned.status_code == 302, scanned.text[:500]
    back = follow_to_client(b, scanned.headers["Location"])
    assert back.startswith(apache.base + "/protected/redirect_uri?"), back
    page = b.get(back)  # apache redeems the code, then sends the browser to the page
    assert page.status_code == 200, f"{page.status_code} {page.text[:500]} {apache.log()}"
    return page


def test_mod_auth_openidc_protected_page_shows_the_members_claims(interop_stack, apache):
    b = browser()
    page = login_through_apache(interop_stack, apache, b)
    assert page.url == apache.base + "/protected/claims.shtml"
    claims = shown(page.text)
    assert claims["REMOTE_USER"] == MEMBER  # OIDCRemoteUserClaim preferred_username
    assert claims["OIDC_CLAIM_sub"] == MEMBER
    assert claims["OIDC_CLAIM_preferred_username"] == MEMBER
    assert claims["OIDC_CLAIM_iss"] == interop_stack.bridge_url
    assert claims["OIDC_CLAIM_name"] == "张三"  # the sample directory's name, in UTF-8
    assert claims["OIDC_CLAIM_email"] == f"{MEMBER}@corp.example"
    # mod_auth_openidc passes booleans as 1/0 (or true/false depending on version).
    assert claims["OIDC_CLAIM_email_verified"] in ("1", "true")
    # An array claim arrives comma-separated, each department path intact in UTF-8.
    assert claims["OIDC_CLAIM_groups"].split(",") == ["研发中心/平台部", "全体研发", "管理层"]
    # The session cookie alone now opens the page: no second trip to the bridge.
    again = b.get(apache.base + "/protected/claims.shtml", allow_redirects=False)
    assert again.status_code == 200
    assert shown(again.text)["REMOTE_USER"] == MEMBER


def test_mod_auth_openidc_require_claim_on_a_department_path(interop_stack, apache):
    # The recipe's `Require claim "groups:研发中心/平台部"`: any element of the array.
    b = browser()
    login_through_apache(interop_stack, apache, b)
    def status(path: str) -> int:
        return b.get(apache.base + path, allow_redirects=False).status_code

    assert status("/protected/platform/index.html") == 200
    assert status("/protected/finance/index.html") == 401


def test_mod_auth_openidc_logout_goes_through_the_bridges_end_session(interop_stack, apache):
    b = browser()
    login_through_apache(interop_stack, apache, b)
    done = apache.base + "/loggedout.html"
    out = b.get(f"{apache.base}/protected/redirect_uri?logout={quote(done, safe='')}",
                allow_redirects=False)
    assert out.status_code == 302, f"{out.status_code} {out.text[:300]} {apache.log()}"
    end_session = out.headers["Location"]
    assert end_session.startswith(interop_stack.bridge_url + "/end_session?"), end_session
    q = parse_qs(urlsplit(end_session).query)
    assert q["post_logout_redirect_uri"] == [done]
    assert q.get("id_token_hint"), "mod_auth_openidc sends the ID token as the hint"
    ended = b.get(end_session, allow_redirects=False)
    assert ended.status_code == 302, ended.text[:500]
    assert ended.headers["Location"].split("?")[0] == done
    assert b.get(ended.headers["Location"]).status_code == 200
    # Both sessions are gone: apache sends the browser to the bridge again, and the
    # bridge (its session cookie cleared) sends it on to WeCom for a fresh scan.
    again = b.get(apache.base + "/protected/claims.shtml", allow_redirects=False)
    assert again.status_code == 302
    assert again.headers["Location"].startswith(interop_stack.bridge_url + "/authorize?")
    relogin = b.get(again.headers["Location"], allow_redirects=False)
    assert relogin.status_code == 302
    assert urlsplit(relogin.headers["Location"]).path == "/wwlogin/sso/login"
