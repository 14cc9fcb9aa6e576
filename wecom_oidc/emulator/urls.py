"""URL helpers shared by the pages and the control API."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def redirect_host(redirect_uri: str) -> str | None:
    """host[:port] of an absolute http(s) URL, as WeCom compares it (wecom-api.md §9)."""
    try:
        parts = urlsplit(redirect_uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.netloc.rpartition("@")[2].lower()


def with_query(url: str, **params: str | None) -> str:
    """`url` with params appended to its query (None values left out); the fragment kept.

    WeCom appends `&state=` even when state is empty (§2), so "" is kept.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))
