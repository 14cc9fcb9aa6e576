"""`wecom-oidc doctor`: check a live configuration end to end and say what to fix.

Runs from the host the bridge runs on (the egress IP matters) with its config:
config, signing keys, store, then WeCom in the order a login needs it: gettoken
(corp id + secret), a business call from this IP (企业可信IP), department/list and
user/get permissions, and what can be seen of the trusted domain. Prints one line per
check (✓ ok, ✗ must fix, ! check by hand, - skipped) with the fix under each ✗;
exit status 1 when anything failed, 2 when the config does not even load.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import requests

from .. import redact
from ..config import Settings, load_settings
from ..errors import ConfigError
from ..oidc.keys import read_keys
from ..store import MemoryStore, open_store
from ..upstream.base import callback_path
from ..wecom.client import WecomClient
from ..wecom.errors import MemberNotVisible, NoSuchUser, Transport, WecomApiError

MARKS = {"ok": "✓", "fail": "✗", "warn": "!", "skip": "-"}
PROBE_USERID = "wecom-oidc-doctor-probe"
CONSOLE = "the WeCom admin console (管理后台) → App management (应用管理) → your app"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | fail | warn | skip
    detail: str
    fix: str = ""

    def render(self) -> str:
        line = f"{MARKS[self.status]} {self.name}: {self.detail}"
        return line + (f"\n    fix: {self.fix}" if self.fix else "")


def run_checks(settings: Settings, *, userid: str | None = None,
               http: requests.Session | None = None) -> list[Check]:
    """Every check, in order; WeCom checks after a failed gettoken are skipped."""
    http = http or requests.Session()
    checks = [Check("config", "ok", f"{settings.source}: issuer {settings.issuer}, "
                    f"{len(settings.clients)} client(s)"), check_keys(settings),
              check_store(settings)]
    checks += check_wecom(settings, userid)
    checks += check_domain(settings, http)
    return checks


def check_keys(settings: Settings) -> Check:
    path = Path(settings.keys.dir)
    fix = ("run `wecom-oidc keys generate` (or mount the folder holding the shared keys) "
           "and make it readable by the bridge's user")
    if not path.is_dir():
        return Check("signing keys", "fail", f"{path} does not exist", fix)
    try:
        files, problems = read_keys(path)
    except OSError as e:
        return Check("signing keys", "fail", f"{path}: {e.strerror}", fix)
    if problems:
        return Check("signing keys", "fail", "; ".join(problems), fix)
    algs = {f.alg for f in files}
    wanted = {"RS256"} | {c.id_token_signed_response_alg for c in settings.clients}
    missing = sorted(wanted - algs)
    if missing:
        return Check("signing keys", "fail", f"no {'/'.join(missing)} key in {path}", fix)
    newest = files[-1]
    return Check("signing keys", "ok", f"{len(files)} key(s) readable in {path} "
                 f"({', '.join(sorted(algs))}; newest kid {newest.kid})")


def check_store(settings: Settings) -> Check:
    shown = redact.url(settings.store.url)
    try:
        store = open_store(settings.store.url)
    except Exception as e:
        return Check("store", "fail", f"{shown}: {redact.text(str(e))}", "fix [store] url")
    try:
        store.ping()
    except Exception as e:
        return Check("store", "fail", f"{shown}: unreachable ({redact.text(str(e))})",
                     "check that the store is up and reachable from this host (address, "
                     "password, TLS, firewall), then run doctor again")
    finally:
        store.close()
    return Check("store", "ok", f"{shown} answers")


def check_wecom(settings: Settings, userid: str | None) -> list[Check]:
    w = settings.wecom
    store = MemoryStore()  # doctor's own token: it must not touch the bridge's cache
    client = WecomClient(api_base_url=w.api_base_url, corp_id=w.corp_id, agent_id=w.agent_id,
                         secret=w.secret, store=store, timeout=(3.05, min(w.timeout, 10)),
                         busy_retries=1)
    try:
        return _wecom_checks(client, w.corp_id, w.agent_id, userid)
    finally:
        client.close()
        store.close()


def _wecom_checks(client: WecomClient, corp_id: str, agent_id: int,
                  userid: str | None) -> list[Check]:
    later = ("egress IP trusted (企业可信IP)", "department/list", "tag/list", "user/get")
    try:
        client.access_token()
    except WecomApiError as e:
        return [_failed("gettoken (corp_id + secret)", e)] + [
            Check(name, "skip", "needs a working gettoken") for name in later]
    out = [Check("gettoken (corp_id + secret)", "ok",
                 f"access_token issued for corp {corp_id}, app {agent_id}")]
    try:
        departments = client.departments()
    except WecomApiError as e:
        if e.errcode == 60020:
            return out + [_failed(later[0], e)] + [
                Check(name, "skip", "needs a trusted IP") for name in later[1:]]
        out.append(_ip_ok())
        out.append(_directory_failed("department/list", e))
    else:
        out.append(_ip_ok())
        if departments:
            out.append(Check("department/list", "ok",
                             f"{len(departments)} department(s) in the app's visible range"))
        else:
            out.append(Check("department/list", "warn", "the app sees no department",
                             f"set the app's visible range (可见范围) in {CONSOLE}"))
    out.append(_check_tags(client))
    out.append(_check_user_get(client, userid))
    return out


# What the directory reads need, for the errcodes that mean "not permitted".
_DIRECTORY_FIX = (
    "Logins still work: only clients with groups, roles or access policies on departments "
    "or tags use the directory (a policy client is refused while it cannot be read). To "
    f"allow it: in {CONSOLE}, set the visible range (可见范围) to the departments whose "
    "members sign in (not only single members), and give the app read access to the "
    "contacts (通讯录 → 读取 / API permissions); a 代开发 app needs the admin's "
    "authorization for department names.")


def _directory_failed(name: str, e: WecomApiError) -> Check:
    """A failed directory read: the errcode, and the console setting when it is a
    permission (48002 API not permitted, 60011 no privilege, 48006 revoked)."""
    if e.errcode in (48002, 48006, 60011):
        return Check(name, "fail", f"errcode {e.errcode}: {e.meaning} ({e.errmsg})",
                     _DIRECTORY_FIX)
    return _failed(name, e)


def _check_tags(client: WecomClient) -> Check:
    try:
        tags = client.tags()
    except WecomApiError as e:
        return _directory_failed("tag/list", e)
    return Check("tag/list", "ok", f"{len(tags)} tag(s) readable")


def _ip_ok() -> Check:
    return Check("egress IP trusted (企业可信IP)", "ok",
                 "a business API call from this host was not refused with 60020")


def _check_user_get(client: WecomClient, userid: str | None) -> Check:
    name = "user/get"
    try:
        member = client.member(userid or PROBE_USERID)
    except NoSuchUser as e:
        if userid:
            return _failed(name, e)
        return Check(name, "ok", "permitted (an unknown userid answered 60111, as it should); "
                     "pass --userid to look up a real member")
    except MemberNotVisible as e:
        return _failed(name, e) if userid else Check(
            name, "ok", f"permitted (the probe answered {e.errcode}: not visible)")
    except WecomApiError as e:
        return _failed(name, e)
    status = {1: "active", 2: "disabled", 4: "not activated", 5: "left"}.get(
        int(member.get("status", 0)), f"status {member.get('status')}")
    return Check(name, "ok" if member.get("status", 1) == 1 else "warn",
                 f"{userid}: {member.get('name', '?')} ({status})")


def _failed(name: str, e: WecomApiError) -> Check:
    if isinstance(e, Transport):
        return Check(name, "fail", f"no answer from WeCom ({e.reason})", e.hint)
    return Check(name, "fail", f"errcode {e.errcode}: {e.meaning} ({e.errmsg})", e.hint)


def check_domain(settings: Settings, http: requests.Session) -> list[Check]:
    """WeCom has no API that reads an app's trusted domain, so doctor checks what it
    can: the verify file is served at the domain root, and names the host to enter."""
    callback = settings.issuer + callback_path("wecom")
    parts = urlsplit(settings.issuer)
    host = parts.netloc
    out = [Check("trusted domain (可信域名)", "warn",
                 f"WeCom cannot be asked; make sure {host} is the app's trusted domain and "
                 f"web-login callback domain (授权回调域), exactly (port included): the "
                 f"callback is {callback}. A mismatch shows at login as errcode 50001 or "
                 f"WeCom's redirect_uri error page.")]
    files = settings.wecom.verify_files
    if not files:
        out.append(Check("domain verify file", "warn", "no [wecom.verify_files] configured",
                         "WeCom asks for a WW_verify_*.txt file when you set the trusted "
                         "domain; put its name and content under [wecom.verify_files]"))
    for name, text in files:
        url = urlunsplit((parts.scheme, host, "/" + name, "", ""))
        out.append(_check_verify_file(http, name, url, text))
    return out


def _check_verify_file(http: requests.Session, name: str, url: str, text: str) -> Check:
    fix = (f"the bridge must answer {url} (at the domain root, even with an issuer path); "
           "start it, or make the proxy forward /WW_verify_*.txt to it")
    try:
        resp = http.get(url, timeout=5, allow_redirects=False)
    except requests.RequestException as e:
        return Check("domain verify file", "fail", f"{url}: {type(e).__name__}", fix)
    if resp.status_code != 200 or resp.text.strip() != text.strip():
        return Check("domain verify file", "fail",
                     f"{url} answered HTTP {resp.status_code}"
                     + ("" if resp.status_code != 200 else " with other content"), fix)
    return Check("domain verify file", "ok", f"{name} served at {url}")


def main(config: str | None, *, userid: str | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    logging.getLogger().setLevel(logging.WARNING)  # the checklist is the output
    try:
        settings = load_settings(config)
    except ConfigError as e:
        print(Check("config", "fail", "does not load", "fix every problem below").render(),
              file=out)
        for problem in e.problems:
            print(f"    {problem}", file=out)
        return 2
    checks = run_checks(settings, userid=userid)
    print(f"wecom-oidc doctor: {settings.source}", file=out)
    for check in checks:
        print(check.render(), file=out)
    failed = sum(c.status == "fail" for c in checks)
    print(f"\n{failed} problem(s) to fix." if failed else "\nAll checks passed "
          "(lines marked ! are for you to confirm).", file=out)
    return 1 if failed else 0
