"""Security headers on every response, set in one after_request hook keyed on the
response, so an endpoint added later is covered without remembering to.

- Every response: nosniff, Referrer-Policy no-referrer, X-Frame-Options DENY and a
  CSP whose `frame-ancestors 'none'` stops clickjacking of any page.
- HTML pages: a strict CSP: nothing loads but the page's own nonce'd <style> and
  <script>; forms go only to the bridge and where it redirects them on (browsers
  apply form-action to the redirect after a submission): the upstream's login
  pages (the device page's form ends there) and the app a logout continues to.
  The front-channel
  logout page may frame the apps' front-channel logout origins and nothing else.
- `Cache-Control: no-store` + `Pragma: no-cache` on every response that did not
  ask to be cached (discovery and JWKS do), and always on one that carries a code
  or a token (RFC 6749 §5.1; RFC 9700 on codes leaking through history and caches),
  whatever the view said.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g
from werkzeug.datastructures import Headers

# On every response; a non-HTML one also gets NOT_A_PAGE unless it set its own CSP.
EVERY_RESPONSE = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                  ("X-Frame-Options", "DENY"))
NOT_A_PAGE = ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
_EVERY_NAMES = frozenset(name.lower() for name, _ in EVERY_RESPONSE)

# A Location or body naming one of these carries a credential.
_CREDENTIAL = re.compile(r"(?:^|[?&#])(?:code|access_token|id_token|refresh_token)=")
_TOKEN_KEYS = {"access_token", "id_token", "refresh_token", "active"}


def csp_nonce() -> str:
    """This response's nonce for inline <style>/<script> (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def allow_frames(urls: list[str]) -> None:
    """Let this page frame these URLs' origins (front-channel logout)."""
    g.csp_frame_src = [*g.get("csp_frame_src", []), *(origin(u) for u in urls)]


def allow_form_target(url: str) -> None:
    """Let this page's form end at `url`'s origin (a redirect after the POST)."""
    g.csp_form_action = [*g.get("csp_form_action", []), origin(url)]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_policy(form_targets: tuple[str, ...] = ()) -> str:
    nonce = csp_nonce()
    frames = " ".join(dict.fromkeys(g.get("csp_frame_src", []))) or "'none'"
    forms = " ".join(dict.fromkeys(["'self'", *form_targets, *g.get("csp_form_action", [])]))
    return (f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            f"img-src 'self' data:; frame-src {frames}; form-action {forms}; "
            "base-uri 'none'; frame-ancestors 'none'")


def carries_credential(resp: Response, location: str, mimetype: str | None) -> bool:
    """A code or token in the redirect (`location`), or a token (introspection) answer."""
    if _CREDENTIAL.search(location):
        return True
    if mimetype == "application/json" and not resp.direct_passthrough:
        body = resp.get_json(silent=True)
        return isinstance(body, dict) and not _TOKEN_KEYS.isdisjoint(body)
    return False


def secure(resp: Response, form_targets: tuple[str, ...] = ()) -> Response:
    h = resp.headers
    # The first value of each header the response has, read in one pass: a header
    # it lacks is appended, never searched for again (werkzeug's set() scans them all).
    have: dict[str, str] = {}
    for name, value in h:
        have.setdefault(name.lower(), value)
    # A view rarely sets any of these itself: then they are appended as they are.
    if _EVERY_NAMES.isdisjoint(have):
        for name, value in EVERY_RESPONSE:
            h.add(name, value)
    else:
        for name, value in EVERY_RESPONSE:
            _put(h, have, name, value)
    # resp.mimetype, without searching the headers again.
    content_type = have.get("content-type")
    mimetype = content_type.partition(";")[0].strip() if content_type else None
    if mimetype == "text/html":
        _put(h, have, "Content-Security-Policy", page_policy(form_targets))
    elif "content-security-policy" not in have:
        h.add(*NOT_A_PAGE)
    cache = have.get("cache-control")
    # An answer already marked no-store (tokens, userinfo) is not parsed again to see
    # whether it carries a credential.
    if cache is None or ("no-store" not in cache and
                         carries_credential(resp, have.get("location", ""), mimetype)):
        _put(h, have, "Cache-Control", "no-store")
        cache = "no-store"
    if "no-store" in cache:
        _put(h, have, "Pragma", "no-cache")
    return resp


def _put(h: Headers, have: dict[str, str], name: str, value: str) -> None:
    """Set `name`: replaced if the response had it, else appended."""
    if name.lower() in have:
        h.set(name, value)
    else:
        h.add(name, value)


def first_header(h: Headers, name: str) -> str | None:
    """h.get(name), without the exception werkzeug raises and catches for a header
    the response lacks (the usual case here), which costs several times this scan."""
    lname = name.lower()
    for key, value in h:
        if key.lower() == lname:
            return value
    return None


def init_app(app: Flask, login_urls: tuple[str, ...] = ()) -> None:
    """`login_urls`: the upstream's login pages a bridge form may end at."""
    form_targets = tuple(dict.fromkeys(origin(u) for u in login_urls))

    def _secure(resp: Response) -> Response:
        return secure(resp, form_targets)

    app.after_request(_secure)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
