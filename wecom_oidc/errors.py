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
    """The upstream (WeCom) login failed. `public` may be shown to the user,
    `detail` goes only to the log. `code` is an upstream error number
    (WeCom errcode) when there is one, `hint` what the admin should fix.
    `reason` is a key the web layer uses to show `public` in the page's language."""

    def __init__(
        self,
        public: str,
        detail: str = "",
        *,
        code: int | None = None,
        hint: str = "",
        status: int = 502,
        reason: str = "",
    ):
        self.public = public
        self.reason = reason
        self.detail = detail or public
        self.code = code
        self.hint = hint
        self.status = status
        super().__init__(public)


class UpstreamDenied(UpstreamError):
    """The upstream authenticated someone who may not log in (non-member,
    disabled, departed, outside the app's visible range). Maps to access_denied."""

    def __init__(self, public: str, detail: str = "", *, code: int | None = None,
                 hint: str = "", reason: str = ""):
        super().__init__(public, detail, code=code, hint=hint, status=403, reason=reason)


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


class LoginCancelled(UpstreamDenied):
    """The person declined or cancelled at the upstream login page; the client
    gets access_denied straight away."""
