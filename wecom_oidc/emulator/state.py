"""Everything the emulator remembers: tokens, codes, tickets, call counters, the clock.

One lock guards it all; the emulator runs in a threaded server.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .callbacks import CallbackTarget
from .config import EmulatorConfig
from .directory import Directory, load_directory
from .faults import FaultPlan


class Clock:
    """Wall time plus an offset that /_emulator/advance moves forward."""

    def __init__(self, base: Callable[[], float] = time.time):
        self._base = base
        self.offset = 0.0

    def __call__(self) -> float:
        return self._base() + self.offset


@dataclass(frozen=True)
class Grant:
    """What a code stands for (wecom-api.md §2, §3): who, for which app, host and scope."""

    agentid: int
    redirect_host: str
    scope: str          # snsapi_base | snsapi_privateinfo
    mode: str           # inapp | web
    person: str         # a member's userid or a non-member's id
    is_member: bool
    expires_at: float


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] | None = None):
        self.config = config
        self.clock = clock if clock is not None else Clock()
        self.lock = threading.RLock()
        self.faults = FaultPlan()
        # Where contact-change callbacks go; kept across reset (it is the console's
        # setting, not state).
        self.callback = CallbackTarget()
        self.reset()

    def reset(self) -> None:
        """Back to the state right after start: the directory as loaded, faults and
        latency as configured, no tokens, codes or tickets, counters at zero."""
        with self.lock:
            self.directory: Directory = load_directory(self.config.directory_path)
            self.tokens: dict[str, tuple[tuple[str, str], float]] = {}
            self.codes: dict[str, Grant] = {}
            self.tickets: dict[str, tuple[str, int, float]] = {}
            self.calls: Counter[str] = Counter()
            if isinstance(self.clock, Clock):
                self.clock.offset = 0.0
            self.faults.clear()
            for api, ms in self.config.latency.items():
                self.faults.set_latency(api, int(ms))
            for fault in self.config.faults:
                self.faults.add(fault["api"], fault["errcode"], int(fault.get("count", 1)))

    def count(self, api: str) -> None:
        with self.lock:
            self.calls[api] += 1

    # access_token (§1): one per (corpid, secret), the same string while valid.
    def token_for(self, corpid: str, secret: str) -> tuple[str, int]:
        now = self.clock()
        with self.lock:
            for token, (key, expires_at) in self.tokens.items():
                if key == (corpid, secret) and expires_at > now:
                    return token, math.ceil(expires_at - now)
            token = secrets.token_urlsafe(96)  # 128 chars: inside the 512-byte limit
            self.tokens[token] = ((corpid, secret), now + self.config.token_ttl)
            return token, self.config.token_ttl

    def check_token(self, token: str) -> int:
        """0, 41001 missing, 40014 unknown or revoked, 42001 expired."""
        if not token:
            return 41001
        with self.lock:
            found = self.tokens.get(token)
        if found is None:
            return 40014
        return 42001 if found[1] <= self.clock() else 0

    def expire_tokens(self, mode: str) -> None:
        """"revoke": forget every token (next call 40014); "expire": end them now (42001)."""
        with self.lock:
            if mode == "revoke":
                self.tokens.clear()
            else:
                now = self.clock()
                self.tokens = {t: (k, min(e, now)) for t, (k, e) in self.tokens.items()}

    # OAuth codes (§2): single use, code_ttl seconds.
    def mint_code(self, **grant: Any) -> str:
        code = secrets.token_urlsafe(48)
        with self.lock:
            self.codes[code] = Grant(expires_at=self.clock() + self.config.code_ttl, **grant)
        return code

    def take_code(self, code: str) -> Grant | None:
        """The grant, consumed; None if unknown, used or expired (all 40029)."""
        with self.lock:
            grant = self.codes.pop(code, None)
        if grant is None or grant.expires_at <= self.clock():
            return None
        return grant

    # user_ticket (§4): ticket_ttl seconds, reusable until then.
    def mint_ticket(self, userid: str, agentid: int) -> str:
        ticket = secrets.token_urlsafe(64)
        with self.lock:
            self.tickets[ticket] = (userid, agentid, self.clock() + self.config.ticket_ttl)
        return ticket

    def check_ticket(self, ticket: str) -> tuple[int, str]:
        """(0, userid), (84015, "") unknown, (84014, "") expired."""
        with self.lock:
            found = self.tickets.get(ticket)
        if found is None:
            return 84015, ""
        if found[2] <= self.clock():
            return 84014, ""
        return 0, found[0]
