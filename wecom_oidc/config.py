"""Typed settings: defaults <- TOML file <- environment <- `*_file` secrets.

`load_settings()` validates everything at once and raises `ConfigError` listing
every problem with the file and key, so an admin fixes a config in one pass.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

ENV_PREFIX = "WECOM_OIDC_"
CONFIG_ENV = "WECOM_OIDC_CONFIG"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class Secret:
    """A secret string whose repr and str never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

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
    post_logout_redirect_uris: tuple[str, ...] = ()
    name: str = ""
    # "offline_access": a refresh token when that scope is granted; "always"; "never".
    refresh_tokens: str = "offline_access"
    backchannel_logout_uri: str = ""
    frontchannel_logout_uri: str = ""
    # "RS256" (default) or "ES256" for this client's ID tokens.
    id_token_signed_response_alg: str = "RS256"
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

    @property
    def restricted(self) -> bool:
        return bool(self.allow_users or self.allow_departments or self.allow_tags)

    @property
    def is_public(self) -> bool:
        return self.client_secret is None


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
        scheme, sep, rest = self.url.partition("://")
        userinfo, at, hosts = rest.rpartition("@")
        if at and ":" in userinfo:
            rest = f"{userinfo.partition(':')[0]}:***@{hosts}"
        return f"StoreSettings(url={scheme + sep + rest!r})"


@dataclass(frozen=True)
class KeySettings:
    dir: str = "keys"


@dataclass(frozen=True)
class ServerSettings:
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    threads: int = 8
    # Number of trusted reverse proxies in front; X-Forwarded-* is ignored when 0.
    proxy_hops: int = 0
    # "text" (human) or "json" (one object per line, for log collectors).
    log_format: str = "text"
    # Seconds a worker may finish its requests after SIGTERM before it is killed.
    graceful_timeout: int = 20


@dataclass(frozen=True)
class TokenSettings:
    code_ttl: int = 120
    access_token_ttl: int = 3600
    id_token_ttl: int = 3600
    login_state_ttl: int = 600
    refresh_token_ttl: int = 30 * 86400
    # How long a refresh may trust the last WeCom check of the member (user/get).
    member_recheck_ttl: int = 300


@dataclass(frozen=True)
class SessionSettings:
    """The bridge's own login session (so a second app skips the WeCom scan)."""

    lifetime: int = 8 * 3600
    cookie_name: str = "wecom_oidc_session"


# What an extra claim may be made of (resolved in oidc/client_claims.py), besides
# "extattr.<name>" (a custom directory attribute).
EXTRA_CLAIM_SOURCES = (
    "userid", "name", "alias", "position", "email", "biz_mail", "phone", "gender",
    "picture", "english_name", "telephone", "main_department", "main_department_name",
    "main_department_id", "departments", "department_ids", "tags", "groups", "is_leader",
    "leader_of", "direct_leader",
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


def load_settings(path: str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Load the config file (``path`` or $WECOM_OIDC_CONFIG), apply environment
    overrides and validate. Raises ConfigError listing every problem."""
    env = dict(os.environ if env is None else env)
    path = path or env.get(CONFIG_ENV)
    raw: dict[str, Any] = {}
    source = "<environment>"
    if path:
        source = str(path)
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError([f"{path}: file not found"]) from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([f"{path}: not valid TOML: {e}"]) from None
    _apply_env(raw, env)
    base = Path(path).resolve().parent if path else Path.cwd()
    return _Validator(raw, source, base).settings()


def _apply_env(raw: dict[str, Any], env: dict[str, str]) -> None:
    """WECOM_OIDC_ISSUER, WECOM_OIDC_<SECTION>__<KEY>, WECOM_OIDC_CLIENTS (JSON)."""
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX):].lower()
        if rest == "clients":
            try:
                raw["clients"] = json.loads(value)
            except json.JSONDecodeError as e:
                raw["clients"] = f"<invalid JSON in {name}: {e}>"
            continue
        parts = rest.split("__")
        target = raw
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                break
        else:
            # Kept verbatim: the validator converts by the key's type, so a secret
            # such as "true", "1e5" or "null" is never turned into something else.
            target[parts[-1]] = value


def _json_or(value: Any, kind: type) -> Any:
    """A string holding a JSON list/table (how the environment spells them), parsed."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, kind) else value
    return value


class _Validator:
    """Turns the raw mapping into Settings, collecting every problem."""

    def __init__(self, raw: dict[str, Any], source: str, base: Path):
        self.raw, self.source, self.base = raw, source, base
        self.problems: list[str] = []

    def problem(self, key: str, msg: str) -> None:
        self.problems.append(f"{self.source}: {key}: {msg}")

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            self.problem(name, "must be a table")
            return {}
        return value

    def get(self, sec: dict, prefix: str, key: str, kind: type, default: Any = None,
            required: bool = False) -> Any:
        full = f"{prefix}.{key}" if prefix else key
        if key not in sec:
            if required:
                self.problem(full, "is required")
            return default
        value = sec[key]
        if kind is int and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                pass
        if kind is float and isinstance(value, int | str):
            try:
                value = float(value)
            except ValueError:
                pass
        if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if kind is tuple:
            value = _json_or(value, list)
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.problem(full, "must be a list of strings")
                return default
            return tuple(value)
        if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(full, f"must be {kind.__name__}, got {type(value).__name__}")
            return default
        return value

    def secret(self, sec: dict, prefix: str, key: str, required: bool) -> Secret | None:
        """A secret inline or from `<key>_file` (container secrets)."""
        file_key = key + "_file"
        if file_key in sec:
            p = self.path(str(sec[file_key]))
            try:
                value = p.read_text(encoding="utf-8").strip()
            except OSError as e:
                self.problem(f"{prefix}.{file_key}", f"cannot read {p}: {e.strerror}")
                return None
            if not value:
                self.problem(f"{prefix}.{file_key}", f"{p} is empty")
                return None
            return Secret(value)
        value = self.get(sec, prefix, key, str, None, required)
        if value is not None and not value.strip():
            # An empty secret (often an unset variable in a template) must not
            # quietly turn a confidential client into a public one.
            self.problem(f"{prefix}.{key}", "is empty" + (
                "" if required else f"; omit {key} for a public client"))
            return None
        return Secret(value) if value else None

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.base / p

    def url(self, key: str, value: str, *, https_unless_loopback: bool) -> None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.problem(key, f"must be an absolute http(s) URL, got {value!r}")
        elif (https_unless_loopback and parts.scheme != "https"
              and parts.hostname not in LOOPBACK_HOSTS):
            self.problem(key, "must use https (plain http is only allowed on loopback)")
        elif parts.query or parts.fragment:
            self.problem(key, "must not have a query or fragment")

    def settings(self) -> Settings:
        issuer = self.get(self.raw, "", "issuer", str, "", required=True).rstrip("/")
        if issuer:
            self.url("issuer", issuer, https_unless_loopback=True)
        wecom = self.wecom()
        clients = self.clients()
        store = self.store()
        s = self.section("server")
        server = ServerSettings(
            bind=self.get(s, "server", "bind", str, ServerSettings.bind),
            workers=self.positive(s, "server", "workers", ServerSettings.workers),
            threads=self.positive(s, "server", "threads", ServerSettings.threads),
            proxy_hops=self.get(s, "server", "proxy_hops", int, 0),
            log_format=self.choice(s, "server", "log_format", ("text", "json")),
            graceful_timeout=self.positive(s, "server", "graceful_timeout", 20),
        )
        t = self.section("tokens")
        tokens = TokenSettings(
            code_ttl=self.positive(t, "tokens", "code_ttl", TokenSettings.code_ttl),
            access_token_ttl=self.positive(t, "tokens", "access_token_ttl", 3600),
            id_token_ttl=self.positive(t, "tokens", "id_token_ttl", 3600),
            login_state_ttl=self.positive(t, "tokens", "login_state_ttl", 600),
            refresh_token_ttl=self.positive(t, "tokens", "refresh_token_ttl", 30 * 86400),
            member_recheck_ttl=self.positive(t, "tokens", "member_recheck_ttl", 300),
        )
        se = self.section("session")
        session = SessionSettings(
            lifetime=self.positive(se, "session", "lifetime", SessionSettings.lifetime),
            cookie_name=self.get(se, "session", "cookie_name", str, SessionSettings.cookie_name),
        )
        if not 60 <= tokens.code_ttl <= 600:
            self.problem("tokens.code_ttl", "must be between 60 and 600 seconds (RFC 9700)")
        c = self.section("claims")
        claims = ClaimsSettings(
            email_template=self.get(c, "claims", "email_template", str, ""),
            email_sources=self.subset(c, "claims", "email_sources", EMAIL_SOURCES),
            wecom_email_verified=self.get(c, "claims", "wecom_email_verified", bool, False),
            verified_email_domains=tuple(d.lower().lstrip("@") for d in self.get(
                c, "claims", "verified_email_domains", tuple, ())),
            template_email_verified=self.get(c, "claims", "template_email_verified", bool, False),
            wecom_phone_verified=self.get(c, "claims", "wecom_phone_verified", bool, False),
            claims_in_id_token=self.get(c, "claims", "claims_in_id_token", bool, True),
            lowercase_username=self.get(c, "claims", "lowercase_username", bool, False),
        )
        if claims.email_template and "{userid}" not in claims.email_template:
            self.problem("claims.email_template", "must contain {userid}")
        k = self.section("keys")
        keys = KeySettings(dir=str(self.path(self.get(k, "keys", "dir", str, "keys"))))
        groups = self.groups()
        if self.problems:
            raise ConfigError(self.problems)
        assert wecom is not None
        return Settings(issuer=issuer, wecom=wecom, clients=clients, store=store, keys=keys,
                        server=server, tokens=tokens, claims=claims, session=session,
                        groups=groups, source=self.source)

    def subset(self, sec: dict, prefix: str, key: str, allowed: tuple[str, ...]) -> tuple:
        """A list of distinct values out of `allowed` (default: all, in that order)."""
        value = self.get(sec, prefix, key, tuple, allowed)
        bad = [v for v in value if v not in allowed]
        if bad or len(set(value)) != len(value):
            self.problem(f"{prefix}.{key}", f"must list distinct values of {', '.join(allowed)}")
            return allowed
        return value

    def groups(self) -> GroupsSettings:
        g = self.section("groups")
        d = GroupsSettings
        out = GroupsSettings(
            departments=self.choice(g, "groups", "departments", ("path", "name", "both", "none")),
            parents=self.get(g, "groups", "parents", bool, d.parents),
            tags=self.get(g, "groups", "tags", bool, d.tags),
            prefix_department=self.get(g, "groups", "prefix_department", str, ""),
            prefix_tag=self.get(g, "groups", "prefix_tag", str, ""),
            include=self.regexes(g, "groups", "include"),
            exclude=self.regexes(g, "groups", "exclude"),
            max=self.positive(g, "groups", "max", d.max),
        )
        return out

    def regexes(self, sec: dict, prefix: str, key: str) -> tuple[str, ...]:
        value = self.get(sec, prefix, key, tuple, ())
        for i, pattern in enumerate(value):
            try:
                re.compile(pattern)
            except re.error as e:
                self.problem(f"{prefix}.{key}[{i}]", f"not a valid regular expression: {e}")
        return value

    def client_claims(self, c: dict, prefix: str) -> dict[str, Any]:
        """groups, extra_claims, roles and the access policy of one client."""
        extra = _json_or(c.get("extra_claims", {}), dict)
        if not isinstance(extra, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
            self.problem(f"{prefix}.extra_claims", 'must map claim names to sources, e.g. '
                         '{ title = "position", employee_no = "extattr.工号" }')
            extra = {}
        for name, source in extra.items():
            self.claim_name(f"{prefix}.extra_claims.{name}", name)
            if source not in EXTRA_CLAIM_SOURCES and not (
                    source.startswith("extattr.") and len(source) > len("extattr.")):
                self.problem(f"{prefix}.extra_claims.{name}", f"unknown source {source!r}: use "
                             f"{', '.join(EXTRA_CLAIM_SOURCES)} or extattr.<name>")
        roles = _json_or(c.get("roles", {}), dict)
        if not isinstance(roles, dict):
            self.problem(f"{prefix}.roles", 'must map role names to selector lists, e.g. '
                         '{ Admin = ["tag:管理层"], Editor = ["dept:研发中心"] }')
            roles = {}
        parsed_roles = []
        for role in roles:
            sel = self.get(roles, f"{prefix}.roles", role, tuple, ())
            for j, item in enumerate(sel):
                self.selector(f"{prefix}.roles.{role}[{j}]", item)
            parsed_roles.append((role, sel))
        role_claim = self.get(c, prefix, "role_claim", str, "role")
        if parsed_roles:
            self.claim_name(f"{prefix}.role_claim", role_claim)
        departments = c.get("allow_departments", [])
        if isinstance(departments, list):  # TOML mixes ids and paths: [7, "研发中心/平台部"]
            departments = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                           for v in departments]
        return dict(
            groups=self.choice(c, prefix, "groups", ("scope", "always", "never")),
            extra_claims=tuple(extra.items()), role_claim=role_claim,
            roles=tuple(parsed_roles), role_default=self.get(c, prefix, "role_default", str, ""),
            allow_users=self.get(c, prefix, "allow_users", tuple, ()),
            allow_departments=self.get({"allow_departments": departments}, prefix,
                                       "allow_departments", tuple, ()),
            allow_tags=self.get(c, prefix, "allow_tags", tuple, ()),
        )

    def claim_name(self, key: str, name: str) -> None:
        """Extra claims may not replace the standard ones (sub, email, groups...)."""
        if not name or name in RESERVED_CLAIMS:
            self.problem(key, f"{name!r} is a standard claim and cannot be configured here")

    def selector(self, key: str, item: str) -> None:
        kind, sep, value = item.partition(":")
        if not sep or kind not in SELECTOR_KINDS or not value:
            self.problem(key, f"{item!r} must be one of "
                         f"{', '.join(k + ':...' for k in SELECTOR_KINDS)}")

    def positive(self, sec: dict, prefix: str, key: str, default: int) -> int:
        value = self.get(sec, prefix, key, int, default)
        if value <= 0:
            self.problem(f"{prefix}.{key}", "must be a positive integer")
        return value

    def wecom(self) -> WecomSettings | None:
        w = self.section("wecom")
        corp_id = self.get(w, "wecom", "corp_id", str, "", required=True)
        agent_id = self.get(w, "wecom", "agent_id", int, 0, required=True)
        secret = self.secret(w, "wecom", "secret", required=True)
        d = WecomSettings
        urls = {k: self.get(w, "wecom", k, str, getattr(d, k))
                for k in ("api_base_url", "authorize_url", "web_login_url")}
        for k, v in urls.items():
            self.url(f"wecom.{k}", v, https_unless_loopback=False)
        verify = _json_or(w.get("verify_files", {}), dict)
        if not isinstance(verify, dict) or not all(
                isinstance(v, str) and k.startswith("WW_verify_") and k.endswith(".txt")
                for k, v in verify.items()):
            self.problem("wecom.verify_files",
                         'must map "WW_verify_<code>.txt" file names to their text')
            verify = {}
        if secret is None:
            return None
        return WecomSettings(
            corp_id=corp_id, agent_id=agent_id, secret=secret,
            timeout=self.get(w, "wecom", "timeout", float, 10.0),
            privateinfo_scopes=self.get(w, "wecom", "privateinfo_scopes", tuple,
                                        d.privateinfo_scopes),
            verify_files=tuple(sorted(verify.items())),
            directory=self.get(w, "wecom", "directory", bool, True),
            directory_ttl=self.positive(w, "wecom", "directory_ttl", d.directory_ttl),
            directory_max_stale=self.positive(w, "wecom", "directory_max_stale",
                                              d.directory_max_stale),
            **urls,
        )

    def store(self) -> StoreSettings:
        s = self.section("store")
        url = self.get(s, "store", "url", str, "sqlite:///data/wecom-oidc.db")
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            # Relative SQLite paths are relative to the config file, not the cwd.
            url = "sqlite:///" + str(self.path(url[len("sqlite:///"):]))
        elif urlsplit(url).scheme.lower() in REDIS_SCHEMES:
            if url.lower().startswith(("redis+sentinel:", "rediss+sentinel:")) and \
                    not urlsplit(url).path.strip("/"):
                self.problem("store.url", "redis+sentinel:// needs the master's service "
                             "name: redis+sentinel://host:26379,host2:26379/SERVICE/DB")
        elif not url.startswith("sqlite:////") and url.rstrip("/") != "memory:":
            # open_store() knows only these; anything else would pass the check
            # and then stop the server at startup.
            self.problem("store.url", "must be sqlite:///PATH, memory:// or a Redis URL "
                         "(redis://, rediss://, redis+sentinel://, redis+cluster://)")
        return StoreSettings(url=url)

    def clients(self) -> tuple[ClientSettings, ...]:
        raw = self.raw.get("clients", [])
        if not isinstance(raw, list):
            self.problem("clients", f"must be an array of tables ([[clients]]), got {raw!r}")
            return ()
        if not raw:
            self.problem("clients", "no client registered: add at least one [[clients]] entry")
        out, seen = [], set()
        for i, c in enumerate(raw):
            prefix = f"clients[{i}]"
            if not isinstance(c, dict):
                self.problem(prefix, "must be a table")
                continue
            cid = self.get(c, prefix, "client_id", str, "", required=True)
            if cid in seen:
                self.problem(f"{prefix}.client_id", f"duplicate client_id {cid!r}")
            seen.add(cid)
            uris = self.get(c, prefix, "redirect_uris", tuple, (), required=True)
            if "redirect_uris" in c and not uris:
                self.problem(f"{prefix}.redirect_uris", "must list at least one URI")
            logout = self.get(c, prefix, "post_logout_redirect_uris", tuple, ())
            for j, u in enumerate(uris):
                self.redirect_uri(f"{prefix}.redirect_uris[{j}]", u)
            for j, u in enumerate(logout):
                self.redirect_uri(f"{prefix}.post_logout_redirect_uris[{j}]", u)
            out.append(ClientSettings(
                client_id=cid, redirect_uris=uris, post_logout_redirect_uris=logout,
                client_secret=self.secret(c, prefix, "client_secret", required=False),
                name=self.get(c, prefix, "name", str, ""),
                refresh_tokens=self.choice(c, prefix, "refresh_tokens",
                                           ("offline_access", "always", "never")),
                backchannel_logout_uri=self.logout_uri(c, prefix, "backchannel_logout_uri"),
                frontchannel_logout_uri=self.logout_uri(c, prefix, "frontchannel_logout_uri"),
                id_token_signed_response_alg=self.choice(
                    c, prefix, "id_token_signed_response_alg", ("RS256", "ES256")),
                **self.client_claims(c, prefix),
            ))
        return tuple(out)

    def choice(self, sec: dict, prefix: str, key: str, allowed: tuple[str, ...]) -> str:
        """One of `allowed`; the first is the default."""
        value = self.get(sec, prefix, key, str, allowed[0])
        if value not in allowed:
            self.problem(f"{prefix}.{key}", f"must be one of {', '.join(allowed)}, got {value!r}")
            return allowed[0]
        return value

    def logout_uri(self, sec: dict, prefix: str, key: str) -> str:
        value = self.get(sec, prefix, key, str, "")
        if value:
            self.redirect_uri(f"{prefix}.{key}", value)
            if not value.startswith(("http://", "https://")):
                self.problem(f"{prefix}.{key}", "must be an http(s) URL")
        return value

    def redirect_uri(self, key: str, uri: str) -> None:
        parts = urlsplit(uri)
        if not parts.scheme or parts.fragment:
            self.problem(key, f"{uri!r} must be absolute and have no #fragment")
        elif parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            self.problem(key, f"{uri!r}: plain http is only allowed for loopback redirects")
