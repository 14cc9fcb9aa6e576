"""The raw mapping -> Settings, every problem collected with its file and key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .clients import ClientRules
from .deployment import MEMORY_ONE_PROCESS, is_memory
from .settings import (
    DEFAULT_RATES,
    EMAIL_SOURCES,
    LOOPBACK_HOSTS,
    REDIS_SCHEMES,
    ClaimsSettings,
    KeySettings,
    LimitSettings,
    OffboardingSettings,
    Rate,
    Secret,
    ServerSettings,
    SessionSettings,
    Settings,
    StoreSettings,
    TokenSettings,
    WecomSettings,
    json_or,
)
from .unknown_keys import track, unknown


class Validator(ClientRules):
    """Turns the raw mapping into Settings, collecting every problem."""

    def __init__(self, raw: dict[str, Any], source: str, base: Path):
        self._asked: dict[str, set[str]] = {}
        self._plain = raw
        self.raw, self.source, self.base = track(raw, self._asked), source, base
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, key: str, msg: str) -> None:
        self.problems.append(f"{self.source}: {key}: {msg}")

    def warn(self, key: str, msg: str) -> None:
        self.warnings.append(f"{self.source}: {key}: {msg}")

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
            value = json_or(value, list)
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
        _ = key in sec  # known either way: the file wins over an inline value
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

    def metrics_bind(self, s: dict) -> str:
        value = self.get(s, "server", "metrics_bind", str, "")
        if value and not re.fullmatch(r"[^\s:]*:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}", value):
            self.problem("server.metrics_bind", f"{value!r}: must be host:port, e.g. "
                         '"0.0.0.0:9100" (or "" for /metrics on [server] bind)')
        elif value and value == self.get(s, "server", "bind", str, ServerSettings.bind):
            self.problem("server.metrics_bind", "must differ from [server] bind")
        return value

    def audit_log(self, s: dict) -> str:
        value = self.get(s, "server", "audit_log", str, "")
        if value and value not in ("stderr", "stdout"):
            path = self.path(value)
            if not path.parent.is_dir():
                self.problem("server.audit_log", f"{path.parent} is not a directory "
                             '(give "stderr", "stdout" or a file path)')
            return str(path)
        return value

    def metrics_token(self, s: dict) -> Secret | None:
        token = self.secret(s, "server", "metrics_token", required=False)
        if token is not None and len(token.reveal()) < 16:
            self.problem("server.metrics_token", "must be at least 16 characters "
                         "(e.g. `openssl rand -hex 32`)")
        return token

    def settings(self) -> Settings:
        issuer = self.get(self.raw, "", "issuer", str, "", required=True).rstrip("/")
        if issuer:
            self.url("issuer", issuer, https_unless_loopback=True)
        upstream = self.get(self.raw, "", "upstream", str, "wecom")
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
            metrics_bind=self.metrics_bind(s),
            metrics_token=self.metrics_token(s),
            log_level=self.choice(s, "server", "log_level", ("info", "debug", "warning",
                                                             "error")),
            audit_log=self.audit_log(s),
        )
        if server.workers > 1 and "workers" in s and is_memory(store.url):
            self.problem("server.workers", MEMORY_ONE_PROCESS.format(n=server.workers))
        t = self.section("tokens")
        tokens = TokenSettings(
            code_ttl=self.positive(t, "tokens", "code_ttl", TokenSettings.code_ttl),
            access_token_ttl=self.positive(t, "tokens", "access_token_ttl", 3600),
            id_token_ttl=self.positive(t, "tokens", "id_token_ttl", 3600),
            login_state_ttl=self.positive(t, "tokens", "login_state_ttl", 600),
            refresh_token_ttl=self.positive(t, "tokens", "refresh_token_ttl", 30 * 86400),
            member_recheck_ttl=self.positive(t, "tokens", "member_recheck_ttl", 300),
            device_code_ttl=self.positive(t, "tokens", "device_code_ttl",
                                          TokenSettings.device_code_ttl),
            device_poll_interval=self.positive(t, "tokens", "device_poll_interval",
                                               TokenSettings.device_poll_interval),
        )
        se = self.section("session")
        session = SessionSettings(
            lifetime=self.positive(se, "session", "lifetime", SessionSettings.lifetime),
            cookie_name=self.get(se, "session", "cookie_name", str, SessionSettings.cookie_name),
        )
        if not 60 <= tokens.code_ttl <= 600:
            self.problem("tokens.code_ttl", "must be between 60 and 600 seconds (RFC 9700)")
        if not 60 <= tokens.device_code_ttl <= 1800:
            self.problem("tokens.device_code_ttl", "must be between 60 and 1800 seconds: a "
                         "user code is guessable for as long as it lives (RFC 8628 §5.1)")
        if not 1 <= tokens.device_poll_interval <= 60:
            self.problem("tokens.device_poll_interval", "must be between 1 and 60 seconds")
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
        limits = self.limits()
        offboarding = self.offboarding()
        for key, msg in unknown(self._plain, self._asked):
            self.problem(key, msg)
        if self.problems:
            raise ConfigError(self.problems)
        assert wecom is not None
        return Settings(issuer=issuer, wecom=wecom, clients=clients, store=store, keys=keys,
                        server=server, tokens=tokens, claims=claims, session=session,
                        groups=groups, limits=limits, offboarding=offboarding,
                        source=self.source,
                        warnings=tuple(self.warnings),
                        upstream=upstream)

    def offboarding(self) -> OffboardingSettings:
        sec = self.section("offboarding")
        token = self.secret(sec, "offboarding", "callback_token", required=False)
        key = self.secret(sec, "offboarding", "callback_aes_key", required=False)
        if token is not None and not re.match(r"^[A-Za-z0-9]{1,32}$", token.reveal()):
            self.problem("offboarding.callback_token",
                         "must be 1-32 letters or digits (the Token set in the WeCom console)")
        if key is not None and not re.match(r"^[A-Za-z0-9]{43}$", key.reveal()):
            self.problem("offboarding.callback_aes_key",
                         "must be the 43-character EncodingAESKey from the WeCom console")
        if (token is None) != (key is None):
            self.problem("offboarding.callback_token" if token is None else
                         "offboarding.callback_aes_key",
                         "set both callback_token and callback_aes_key, or neither")
        interval = self.get(sec, "offboarding", "sweep_interval", int,
                            OffboardingSettings.sweep_interval)
        if interval < 0 or 0 < interval < 5:
            self.problem("offboarding.sweep_interval", "must be 0 (off) or at least 5 seconds")
        return OffboardingSettings(
            callback_token=token, callback_aes_key=key, sweep_interval=interval,
            sweep_rate=self.positive(sec, "offboarding", "sweep_rate",
                                     OffboardingSettings.sweep_rate))

    def limits(self) -> LimitSettings:
        sec = self.section("limits")
        rates: list[tuple[str, Rate | None]] = []
        for name, default in DEFAULT_RATES.items():
            text = self.get(sec, "limits", name, str, default)
            if text.strip().lower() == "off":
                rates.append((name, None))
                continue
            try:
                rates.append((name, Rate.parse(text)))
            except ValueError as e:
                self.problem(f"limits.{name}", str(e))
                rates.append((name, Rate.parse(default)))
        delay = self.get(sec, "limits", "failed_auth_delay", float,
                         LimitSettings.failed_auth_delay)
        if not 0 <= delay <= 2:
            self.problem("limits.failed_auth_delay", "must be between 0 and 2 seconds "
                         "(a longer hold ties up the server's threads)")
        return LimitSettings(enabled=self.get(sec, "limits", "enabled", bool, True),
                             rates=tuple(rates), failed_auth_delay=delay)

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
        verify = json_or(w.get("verify_files", {}), dict)
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
