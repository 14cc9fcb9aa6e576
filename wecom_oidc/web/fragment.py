"""Leaving the upstream's callback without the fragment the browser carried in.

WeCom's in-app login URL must end in `#wechat_redirect`, and browsers keep a URL's
fragment across every HTTP redirect whose Location has none (RFC 9110 §10.2.2): our
redirect to the app would hand the app `...?code=...#wechat_redirect`, and on through
the app's own redirects (a hash-routed page, or a login page parsing its query by hand,
breaks on it; Synapse's login page does). A page that moves on with a `Refresh` header
starts a new navigation, which takes no fragment along.
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>…</title>
</head><body><p><a href="{url}">Continue</a></p></body></html>
"""


def navigate_without_fragment(resp: Response) -> Response:
    """`resp` as is unless it redirects; a redirect becomes a page that goes to the same
    place (`Refresh: 0; url=...`), with the redirect's cookies and the no-store header."""
    location = resp.headers.get("Location") if 300 <= resp.status_code < 400 else None
    if not location:
        return resp
    page = Response(_PAGE.format(url=escape(location, quote=True)), status=200,
                    mimetype="text/html")
    for name, value in resp.headers.items():
        if name.lower() == "set-cookie":
            page.headers.add(name, value)
    page.headers["Refresh"] = f"0; url={location}"
    page.headers["Cache-Control"] = "no-store"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page
