"""The shared error tree. Each class is one distinct way of handling a failure;
`wecom_oidc.web.errors` maps them to responses in one place."""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


class ConfigError(BridgeError):
    """The configuration is unusable. `problems` lists every problem found, each
    naming the file and key, so an admin fixes them all in one pass."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(self.problems))


class StoreUnavailable(BridgeError):
    """The state store cannot be reached; the request is refused (503) rather
    than half-done."""


class UpstreamError(BridgeError):
    """The upstream (WeCom) login failed. `reason` names what the person is told
    (a sentence of the web layer's catalogue, in their language); `detail` goes
    only to the log; `code` is the upstream's error number (WeCom errcode) when
    there is one, `hint` what the admin should fix."""

    def __init__(self, reason: str, detail: str = "", *, code: int | None = None,
                 hint: str = "", status: int = 502):
        self.reason, self.detail, self.code, self.hint = reason, detail or reason, code, hint
        self.status = status
        super().__init__(self.detail)


class DirectoryUnavailable(UpstreamError):
    """The upstream directory (departments, tags) cannot be read now. A client that
    only shows groups gets the login without them; a client whose access policy or
    roles need them is refused with this error (fail closed): 503, try again soon."""

    def __init__(self, detail: str = "", *, code: int | None = None, hint: str = ""):
        super().__init__("directory", detail, code=code, hint=hint, status=503)


class AccessDenied(BridgeError):
    """This person may not sign in (here, or to this app): a page for the person,
    access_denied for the client. Same fields as UpstreamError."""

    status = 403

    def __init__(self, reason: str, detail: str = "", *, code: int | None = None,
                 hint: str = ""):
        self.reason, self.detail, self.code, self.hint = reason, detail or reason, code, hint
        super().__init__(self.detail)


class UpstreamDenied(AccessDenied):
    """The upstream says so: not a member, disabled, departed, outside the app's
    visible range."""


class PolicyDenied(AccessDenied):
    """The bridge's own access policy for the client leaves this person out."""


class LoginStateError(BridgeError):
    """The browser came back to the callback with an unknown, expired or already
    used login state: the user has to start the login again from the app."""


class LoginFromOtherBrowser(LoginStateError):
    """The callback carries a valid login state, but the browser that opened it is
    not the one that started the login (login CSRF: someone sent this person their
    own half-finished login). Nothing changes; the person starts again."""


class RequestTooLarge(BridgeError):
    """A parameter longer than the bridge accepts; refused before anything is
    stored or redirected."""

    def __init__(self, name: str, limit: int):
        self.name, self.limit = name, limit
        super().__init__(f"parameter {name!r} is longer than {limit} characters")


class MalformedParameter(BridgeError):
    """A parameter breaks its syntax (a control character, a response_type or
    redirect_uri outside RFC 6749's grammar, a max_age that is not a number)."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"parameter {name!r} is malformed")


class LoginCancelled(UpstreamDenied):
    """The person declined or cancelled at the upstream login page; the client
    gets access_denied straight away."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("cancelled", detail)


class TooManyRequests(BridgeError):
    """A rate limit refused the request (429 with Retry-After). `rule` names the
    [limits] key for the log; the caller only learns when to retry."""

    def __init__(self, rule: str, retry_after: int):
        self.rule, self.retry_after = rule, retry_after
        super().__init__(f"rate limit {rule} exceeded; retry after {retry_after} s")
