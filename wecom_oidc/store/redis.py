"""Redis StateStore: the store that several bridge replicas share.

Redis does the work itself: TTL is Redis expiry (PX, milliseconds, measured on the
server's clock, so the injected clock is not used for TTLs), `take` is GETDEL (atomic,
Redis >= 6.2), `add` is SET NX PX. Keys are `<prefix>r:<sha256(kind:key)>` (hash_key,
like every store; counters `<prefix>c:...`), so a code or token never sits in Redis raw.

Token families: a record carrying a grant_id is also listed in the set
`<prefix>g:<sha256(grant:<grant_id>)>`, whose expiry is kept >= its members'.
revoke_grant deletes the members still carrying that grant_id (a later put may have moved
a key to another grant), then the set.
- Standalone / Sentinel: the record write + set update is one Lua script, and so is the
  revoke, so a revoke never interleaves with a write to the same family.
- Cluster: a family's records live in many slots (keys are hashes of secret values and
  cannot carry the grant as a hash tag, since get/take know only the value). So the set
  stores the member keys; the write is SET then a one-key script on the set, and the
  revoke reads the set and deletes each member with a one-key compare-and-delete script.
  Every member is deleted atomically, but a record written into the family *while* it is
  being revoked may survive (it expires by its own TTL).

Failures (connection refused, timeouts, cluster down, no Sentinel master...) raise
StoreUnavailable, which the web layer answers with 503; redis-py reconnects by itself on
the next call, so service resumes when Redis is back.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoScriptError, RedisClusterException
from redis.retry import Retry

from ..errors import StoreUnavailable
from .base import (
    NO_CEILING,
    Increment,
    IndexEntry,
    Put,
    Used,
    check_increments,
    check_kind,
    check_member,
    check_ttl,
    check_used,
    dump_record,
    grant_of,
    hash_key,
    load_record,
    up_to_ceiling,
    used_marker,
)
from .redis_conns import Lender
from .redis_url import RedisTarget, parse_redis_url

log = logging.getLogger(__name__)

SOCKET_TIMEOUT = 2.0  # a request must not hang on Redis: fail fast, answer 503
CONNECT_TIMEOUT = 2.0
HEALTH_CHECK_INTERVAL = 15  # PING an idle pooled connection before reuse (LB/NAT idle cuts)

# SET [NX] PX on the record, then list it in its grant's set and stretch the set's expiry.
# Compare-and-delete: a lock is released only by the worker that still owns it.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# A counter: INCRBY, and an expiry only when the key has none yet (fixed window); an
# amount of 0 only reads (an absent counter stays absent).
_INCR = """
local counts = {}
for i, key in ipairs(KEYS) do
  if ARGV[3 * i - 1] == '0' then
    counts[i] = tonumber(redis.call('GET', key) or '0')
  else
    counts[i] = redis.call('INCRBY', key, ARGV[3 * i - 1])
    if redis.call('PTTL', key) < 0 then
      redis.call('PEXPIRE', key, ARGV[3 * i - 2])
    end
  end
  if counts[i] > tonumber(ARGV[3 * i]) then break end
end
return counts
"""

_WRITE = """
local ok
if ARGV[3] == '1' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if not ok then return 0 end
if KEYS[2] then
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
  end
end
return 1
"""

# Cluster: the set half of _WRITE (one key, so one slot).
_GRANT_ADD = """
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""

_GRANT_CHECK = """
local function of_grant(key, grant)
  local v = redis.call('GET', key)
  if not v then return false end
  local ok, rec = pcall(cjson.decode, v)
  return ok and type(rec) == 'table' and rec['grant_id'] == grant
end
"""

# Standalone: the whole family in one script. It reads the members from the set, so it
# touches keys not passed in KEYS, which standalone Redis allows (Cluster would not).
_REVOKE = _GRANT_CHECK + """
local n = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if of_grant(key, ARGV[1]) then
    redis.call('DEL', key)
    n = n + 1
  end
end
redis.call('DEL', KEYS[1])
return n
"""

# Cluster: one member, compare-and-delete.
_DROP_MEMBER = _GRANT_CHECK + """
if of_grant(KEYS[1], ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


# Index sets are sorted sets scored by expiry (ms on Redis's own clock, like every TTL
# here); ZADD GT keeps the later expiry of a member added again, and the key itself
# lives as long as its longest member.
_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
_INDEX_ADD = _NOW_MS + """
local exp = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'GT', exp, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""
_INDEX_ADD_MANY = _NOW_MS + """
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[2 * i])
  redis.call('ZADD', key, 'GT', now + ttl, ARGV[2 * i - 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
return 1
"""
_INDEX_MEMBERS = _NOW_MS + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
"""


def connection_options() -> dict[str, Any]:
    """Timeouts and retry policy for every connection. Only connection errors are
    retried (nothing was executed); a timeout is not, since a GETDEL or SET NX may have
    run: repeating it would report a spent code or a held lock."""
    return {
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2,
                       supported_errors=(redis.ConnectionError,)),
        "decode_responses": True,
    }


def _connect(target: RedisTarget) -> tuple[Any, list[Any]]:
    """(the client, extra clients to close)."""
    options = connection_options()
    if target.mode == "cluster":
        from redis.cluster import ClusterNode, RedisCluster

        nodes = [ClusterNode(host, port) for host, port in target.hosts]
        node_options: dict[str, Any] = {**target.credentials, "ssl": target.ssl, **options}
        return RedisCluster(startup_nodes=nodes, **node_options), []
    if target.mode == "sentinel":
        from redis.sentinel import Sentinel

        sentinel_options = {k: options[k] for k in ("socket_timeout", "socket_connect_timeout")}
        sentinel = Sentinel(target.hosts, sentinel_kwargs={**sentinel_options, "ssl": target.ssl},
                            ssl=target.ssl, **options)
        master = sentinel.master_for(target.service, db=target.db, **target.credentials)
        return master, list(sentinel.sentinels)
    return redis.Redis.from_url(target.url, **options), []


class RedisStore:
    """StateStore on Redis (standalone, Sentinel or Cluster); see StateStore.

    One client (and its connection pool) per store, created once; redis-py pools are
    thread-safe and notice a fork, so forked workers never share a socket.
    """

    def __init__(self, client: Any, *, prefix: str = "wecom-oidc:", cluster: bool = False,
                 extra_clients: list[Any] | None = None):
        self._r = client
        self.prefix = prefix
        self.cluster = cluster
        self._extra = extra_clients or []
        self._write = client.register_script(_WRITE)
        self._grant_add = client.register_script(_GRANT_ADD)
        self._revoke = client.register_script(_REVOKE)
        self._drop_member = client.register_script(_DROP_MEMBER)
        self._delete_if = client.register_script(_DELETE_IF)
        self._incr = client.register_script(_INCR)
        self._index_add = client.register_script(_INDEX_ADD)
        self._index_add_many = client.register_script(_INDEX_ADD_MANY)
        self._index_members = client.register_script(_INDEX_MEMBERS)
        # Standalone and Sentinel: one pool behind the client (Cluster has one per node),
        # whose connections a Lender hands out for the hot path's commands.
        pool = None if cluster else getattr(client, "connection_pool", None)
        self._lender = Lender(pool) if pool is not None else None

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """redis://, rediss://, unix://, redis+sentinel://, redis+cluster:// (see redis_url);
        ValueError for a malformed URL."""
        target = parse_redis_url(url)
        with _ERRORS:
            client, extra = _connect(target)
        return cls(client, prefix=target.prefix, cluster=target.mode == "cluster",
                   extra_clients=extra)

    # -- keys -------------------------------------------------------------------------

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}r:{hash_key(kind, key)}"

    def _set_key(self, kind: str, key: str) -> str:
        return f"{self.prefix}s:{hash_key(kind, key)}"

    def _grant_key(self, grant_id: str) -> str:
        return f"{self.prefix}g:{hash_key('grant', grant_id)}"

    # -- commands -------------------------------------------------------------------------

    def _command(self, *args: Any) -> Any:
        """One command and its raw reply, the way redis-py's execute_command runs it
        (the connection's retry policy: a connection error disconnects, then the
        command is sent again) without its per-command layers (response callbacks,
        event dispatch, metrics hooks, the pool's checkout: see redis_conns). Only for
        commands whose raw reply is what we use."""
        lender = self._lender
        if lender is None:
            return self._r.execute_command(*args)
        return lender.call(args)

    def _eval(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        if self._lender is None:
            return script(keys=keys, args=args)
        try:
            return self._command("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:  # the server lost it (restart, SCRIPT FLUSH): load, run
            return script(keys=keys, args=args)

    # -- StateStore ---------------------------------------------------------------------

    def _record(self, kind: str, key: str, record: dict[str, Any],
                ttl: float) -> tuple[str, str, int, str | None]:
        """(key, JSON text, ttl in ms, grant id) of a record to write, checked."""
        check_kind(kind)
        ms = max(1, math.ceil(check_ttl(ttl) * 1000))
        return self._key(kind, key), dump_record(record), ms, grant_of(record)

    def _set(self, kind: str, key: str, record: dict[str, Any], ttl: float, nx: bool) -> bool:
        rkey, text, ms, grant = self._record(kind, key, record, ttl)
        with _ERRORS:
            if grant is None:
                if nx:
                    return bool(self._command("SET", rkey, text, "PX", ms, "NX"))
                return bool(self._command("SET", rkey, text, "PX", ms))
            gkey = self._grant_key(grant)
            if not self.cluster:
                return bool(self._eval(self._write, [rkey, gkey], [text, ms, "1" if nx else "0"]))
            if not self._r.set(rkey, text, px=ms, nx=nx):
                return False
            self._grant_add(keys=[gkey], args=[rkey, ms])
            return True

    def put(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> None:
        self._set(kind, key, record, ttl, nx=False)

    def put_many(self, items: Sequence[Put], index: Sequence[IndexEntry] = ()) -> None:
        writes = [self._write_command(kind, key, record, ttl) for kind, key, record, ttl in items]
        entries = self._index_entries(index)
        if self._lender is None:  # Cluster: the keys are in many slots
            self._put_each(items, index)
            return
        if entries:
            keys, argv = _index_argv(entries)
            writes.append(("EVALSHA", self._index_add_many.sha, len(keys), *keys, *argv))
        if not writes:
            return
        with _ERRORS:
            replies = self._lender.call_many(writes)
        if any(isinstance(reply, NoScriptError) for reply in replies):
            self._put_each(items, index)  # the server lost a script; every write may run again
            return
        with _ERRORS:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply

    def _put_each(self, items: Sequence[Put], index: Sequence[IndexEntry]) -> None:
        for kind, key, record, ttl in items:
            self.put(kind, key, record, ttl)
        self.index_add_many(index)

    def _write_command(self, kind: str, key: str, record: dict[str, Any],
                       ttl: float) -> tuple[Any, ...]:
        """put's command, for a pipeline (standalone or Sentinel)."""
        rkey, text, ms, grant = self._record(kind, key, record, ttl)
        if grant is None:
            return ("SET", rkey, text, "PX", ms)
        return ("EVALSHA", self._write.sha, 2, rkey, self._grant_key(grant), text, ms, "0")

    def add(self, kind: str, key: str, record: dict[str, Any], ttl: float) -> bool:
        return self._set(kind, key, record, ttl, nx=True)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        rkey = self._key(kind, key)
        with _ERRORS:
            text = self._command("GET", rkey)
        return load_record(text) if text is not None else None

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        rkeys = [self._key(kind, key) for kind, key in items]
        if not rkeys:
            return []
        with _ERRORS:
            # Cluster: the keys are hashes in many slots; redis-py reads them slot by slot.
            texts = self._r.mget_nonatomic(rkeys) if self.cluster else self._r.mget(rkeys)
        return [load_record(t) if t is not None else None for t in texts]

    def take(self, kind: str, key: str, used: Used | None = None) -> dict[str, Any] | None:
        rkey = self._key(kind, key)
        if used is not None:
            used_kind, ttl = check_used(used)
        with _ERRORS:
            text = self._command("GETDEL", rkey)
        if text is None:
            return None
        record = load_record(text)
        if used is not None:
            # Two steps, on every Redis: the marker joins its grant's set, whose key is
            # the sha256 of a grant id known only once the record is read. A script
            # doing both would compute that hash in Lua, ~55 us of Redis's one thread
            # per call where GETDEL and the marker's put take ~3 us.
            self.put(used_kind, key, used_marker(record), ttl)
        return record

    def delete(self, kind: str, key: str) -> None:
        rkey = self._key(kind, key)
        with _ERRORS:
            self._r.delete(rkey)

    def delete_if(self, kind: str, key: str, record: dict[str, Any]) -> bool:
        rkey = self._key(kind, key)
        with _ERRORS:
            return bool(self._eval(self._delete_if, [rkey], [dump_record(record)]))

    def incr(self, kind: str, key: str, ttl: float, amount: int = 1) -> int:
        return self.incr_many(kind, [(key, ttl, amount, NO_CEILING)])[0]

    def incr_many(self, kind: str, counters: Sequence[Increment]) -> list[int]:
        checked = check_increments(kind, counters)
        if not checked:
            return []
        keys = [f"{self.prefix}c:{hkey}" for hkey, _, _, _ in checked]
        args = [[max(1, math.ceil(ttl * 1000)), amount, ceiling]
                for _, ttl, amount, ceiling in checked]
        with _ERRORS:
            if not any(amount for _, amount, _ in args):
                # Only reads (a request's failed-auth peeks): MGET, no script, no write;
                # a cluster reads slot by slot.
                texts = (self._r.mget_nonatomic(keys) if self.cluster
                         else self._command("MGET", *keys))
                return up_to_ceiling(checked, [int(t or 0) for t in texts])
            if not self.cluster:
                return [int(n) for n in self._eval(self._incr, keys, sum(args, []))]
            # A script may only touch keys of one slot: a cluster counts key by key.
            values: list[int] = []
            for key, arg in zip(keys, args, strict=True):
                values += [int(n) for n in self._incr(keys=[key], args=arg)]
                if values[-1] > arg[2]:
                    break
            return values

    def revoke_grant(self, grant_id: str) -> int:
        if not grant_id:
            return 0
        gkey = self._grant_key(grant_id)
        with _ERRORS:
            if not self.cluster:
                return int(self._revoke(keys=[gkey], args=[grant_id]))
            members = self._r.smembers(gkey)
            n = sum(int(self._drop_member(keys=[m], args=[grant_id])) for m in members)
            self._r.delete(gkey)
            return n

    def index_add(self, kind: str, key: str, member: str, ttl: float) -> None:
        skey, member = self._set_key(kind, key), check_member(member)
        ms = max(1, math.ceil(check_ttl(ttl) * 1000))
        with _ERRORS:
            self._eval(self._index_add, [skey], [member, ms])

    def _index_entries(self, entries: Sequence[IndexEntry]) -> list[tuple[str, str, int]]:
        """(set key, member, ttl in ms) of each entry, all checked."""
        return [(self._set_key(kind, key), check_member(member),
                 max(1, math.ceil(check_ttl(ttl) * 1000)))
                for kind, key, member, ttl in entries]

    def index_add_many(self, entries: Sequence[IndexEntry]) -> None:
        checked = self._index_entries(entries)
        if not checked:
            return
        with _ERRORS:
            if not self.cluster:
                self._eval(self._index_add_many, *_index_argv(checked))
                return
            # A script may only touch keys of one slot: a cluster adds set by set.
            for skey, member, ms in checked:
                self._index_add(keys=[skey], args=[member, ms])

    def index_members(self, kind: str, key: str) -> list[str]:
        skey = self._set_key(kind, key)
        with _ERRORS:
            return sorted(self._eval(self._index_members, [skey], []))

    def index_remove(self, kind: str, key: str, member: str) -> None:
        skey = self._set_key(kind, key)
        with _ERRORS:
            self._r.zrem(skey, member)

    def ping(self) -> None:
        with _ERRORS:
            self._r.ping()

    def close(self) -> None:
        if self._lender is not None:
            self._lender.close()
        for client in [self._r, *self._extra]:
            with contextlib.suppress(redis.RedisError, RedisClusterException, OSError):
                client.close()
            pool = getattr(client, "connection_pool", None)
            if pool is not None:  # Sentinel/explicit pools are not closed by client.close()
                with contextlib.suppress(redis.RedisError, OSError):
                    pool.disconnect()


def _index_argv(checked: list[tuple[str, str, int]]) -> tuple[list[str], list[Any]]:
    """_INDEX_ADD_MANY's KEYS and ARGV."""
    return [k for k, _, _ in checked], [a for _, m, ms in checked for a in (m, ms)]


class _Errors:
    """Any Redis failure becomes StoreUnavailable (its text names no key or value).

    A class, not @contextlib.contextmanager: every store operation enters it, and a
    generator-based manager costs about 20 times as much per use."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if isinstance(exc, (redis.RedisError, RedisClusterException)):
            log.warning("store=redis error=%s", type(exc).__name__)
            raise StoreUnavailable(f"Redis store: {type(exc).__name__}: {exc}") from exc
        return False


_ERRORS = _Errors()
