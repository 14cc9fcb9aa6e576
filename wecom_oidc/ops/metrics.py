"""Prometheus metrics: logins, WeCom calls, the token cache, tokens issued, store errors.

Under `serve` every worker is its own process: `wecom-oidc serve` points
PROMETHEUS_MULTIPROC_DIR at a fresh folder before any worker starts, each worker
writes its counts there, and /metrics adds them up (prometheus_client's multiprocess
mode), so a scrape sees the whole server whichever worker answers it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
    values,
)

from ..errors import StoreUnavailable
from ..store.base import Increment, IndexEntry, Put, Used

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_GRANTS = ("authorization_code", "refresh_token")
# WeCom answers within ~100 ms normally; the client's read timeout is 10 s by default.
_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One app's metrics. Its methods are the observers handed to the WeCom client,
    the token cache and the store wrapper; none of them ever raises."""

    def __init__(self, registry: CollectorRegistry | None = None):
        _multiprocess_values_if_asked()
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.logins = Counter("wecom_oidc_logins", "WeCom logins finished at the callback",
                              ["outcome", "mode"], registry=r)
        self.wecom_calls = Counter("wecom_oidc_wecom_calls", "HTTP calls to the WeCom API",
                                   ["api", "errcode"], registry=r)
        self.wecom_latency = Histogram("wecom_oidc_wecom_call_duration_seconds",
                                       "WeCom API call latency", ["api"],
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.token_cache = Counter("wecom_oidc_wecom_token_cache",
                                   "WeCom access_token look-ups: hit (cached) or miss "
                                   "(this caller ran gettoken)", ["result"], registry=r)
        self.tokens_issued = Counter("wecom_oidc_tokens_issued",
                                     "Successful /token responses", ["grant_type"], registry=r)
        self.rate_limited = Counter("wecom_oidc_rate_limited",
                                    "Requests refused with 429 by a [limits] rule", ["rule"],
                                    registry=r)
        self.client_auth_failures = Counter("wecom_oidc_client_auth_failures",
                                            "Failed client authentications (token, "
                                            "introspect, revoke)", ["client"], registry=r)
        self.wecom_backoffs = Counter("wecom_oidc_wecom_backoff",
                                      "WeCom calls not sent because the bridge backs off "
                                      "an API after WeCom's rate limit (45009, 45033)",
                                      ["api"], registry=r)
        self.directory_errors = Counter("wecom_oidc_directory_unavailable",
                                        "Logins or refreshes that needed the WeCom directory "
                                        "(departments, tags) when it could not be read",
                                        registry=r)
        self.store_errors = Counter("wecom_oidc_store_errors",
                                    "State store operations that failed (StoreUnavailable)",
                                    ["operation"], registry=r)

        self.callback_events = Counter(
            "wecom_oidc_wecom_callback_events", "WeCom callbacks received, by event and "
            "outcome (accepted, duplicate, bad_signature, bad_corp, stale, junk)",
            ["event", "outcome"], registry=r)
        self.members_revoked = Counter(
            "wecom_oidc_members_revoked", "Members whose sessions and tokens were revoked, "
            "by trigger (callback, sweep, recheck)", ["trigger"], registry=r)
        self.sweep_duration = Histogram(
            "wecom_oidc_sweep_duration_seconds", "Reconciliation sweep duration",
            buckets=(1, 5, 15, 60, 300, 900, 3600), registry=r)

        # (metric, label values) -> its child, bound once: labels() takes a lock and
        # converts every value on each call. As bounded as the metrics' own labels.
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        child = self._children.get((metric, values))
        if child is None:
            child = self._children[(metric, values)] = metric.labels(*values)
        return child

    # -- observers -------------------------------------------------------------------

    def callback_event(self, event: str, outcome: str) -> None:
        self._child(self.callback_events, event, outcome).inc()

    def member_revoked(self, trigger: str) -> None:
        self._child(self.members_revoked, trigger).inc()

    def swept(self, seconds: float, revoked: int) -> None:
        self.sweep_duration.observe(seconds)

    def wecom_call(self, api: str, errcode: int | None, elapsed: float) -> None:
        """WecomClient's observer: errcode None = no WeCom answer (timeout, HTTP error)."""
        self._child(self.wecom_calls, api, "transport" if errcode is None else str(errcode)).inc()
        self._child(self.wecom_latency, api).observe(elapsed)

    def token_lookup(self, hit: bool) -> None:
        self._child(self.token_cache, "hit" if hit else "miss").inc()

    def login(self, outcome: str, mode: str) -> None:
        self._child(self.logins, outcome, mode).inc()

    def token_issued(self, grant_type: str) -> None:
        self._child(self.tokens_issued, grant_type if grant_type in _GRANTS else "other").inc()

    def limited(self, rule: str) -> None:
        self._child(self.rate_limited, rule).inc()

    def client_auth_failed(self, client_id: str) -> None:
        """client_id is '' for an unregistered one (labels stay bounded)."""
        self._child(self.client_auth_failures, client_id or "unknown").inc()

    def wecom_backoff(self, api: str) -> None:
        self._child(self.wecom_backoffs, api).inc()

    def directory_unavailable(self) -> None:
        self.directory_errors.inc()

    def store_error(self, operation: str) -> None:
        self._child(self.store_errors, operation).inc()

    def instrument(self, store: Any) -> InstrumentedStore:
        """`store`, counting every StoreUnavailable it raises."""
        return InstrumentedStore(store, self.store_error)

    # -- exposition ------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) for /metrics: every worker's counts when multiprocess."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def serve_exposition(bind: str) -> None:
    """Serve /metrics (every worker's counts) on `bind` ([server] metrics_bind) from a
    thread of the server's parent process, apart from the port the app is published on."""
    host, _, port = bind.rpartition(":")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0", registry=registry)


def _multiprocess_values_if_asked() -> None:
    """prometheus_client picks file-backed values when imported with the env var set;
    if it was imported earlier in the process (before `serve` set it), pick again."""
    if os.environ.get(MULTIPROC_ENV) and values.ValueClass is values.MutexValue:
        values.ValueClass = values.get_value_class()


class InstrumentedStore:
    """A StateStore that counts its backend failures; everything else is the wrapped
    store's (`wrapped` gives it back)."""

    def __init__(self, wrapped: Any, on_error: Any):
        self.wrapped = wrapped
        self._on_error = on_error

    def _run(self, operation: str, *args: Any) -> Any:
        try:
            return getattr(self.wrapped, operation)(*args)
        except StoreUnavailable:
            self._on_error(operation)
            raise

    def put(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> None:
        self._run("put", kind, key, record, ttl)

    def put_many(self, items: Sequence[Put], index: Sequence[IndexEntry] = ()) -> None:
        self._run("put_many", items, index)

    def add(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> bool:
        return self._run("add", kind, key, record, ttl)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self._run("get", kind, key)

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        return self._run("get_many", items)

    def take(self, kind: str, key: str, used: Used | None = None) -> dict[str, Any] | None:
        return self._run("take", kind, key, used)

    def delete(self, kind: str, key: str) -> None:
        self._run("delete", kind, key)

    def delete_if(self, kind: str, key: str, record: dict[str, Any]) -> bool:
        return self._run("delete_if", kind, key, record)

    def incr(self, kind: str, key: str, ttl: float, amount: int = 1) -> int:
        return self._run("incr", kind, key, ttl, amount)

    def incr_many(self, kind: str, counters: Sequence[Increment]) -> list[int]:
        return self._run("incr_many", kind, counters)

    def revoke_grant(self, grant_id: str) -> int:
        return self._run("revoke_grant", grant_id)

    def index_add(self, kind: str, key: str, member: str, ttl: float) -> None:
        self._run("index_add", kind, key, member, ttl)

    def index_add_many(self, entries: Sequence[IndexEntry]) -> None:
        self._run("index_add_many", entries)

    def index_members(self, kind: str, key: str) -> list[str]:
        return self._run("index_members", kind, key)

    def index_remove(self, kind: str, key: str, member: str) -> None:
        self._run("index_remove", kind, key, member)

    def ping(self) -> None:
        self._run("ping")

    def close(self) -> None:
        self.wrapped.close()

    def __getattr__(self, name: str) -> Any:  # backend extras (e.g. a Redis client)
        return getattr(self.wrapped, name)
