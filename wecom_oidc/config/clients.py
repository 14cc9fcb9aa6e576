"""Validation of [[clients]], [groups] and claim mappings (a mixin of Validator)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .secret_hash import MIN_SECRET_LENGTH, parse_secret_hash
from .settings import (
    AUTHORIZATION_CODE,
    EXTRA_CLAIM_SOURCES,
    GRANT_TYPES,
    LOOPBACK_HOSTS,
    RESERVED_CLAIMS,
    SELECTOR_KINDS,
    ClientSettings,
    GroupsSettings,
    json_or,
)


class ClientRules:
    """The client-side rules; relies on Validator's get/problem/section helpers."""

    if TYPE_CHECKING:  # provided by Validator, the class this is mixed into
        from .settings import Secret

        raw: dict[str, Any]

        def problem(self, key: str, msg: str) -> None: ...
        def warn(self, key: str, msg: str) -> None: ...
        def section(self, name: str) -> dict[str, Any]: ...
        def get(self, sec: dict, prefix: str, key: str, kind: type, default: Any = None,
                required: bool = False) -> Any: ...
        def secret(self, sec: dict, prefix: str, key: str,
                   required: bool) -> Secret | None: ...
        def positive(self, sec: dict, prefix: str, key: str, default: int) -> int: ...

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
        extra = json_or(c.get("extra_claims", {}), dict)
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
        roles = json_or(c.get("roles", {}), dict)
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
            grant_types = self.grant_types(c, prefix)
            # A device-only client (a CLI) never redirects: it needs no redirect_uris.
            code_grant = AUTHORIZATION_CODE in grant_types
            uris = self.get(c, prefix, "redirect_uris", tuple, (), required=code_grant)
            if code_grant and "redirect_uris" in c and not uris:
                self.problem(f"{prefix}.redirect_uris", "must list at least one URI")
            logout = self.get(c, prefix, "post_logout_redirect_uris", tuple, ())
            for j, u in enumerate(uris):
                self.redirect_uri(f"{prefix}.redirect_uris[{j}]", u)
            for j, u in enumerate(logout):
                self.redirect_uri(f"{prefix}.post_logout_redirect_uris[{j}]", u)
            out.append(ClientSettings(
                client_id=cid, redirect_uris=uris, post_logout_redirect_uris=logout,
                **self.client_secret(c, prefix),
                allowed_origins=self.origins(c, prefix),
                name=self.get(c, prefix, "name", str, ""),
                refresh_tokens=self.choice(c, prefix, "refresh_tokens",
                                           ("offline_access", "always", "never")),
                backchannel_logout_uri=self.logout_uri(c, prefix, "backchannel_logout_uri"),
                frontchannel_logout_uri=self.logout_uri(c, prefix, "frontchannel_logout_uri"),
                id_token_signed_response_alg=self.choice(
                    c, prefix, "id_token_signed_response_alg", ("RS256", "ES256")),
                access_token_format=self.choice(c, prefix, "access_token_format",
                                                ("jwt", "opaque")),
                grant_types=grant_types,
                **self.client_claims(c, prefix),
            ))
        return tuple(out)

    def grant_types(self, c: dict, prefix: str) -> tuple[str, ...]:
        """authorization_code (the default) and/or the device grant's URN."""
        value = self.get(c, prefix, "grant_types", tuple, (AUTHORIZATION_CODE,))
        if "refresh_token" in value:
            self.problem(f"{prefix}.grant_types", "refresh tokens are set by refresh_tokens "
                         '("offline_access", "always", "never"), not by grant_types')
        elif not value or any(v not in GRANT_TYPES for v in value):
            self.problem(f"{prefix}.grant_types", f"must list one or more of "
                         f"{', '.join(GRANT_TYPES)}, got {list(value)!r}")
            return (AUTHORIZATION_CODE,)
        return tuple(dict.fromkeys(value))

    def client_secret(self, c: dict, prefix: str) -> dict[str, Any]:
        """client_secret or client_secret_hash (neither: a public client). A secret is
        32 characters or more unless allow_short_secret says otherwise: online guessing
        is rate limited, offline guessing of a leaked hash or log is not."""
        secret = self.secret(c, prefix, "client_secret", required=False)
        hashed = self.get(c, prefix, "client_secret_hash", str, "").strip()
        allow_short = self.get(c, prefix, "allow_short_secret", bool, False)
        if secret is not None and hashed:
            self.problem(f"{prefix}.client_secret_hash",
                         "give either client_secret or client_secret_hash, not both")
        if hashed:
            try:
                parsed = parse_secret_hash(hashed)
            except ValueError as e:
                self.problem(f"{prefix}.client_secret_hash", str(e))
            else:
                if allow_short and not parsed.slow:
                    self.warn(f"{prefix}.allow_short_secret", "a short secret under a fast "
                              "hash can be guessed offline from a leaked config: hash it "
                              "with `wecom-oidc hash-secret --pbkdf2`")
        elif secret is not None and len(secret.reveal()) < MIN_SECRET_LENGTH:
            if allow_short:
                self.warn(f"{prefix}.client_secret", f"shorter than {MIN_SECRET_LENGTH} "
                          "characters (allowed by allow_short_secret)")
            else:
                self.problem(f"{prefix}.client_secret",
                             f"is {len(secret.reveal())} characters: use {MIN_SECRET_LENGTH} "
                             "or more (`wecom-oidc hash-secret --generate` makes one), or "
                             "set allow_short_secret = true for this client")
        return dict(client_secret=secret, client_secret_hash=hashed,
                    allow_short_secret=allow_short)

    def origins(self, c: dict, prefix: str) -> tuple[str, ...]:
        """allowed_origins: exact browser origins, https unless loopback, no wildcard."""
        value = self.get(c, prefix, "allowed_origins", tuple, ())
        for j, origin in enumerate(value):
            key = f"{prefix}.allowed_origins[{j}]"
            parts = urlsplit(origin)
            if "*" in origin:
                self.problem(key, "a wildcard is never allowed: list each origin")
            elif parts.scheme not in ("http", "https") or not parts.hostname:
                self.problem(key, f"{origin!r} must be scheme://host[:port], "
                             "e.g. https://app.example.com")
            elif parts.path or parts.query or parts.fragment or "@" in parts.netloc:
                self.problem(key, f"{origin!r}: an origin has no path, query or user")
            elif parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
                self.problem(key, f"{origin!r}: must use https (plain http only on loopback)")
            else:
                try:
                    parts.port  # noqa: B018 - raises on a malformed port
                except ValueError:
                    self.problem(key, f"{origin!r}: the port is not a number in 1-65535")
        return value

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
