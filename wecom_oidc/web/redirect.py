"""The bare 302 of an authorization response or of the way to the upstream login: no
"Redirecting..." page to build (every browser follows the Location), and no second
conversion of a Location the bridge built as a URI.

When a response is sent, werkzeug's get_wsgi_headers converts its Location with
iri_to_uri (urlsplit, quoting each part, the host through the IDNA codec: ~67k
instructions) and counts the body for Content-Length. A Location that conversion
leaves as it is (checked when the redirect is made: the part before the query once
per URI, the query and fragment by their characters) needs neither: its headers are
the response's own plus `Content-Length: 0`, what werkzeug's method gives it.
Anything else about the response when it is sent (another status, a body, a second
or changed Location, a Content-Length or Content-Location, autocorrection on) and
werkzeug's own method runs.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from flask import Response
from werkzeug.datastructures import Headers
from werkzeug.urls import iri_to_uri

# The Content-Type werkzeug gives a response without one, named so it is not looked
# for among the headers and composed for every redirect.
_PLAIN_TEXT = "text/plain; charset=utf-8"
# What iri_to_uri's quote() leaves unchanged in a query, and in a fragment.
_QUERY = re.compile(r"[A-Za-z0-9_.~\-%!$&'()*+,/:;=?@]+")
_FRAGMENT = re.compile(r"[A-Za-z0-9_.~\-%!#$&'()*+,/:;=?@]+")


class Redirect(Response):
    """A 302 to `location`. Flask's Response class, so that Flask sends it as it is
    (it turns any other Response into its own, this method with it)."""

    def __init__(self, location: str):
        super().__init__(status=302, headers=[("Location", location)],
                         content_type=_PLAIN_TEXT)
        self._uri = location if already_uri(location) else None

    def get_wsgi_headers(self, environ: Any) -> Headers:
        if self._uri is None or self.status_code != 302 or self.response != [] or \
                self.autocorrect_location_header or not self.automatically_set_content_length:
            return super().get_wsgi_headers(environ)
        locations = 0
        for key, value in self.headers:
            name = key.lower()
            if name == "location":
                locations += 1
                if key != "Location" or value != self._uri:
                    return super().get_wsgi_headers(environ)
            elif name in ("content-length", "content-location"):
                return super().get_wsgi_headers(environ)
        if locations != 1:
            return super().get_wsgi_headers(environ)
        headers = Headers(self.headers)
        headers.add("Content-Length", "0")
        return headers


def already_uri(location: str) -> bool:
    """Whether werkzeug's iri_to_uri(location) is `location` itself."""
    head, hash_, fragment = location.partition("#")
    # An empty query or fragment would be dropped, "?" or "#" and all.
    if hash_ and not _FRAGMENT.fullmatch(fragment):
        return False
    base, mark, query = head.partition("?")
    if mark and not _QUERY.fullmatch(query):
        return False
    return _base_unchanged(base)


@functools.lru_cache(maxsize=256)
def _base_unchanged(base: str) -> bool:
    """The URL before the query: a registered redirect_uri or the upstream's login
    page, so the cache stays small."""
    return iri_to_uri(base) == base
