"""What the fuzzer sends: parameter values, header values and whole requests.

A value is drawn from the parameter's valid examples (some of them live tokens of
a real login, named by `Live`), from inputs that broke this kind of server before
(empty, "²", control characters, bytes that are not UTF-8, over-long values, HTML
probes), from any text, or from a valid value with such input glued on."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

# Markers for the reflection check: escaped by any HTML page that shows them,
# so finding one verbatim in an HTML body means input was reflected raw.
HTML_PROBE = '<x-fuzz a="1">'
ATTR_PROBE = "fuzz\"'onx="
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")


@dataclass(frozen=True)
class Live:
    """A value only the running stack knows (a token of a real login, a fresh
    login state); resolved when the request is sent."""

    name: str


EDGE: list[str | bytes] = [
    "", " ", "²", "١", "0", "-1", "1e3", "99999999999999999999", "\x00", "\x01", "\t",
    "\r\n", "\x7f", "\x85", "\u2028", "\ufeff", "%", "%ff", "%00", "+", "&", "=", "#", "?",
    "\\", '"', "'", "<", ">", "/", "//evil.example", "https://evil.example/",
    "javascript:alert(1)", "null", "[]", "{}", "回调", "é", HTML_PROBE, ATTR_PROBE,
    "a" * 2048, "a" * 2049, "b" * 16385, b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xff\xfe:\xff",
]
EDGE_NAMES: list[str | bytes] = ["", "a", "x\x00", "é", "%ff", HTML_PROBE, b"\xff"]


def _join(a: object, b: object) -> str | bytes:
    if isinstance(a, bytes) or isinstance(b, bytes):
        return (a if isinstance(a, bytes) else str(a).encode()) + (
            b if isinstance(b, bytes) else str(b).encode())
    return f"{a}{b}"


def values(valid: tuple[object, ...] = ()) -> st.SearchStrategy[object]:
    """Any value for one parameter."""
    edge = st.sampled_from(EDGE)
    anything = st.one_of(st.text(max_size=40), st.binary(max_size=24))
    options = [edge, anything]
    if valid:
        good = st.sampled_from(valid)
        options = [good, good, *options, st.builds(_join, good, st.one_of(edge, anything)),
                   st.builds(_join, st.one_of(edge, anything), good)]
    return st.one_of(*options)


def names() -> st.SearchStrategy[str | bytes]:
    return st.one_of(st.sampled_from(EDGE_NAMES), st.text(max_size=12))


# Header values must be latin-1, without CR/LF or leading white space, for requests
# to send them at all.
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                     exclude_characters="\x7f\x85"), max_size=60).map(str.lstrip)


def _basic(user: object, password: object) -> str:
    raw = _join(_join(user, ":"), password)
    return "Basic " + base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()


def authorization(clients: tuple[tuple[str, str], ...]) -> st.SearchStrategy[str | None]:
    """No header, the right credentials, broken Basic headers, Bearer tokens."""
    ids = st.sampled_from([c[0] for c in clients] + ["nobody"])
    secrets = st.sampled_from([c[1] for c in clients] + ["wrong"])
    junk = st.one_of(st.sampled_from(EDGE), st.binary(max_size=16))
    return st.one_of(
        st.none(),
        st.sampled_from([_basic(*c) for c in clients]),
        st.builds(_basic, ids, st.one_of(secrets, junk)),
        st.builds(_basic, junk, junk),
        st.builds(lambda b: "Basic " + base64.b64encode(b).decode(), st.binary(max_size=30)),
        st.sampled_from(["Basic", "Basic ", "Basic %%%", "Basic =", "Bearer", "Bearer ",
                         "basic Og==", "Digest x", "Basic " + base64.b64encode(b":").decode()]),
        st.builds(lambda t: f"Bearer {t}", st.sampled_from(["{access_token}", "a.b.c"])),
        st.just("Bearer {access_token}"),
        _HEADER_TEXT,
    )


@dataclass
class Case:
    """One HTTP request, before live values are filled in."""

    method: str
    params: list[tuple[object, object]]
    placement: str  # query, form, multipart, json, raw
    headers: dict[str, str] = field(default_factory=dict)
    cookie: object = None
    raw_body: object = b""  # bytes, or a Live body


def headers(auth: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, str]]:
    optional = {
        "Accept": st.sampled_from(["text/html", "application/json", "*/*", "text/html;q=0",
                                   "application/json, text/html;q=0.1", "x/\u00ff"]),
        "Accept-Language": st.one_of(st.sampled_from(["en", "zh-CN", "zh;q=x", "*"]),
                                     _HEADER_TEXT),
        "User-Agent": st.sampled_from([
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0",
            "Mozilla/5.0 (iPhone) Mobile/15E148 wxwork/4.1.6 MicroMessenger/7.0.1",
            "", "\xff"]),
        "Origin": st.sampled_from(["https://rp.example", "https://evil.example", "null"]),
        "X-Request-Id": st.one_of(st.just("fuzz-1"), _HEADER_TEXT),
        "X-Forwarded-For": st.sampled_from(["1.2.3.4", "junk", "1.2.3.4, 5.6.7.8"]),
        "Content-Type": st.sampled_from([
            "application/x-www-form-urlencoded; charset=latin-1", "text/plain",
            "application/json", "multipart/form-data", "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded; charset=\xff"]),
    }
    return st.fixed_dictionaries({"Authorization": auth}, optional=optional).map(
        lambda h: {k: v for k, v in h.items() if v is not None})


AUTH = "@auth"  # a template's Authorization header, mutated like a parameter
BODY = "@body"  # a template's raw body (its parameters then go in the query)


@st.composite
def cases(draw: st.DrawFn, target: Any) -> Case:
    """A request to `target` (a fuzz_targets.Target): mostly one of its valid
    requests with a few parameters (or the credentials) broken, dropped or doubled,
    so the checks behind client authentication and the grant are reached; else
    any mix of its parameters."""
    t = target
    method = draw(st.one_of(st.sampled_from(t.methods), st.sampled_from(t.methods),
                            st.sampled_from(METHODS)))
    auth = authorization(t.clients)
    if t.templates and draw(st.integers(0, 3)) > 0:
        base = dict(draw(st.sampled_from(t.templates)))
        for _ in range(draw(st.integers(0, 2))):
            name = draw(st.sampled_from(sorted({*base, *t.params, AUTH})))
            how = draw(st.sampled_from(["break", "break", "drop", "valid", "twice"]))
            if how == "drop":
                base.pop(name, None)
            elif name == AUTH:
                base[AUTH] = draw(auth)
            elif how == "valid" and t.params.get(name):
                base[name] = draw(st.sampled_from(t.params[name]))
            elif how == "twice" and name in base:
                base[name] = Twice(base[name], draw(values(t.params.get(name, ()))))
            else:
                base[name] = draw(values())
        auth = st.just(base.pop(AUTH, None))
        body = base.pop(BODY, None)
        params = [(n, v) for n, v in base.items() if not isinstance(v, Twice)]
        params += [(n, x) for n, v in base.items() if isinstance(v, Twice) for x in v]
    else:
        body = None
        params = [(n, draw(values(valid))) for n, valid in t.params.items()
                  if n in t.usually or draw(st.booleans())]
    params += draw(st.lists(st.tuples(names(), values()), max_size=2))
    placement = "query" if method in ("GET", "HEAD") or body is not None else "form"
    placement = draw(st.sampled_from([placement] * 6 + ["query", "multipart", "json", "raw"]))
    return Case(method=method, params=draw(st.permutations(params)), placement=placement,
                headers=draw(headers(auth)),
                cookie=draw(st.sampled_from([None, Live("session"), Live("session"), "junk",
                                             "\xff"])),
                raw_body=body if body is not None else draw(st.binary(max_size=64)))


class Twice(tuple):  # type: ignore[type-arg]
    """A parameter sent twice (Authlib answers "Multiple 'x'")."""

    def __new__(cls, first: object, second: object) -> Twice:
        return super().__new__(cls, (first, second))


# The inputs that broke this kind of server before, tried one parameter at a time on
# every valid request (explicit examples: they run on every pass, the short one too).
NASTY: tuple[object, ...] = ("", "²", "\x01", b"\xff", HTML_PROBE)
BROKEN_AUTH = ("Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), "Basic %%%", "Basic ",
               "Bearer \x01", "Basic " + base64.b64encode(b"portal").decode())


def sweep(target: Any) -> list[Case]:
    """Each valid request of `target` as it is, then with one parameter (or its
    credentials) replaced by each NASTY value."""
    out = []
    for template in target.templates:
        for name, bad in [(None, None), *[(n, v) for n in template if n not in (AUTH, BODY)
                                           for v in NASTY],
                          *[(AUTH, a) for a in BROKEN_AUTH if AUTH in template]]:
            params = {**template, name: bad} if name else dict(template)
            auth, body = params.pop(AUTH, None), params.pop(BODY, None)
            method = "POST" if body is not None else target.methods[0]
            out.append(Case(method=method, params=list(params.items()),
                            placement="query" if method == "GET" or body else "form",
                            headers={"Authorization": auth} if auth else {},
                            cookie=Live("session"), raw_body=body or b""))
    return out
