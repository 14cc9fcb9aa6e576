"""Run a test's worker in several fresh OS processes (spawn, so nothing is shared by
fork) that start together at a barrier, and collect what each puts on the queue."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any


def run_spawned(target: Callable[..., None], *args: Any, n: int = 2) -> list[Any]:
    """Call target(*args, barrier, results) in `n` processes; each must put one item
    on `results`. Returns the items and asserts every process exited cleanly."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    results.close()
    results.join_thread()
    return got
