"""The typed settings: frozen dataclasses, the Secret type and the constants the
validator checks against."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import redact

ENV_PREFIX = "WECOM_OIDC_"
CONFIG_ENV = "WECOM_OIDC_CONFIG"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
AUTHORIZATION_CODE = "authorization_code"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
GRANT_TYPES = (AUTHORIZATION_CODE, DEVICE_CODE)


class Secret:
    """A secret string whose repr and str never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{redact.MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class WecomSettings:
    corp_id: str
    agent_id: int
    secret: Secret
    api_base_url: str = "https://qyapi.weixin.qq.com"
    authorize_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    web_login_url: str = "https://login.work.weixin.qq.com/wwlogin/sso/login"
    timeout: float = 10.0
    # OIDC scopes that make the in-app login ask for consent (snsapi_privateinfo),
    # since only that scope yields a user_ticket with email/mobile (wecom-api.md §2, §5).
    privateinfo_scopes: tuple[str, ...] = ("email", "phone")
    # WeCom demands WW_verify_*.txt at the root of the trusted domain (wecom-api.md §9).
    verify_files: tuple[tuple[str, str], ...] = ()
    # The department tree and tags (department/list, tag/list, tag/get) for groups,
    # roles and access policies, cached this long and served stale (up to
    # directory_max_stale) while WeCom is slow or failing.
    directory: bool = True
    directory_ttl: int = 600
    directory_max_stale: int = 86400


@dataclass(frozen=True)
class ClientSettings:
    client_id: str
    redirect_uris: tuple[str, ...]
    client_secret: Secret | None = None
    # The secret as a hash instead ("sha256$..." from `wecom-oidc hash-secret`).
    client_secret_hash: str = ""
    # Admit a client_secret shorter than 32 characters (with a warning).
    allow_short_secret: bool = False
    # Browser origins (scheme://host[:port]) allowed CORS on token, userinfo and revoke,
    # besides the origins of a public client's redirect URIs.
    allowed_origins: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    name: str = ""
    # "offline_access": a refresh token when that scope is granted; "always"; "never".
    refresh_tokens: str = "offline_access"
    backchannel_logout_uri: str = ""
    frontchannel_logout_uri: str = ""
    # "RS256" (default) or "ES256" for this client's ID tokens.
    id_token_signed_response_alg: str = "RS256"
    # "jwt" (RFC 9068, the default) or "opaque": a random string the bridge looks up,
    # for clients that only call /userinfo with it (no signature to make or check).
    access_token_format: str = "jwt"
    # The `groups` claim: "scope" (when the groups scope is granted), "always", "never".
    groups: str = "scope"
    # Extra claims from directory fields: ((claim, source), ...); see EXTRA_CLAIM_SOURCES.
    extra_claims: tuple[tuple[str, str], ...] = ()
    # A role claim: the first role whose selectors match ("tag:x", "dept:y", ...), else
    # role_default ("" = no claim).
    role_claim: str = "role"
    roles: tuple[tuple[str, tuple[str, ...]], ...] = ()
    role_default: str = ""
    # Access policy: nobody listed anywhere = everyone may sign in.
    allow_users: tuple[str, ...] = ()
    allow_departments: tuple[str, ...] = ()  # ids ("7") or paths ("研发中心/平台部")
    allow_tags: tuple[str, ...] = ()
    # What the client may use: the code grant and/or the device grant (RFC 8628, opt-in).
    # Refresh tokens come with either, as refresh_tokens says.
    grant_types: tuple[str, ...] = (AUTHORIZATION_CODE,)

    @property
    def device(self) -> bool:
        return DEVICE_CODE in self.grant_types

    @property
    def restricted(self) -> bool:
        return bool(self.allow_users or self.allow_departments or self.allow_tags)

    @property
    def is_public(self) -> bool:
        return self.client_secret is None and not self.client_secret_hash


# Redis store URLs (the store package parses them; config imports nothing of ours).
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel",
                 "redis+cluster", "rediss+cluster")


@dataclass(frozen=True)
class StoreSettings:
    url: str = "sqlite:///data/wecom-oidc.db"

    @property
    def shared(self) -> bool:
        """A store several replicas share (Redis): they must then share everything else
        that is state, e.g. the signing keys, so none may generate its own."""
        return urlsplit(self.url).scheme.lower() in REDIS_SCHEMES

    def __repr__(self) -> str:
        # A Redis URL may carry a password: never in a repr (settings get logged).
        return f"StoreSettings(url={redact.url(self.url)!r})"


@dataclass(frozen=True)
class KeySettings:
    dir: str = "keys"


@dataclass(frozen=True)
class ServerSettings:
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    # Many threads: a login waiting on WeCom (30-200 ms a call) holds a thread but no
    # CPU, so 8 made people queue behind WeCom (80 logins/s at 100 ms). `make bench` (b).
    threads: int = 64
    # Number of trusted reverse proxies in front; X-Forwarded-* is ignored when 0.
    proxy_hops: int = 0
    # "text" (human) or "json" (one object per line, for log collectors).
    log_format: str = "text"
    # Seconds a worker may finish its requests after SIGTERM before it is killed.
    graceful_timeout: int = 20
    # host:port of a separate listener for /metrics ("" = /metrics on `bind`), so the
    # port the proxy or Ingress publishes never serves it.
    metrics_bind: str = ""
    # Bearer token /metrics on `bind` demands (`metrics_token_file` for a container
    # secret). With neither this nor metrics_bind, /metrics is open on `bind` (a
    # warning at start says so); see docs/security.md.
    metrics_token: Secret | None = None
    # "debug", "info", "warning" or "error" (the audit log is kept at any level).
    log_level: str = "info"
    # Where the audit log goes: "" = with the app log, "stderr", "stdout" or a file path.
    audit_log: str = ""


@dataclass(frozen=True)
class TokenSettings:
    code_ttl: int = 120
    access_token_ttl: int = 3600
    id_token_ttl: int = 3600
    login_state_ttl: int = 600
    refresh_token_ttl: int = 30 * 86400
    # How long a refresh may trust the last WeCom check of the member (user/get).
    member_recheck_ttl: int = 300
    # The device grant (RFC 8628): how long a user code may be entered, and the
    # polling interval a device must keep (it grows by 5 s at each slow_down).
    device_code_ttl: int = 600
    device_poll_interval: int = 5


@dataclass(frozen=True)
class SessionSettings:
    """The bridge's own login session (so a second app skips the WeCom scan)."""

    lifetime: int = 8 * 3600
    cookie_name: str = "wecom_oidc_session"


@dataclass(frozen=True)
class Rate:
    """At most `limit` requests per `window` seconds; written "600/1m" in the config."""

    limit: int
    window: int

    _UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    @classmethod
    def parse(cls, text: str) -> Rate:
        """"N/Ws", "N/Wm", "N/Wh", "N/Wd" (W defaults to 1): ValueError otherwise."""
        count, sep, per = text.replace(" ", "").partition("/")
        unit = per[-1:].lower()
        number = per[:-1] or "1"
        if not (sep and count.isdigit() and number.isdigit() and unit in cls._UNITS):
            raise ValueError(f'{text!r} is not a rate: write "N/60s", "N/5m", "N/1h" or "off"')
        rate = cls(int(count), int(number) * cls._UNITS[unit])
        if rate.limit < 1 or rate.window < 1:
            raise ValueError(f"{text!r}: both the count and the window must be positive")
        return rate

    def __str__(self) -> str:
        return f"{self.limit}/{self.window}s"


# Every rate limit rule and its default ([limits] keys; "off" disables one). Per-IP
# limits are high: a whole company may sit behind one NAT address on a Monday morning
# (10,000 people signing in to a few apps within minutes). Failed client
# authentications are low: they are the online guessing of a client secret.
DEFAULT_RATES: dict[str, str] = {
    "authorize_per_ip": "3000/1m",
    "authorize_per_client": "6000/1m",
    # Each callback costs WeCom API calls (quota: 10,000 per minute per corp); a whole
    # company behind one NAT address signs in through one per_ip counter.
    "callback_per_ip": "3000/1m",
    "callback_per_client": "3000/1m",
    "token_per_ip": "6000/1m",
    "token_per_client": "3000/1m",
    "introspect_per_ip": "12000/1m",
    "introspect_per_client": "12000/1m",
    "revoke_per_ip": "1200/1m",
    "revoke_per_client": "1200/1m",
    "userinfo_per_ip": "6000/1m",
    "userinfo_per_client": "6000/1m",
    # Failed client authentications (wrong secret, unknown client) at token,
    # introspect and revoke; once over, that client (from that address) is refused
    # even with the right secret until the window ends.
    "failed_auth_per_client_ip": "10/5m",
    "failed_auth_per_client": "100/5m",
    "failed_auth_per_ip": "30/5m",
    # Wrong user codes entered on the device grant's verification page, per address
    # (RFC 8628 §5.1: 20^8 codes living 10 minutes; this keeps guessing hopeless).
    "device_user_code_per_ip": "10/10m",
}


@dataclass(frozen=True)
class LimitSettings:
    """Rate limits, counted in the state store (shared by every replica on Redis)."""

    enabled: bool = True
    rates: tuple[tuple[str, Rate | None], ...] = tuple(
        (name, Rate.parse(text)) for name, text in DEFAULT_RATES.items())
    # Seconds every failed client authentication is held before it is answered.
    failed_auth_delay: float = 0.25

    def rate(self, rule: str) -> Rate | None:
        """The rule's rate, or None when it is off (or limits are disabled)."""
        if not self.enabled:
            return None
        for name, rate in self.rates:
            if name == rule:
                return rate
        raise KeyError(f"unknown rate limit rule {rule!r}: add it to DEFAULT_RATES")


# What an extra claim may be made of (resolved in oidc/client_claims.py), besides
# "extattr.<name>" (a custom directory attribute).
EXTRA_CLAIM_SOURCES = (
    "userid", "name", "alias", "position", "email", "biz_mail", "phone", "gender",
    "picture", "english_name", "telephone", "main_department", "main_department_name",
    "main_department_id", "departments", "department_ids", "tags", "groups", "is_leader",
    "leader_of", "direct_leader", "family_name", "given_name",
)
SELECTOR_KINDS = ("user", "dept", "tag", "group")
RESERVED_CLAIMS = frozenset((
    "sub", "iss", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr",
    "azp", "at_hash", "c_hash", "sid", "scope", "client_id", "name", "preferred_username",
    "picture", "gender", "email", "email_verified", "phone_number", "phone_number_verified",
    "groups"))
EMAIL_SOURCES = ("email", "biz_mail")


@dataclass(frozen=True)
class GroupsSettings:
    """The `groups` claim: department names/paths and tag names, filtered and capped."""

    departments: str = "path"  # "path", "name", "both" or "none"
    # Also every parent of a member's department ("研发中心", "研发中心/平台部").
    parents: bool = False
    tags: bool = True
    prefix_department: str = ""
    prefix_tag: str = ""
    include: tuple[str, ...] = ()  # regexes (re.search) on the final value; empty = all
    exclude: tuple[str, ...] = ()
    max: int = 100


@dataclass(frozen=True)
class ClaimsSettings:
    # Fallback when WeCom gives no address, e.g. "{userid}@corp.example".
    email_template: str = ""
    # Which WeCom fields give `email`, first non-empty wins (then email_template).
    email_sources: tuple[str, ...] = EMAIL_SOURCES
    # Corp-managed mail (email / biz_mail from WeCom) may be declared verified.
    wecom_email_verified: bool = False
    # Addresses from WeCom in these domains are verified even without the above.
    verified_email_domains: tuple[str, ...] = ()
    template_email_verified: bool = False
    wecom_phone_verified: bool = False
    # Put the granted scopes' claims in the ID token as well as userinfo.
    claims_in_id_token: bool = True
    lowercase_username: bool = False


@dataclass(frozen=True)
class OffboardingSettings:
    """WeCom contact-change callbacks and the reconciliation sweep (docs/offboarding.md)."""

    # The receiver's Token and EncodingAESKey (接收消息 API or 通讯录同步 event server);
    # both unset: no callback endpoint.
    callback_token: Secret | None = None
    callback_aes_key: Secret | None = None
    # Re-check every member holding a session or refresh token this often (0 = off).
    sweep_interval: int = 900
    # At most this many user/get calls per second during a sweep (WeCom allows
    # 10,000 per minute per API and corp; logins need their share).
    sweep_rate: int = 20

    @property
    def callbacks(self) -> bool:
        return self.callback_token is not None and self.callback_aes_key is not None


@dataclass(frozen=True)
class Settings:
    issuer: str
    wecom: WecomSettings
    clients: tuple[ClientSettings, ...]
    store: StoreSettings = field(default_factory=StoreSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    claims: ClaimsSettings = field(default_factory=ClaimsSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    groups: GroupsSettings = field(default_factory=GroupsSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    offboarding: OffboardingSettings = field(default_factory=OffboardingSettings)
    # What check-config and start-up print as warnings (the config still loads).
    warnings: tuple[str, ...] = ()
    upstream: str = "wecom"  # the upstream registry's name (upstream/registry.py)
    source: str = "<defaults>"

    @property
    def issuer_path(self) -> str:
        """The issuer's path prefix ('' or '/oidc'); every route lives below it."""
        return urlsplit(self.issuer).path.rstrip("/")

    def client(self, client_id: str) -> ClientSettings | None:
        for c in self.clients:
            if c.client_id == client_id:
                return c
        return None


def json_or(value: Any, kind: type) -> Any:
    """A string holding a JSON list/table (how the environment spells them), parsed."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, kind) else value
    return value
