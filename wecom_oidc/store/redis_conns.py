"""Redis connections lent to one command at a time, without redis-py's per-checkout layers.

redis-py 8's ConnectionPool.get_connection and release run, for every command, a
deprecated-arguments wrapper, two fork checks (getpid system calls), a poll of the
socket for unread data, four observability counters and an event dispatch: 40 % of the
client's CPU for a GET, and a login makes a dozen round trips. The Lender keeps the
connections its client's pool makes (its class and options: a Sentinel connection still
asks the Sentinels for the master when it connects) in a list of its own and lends them
LIFO; list.pop and list.append are atomic under the GIL, so no lock is taken.

What the pool's checkout guarded against, and how it stays guarded:
- a reply left unread on the socket: any failure during a round trip disconnects the
  connection before it is lent again, so a lent connection never holds one;
- a connection the server closed while idle: PINGed first after 15 s idle (the
  connection's own health check), else its EOF is a connection error, which the retry
  policy answers by reconnecting and sending again (the server closed it before the
  command arrived, so it ran nowhere);
- a fork: the child forgets every inherited connection (os.register_at_fork), without
  touching the parent's sockets;
- a Sentinel failover: a connection to another address than the pool's master is
  dropped when it comes back (as the pool's release does), and a write reaching a
  demoted master is a connection error, retried on the new master.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any

import redis


class Lender:
    """One command and its raw reply on a connection made by `pool`."""

    __slots__ = ("_pool", "_idle", "_master", "__weakref__")

    def __init__(self, pool: Any):
        self._pool = pool
        self._idle: list[Any] = []
        # A Sentinel pool of the master (its replicas' pools have is_master False).
        self._master = bool(getattr(pool, "is_master", False))
        _LENDERS.add(self)

    def call(self, args: tuple[Any, ...]) -> Any:
        """Send `args`, return the reply (the connection's retry policy applies)."""
        return self._lend(_round_trip, args)

    def call_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send every command at once (a pipeline, no MULTI) and return their replies
        in order, an error reply as its ResponseError. A connection error sends them
        all again: for commands that may run twice."""
        return self._lend(_pipelined, commands)

    def _lend(self, run: Callable[[Any, Any], Any], payload: Any) -> Any:
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self._pool.make_connection()
        try:
            reply = conn.retry.call_with_retry(lambda: run(conn, payload),
                                               lambda _error: conn.disconnect())
        except redis.ResponseError:  # an error reply, read whole: the connection is clean
            self._idle.append(conn)
            raise
        except BaseException:
            conn.disconnect()  # its reply may still be on the way: never lend it as it is
            self._idle.append(conn)
            raise
        if self._master and self._pool.master_address != (conn.host, conn.port):
            conn.disconnect()  # Sentinel named another master meanwhile
        self._idle.append(conn)
        return reply

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.disconnect()

    def _forget(self) -> None:
        # In a forked child: the sockets are the parent's, so they are left to it (a
        # disconnect here would shut them down for the parent too).
        self._idle = []


def _round_trip(conn: Any, args: tuple[Any, ...]) -> Any:
    conn.connect()  # a no-op when connected; else connects (Sentinel: finds the master)
    conn.send_command(*args)
    return conn.read_response()


def _pipelined(conn: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    conn.connect()
    conn.send_packed_command(conn.pack_commands(commands))
    replies = []
    for _ in commands:
        try:
            replies.append(conn.read_response())
        except redis.ResponseError as error:  # one command's error: read the others' replies
            replies.append(error)
    return replies


_LENDERS: weakref.WeakSet[Lender] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for lender in list(_LENDERS):
        lender._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
