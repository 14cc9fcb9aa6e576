"""Every kind of record the bridge keeps in the store, in one place: what lives
there, who writes it, and so which names are taken. The modules that own a kind
keep a short alias (`CODE = Kind.CODE`); the values are the stored names, so they
never change."""

from __future__ import annotations

from enum import StrEnum, unique


@unique  # two owners of one name would read each other's records
class Kind(StrEnum):
    # A login in flight across the WeCom hop (web/login_state.py), and the device
    # page's own (web/device.py).
    LOGIN = "login"
    DEVICE_LOGIN = "device_login"
    # The bridge session, under its public sid (the cookie names the sid and a
    # secret; oidc/session.py), and the person of that login, whom the session,
    # codes, tokens and device grants refer to by the sid (oidc/person.py).
    SESSION = "session"
    PERSON = "person"
    # Codes and tokens, and the used ones remembered to catch replays (oidc/grants.py).
    CODE = "code"
    USED_CODE = "code_used"
    ACCESS_TOKEN = "access_token"
    REFRESH_TOKEN = "refresh_token"
    USED_REFRESH_TOKEN = "refresh_token_used"
    # The device grant (oidc/device.py).
    DEVICE = "device_code"
    USED_DEVICE = "device_code_used"
    USER_CODE = "device_user_code"
    POLL = "device_poll"
    # A member as WeCom last described them (oidc/provider.py, member_recheck_ttl).
    MEMBER_CHECK = "member_check"
    # Offboarding: member -> sessions -> apps, the live members, one sweeper
    # (oidc/member_index.py, oidc/sweep.py), callbacks already seen (web/wecom_events.py).
    MEMBER_GRANTS = "member_grants"
    GRANT_CLIENTS = "grant_clients"
    LIVE_MEMBERS = "live_members"
    SWEEP_LOCK = "sweep_lock"
    WECOM_EVENT_SEEN = "wecom_event_seen"
    # Signing keys published by replicas (oidc/keys_shared.py).
    PUBLISHED_KEYS = "published_keys"
    # WeCom's access_token, the directory, their locks, the API back-off (wecom/,
    # upstream/directory.py).
    WECOM_TOKEN = "wecom_token"
    WECOM_TOKEN_LOCK = "wecom_token_lock"
    WECOM_DIRECTORY = "wecom_directory"
    WECOM_DIRECTORY_LOCK = "wecom_directory_lock"
    WECOM_BACKOFF = "wecom_backoff"
    # Rate-limit counters (ratelimit.py), a namespace of their own in every store.
    RATE = "rate"
