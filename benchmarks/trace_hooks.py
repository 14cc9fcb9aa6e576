"""Started in place of a server process by `latency_trace.py` (through servers.py):

    python trace_hooks.py OUT_DIR NAME -m wecom_oidc.cli ...   (or -c CODE ...)

runs the same command with two timers added, each worker writing to OUT_DIR/NAME-PID.tsv:
every request the WSGI app answers (monotonic clock at entry and exit, the thread's CPU
time and its wait for a core, from /proc/thread-self/schedstat, over the request) and,
in the bridge, every WeCom API call its client makes. Only for finding where latency
goes: the hooks cost the servers some CPU of their own, and an answer reaches Granian
whole (a list: the body is read inside the timer) rather than as werkzeug's iterator,
which changed no system call per answer when tried alone (benchmarks/README.md)."""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_files: dict[int, Any] = {}


def _write(out_dir: str, name: str, line: str) -> None:
    pid = os.getpid()  # workers are forked: a file per process, opened in it
    f = _files.get(pid)
    if f is None:
        f = _files[pid] = open(f"{out_dir}/{name}-{pid}.tsv", "a", buffering=1)  # noqa: SIM115
    f.write(line)


def _thread() -> str:
    return f"{os.getpid()}:{threading.get_ident()}"


def _run_queue_ns() -> int:
    with open("/proc/thread-self/schedstat", "rb") as f:
        return int(f.read().split()[1])


def timed_app(app: Callable, out_dir: str, name: str) -> Callable:
    def timed(environ: dict, start_response: Callable) -> list[bytes]:
        q0, c0, t0 = _run_queue_ns(), time.thread_time_ns(), time.monotonic_ns()
        body = app(environ, start_response)
        try:
            chunks = list(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        t1, c1, q1 = time.monotonic_ns(), time.thread_time_ns(), _run_queue_ns()
        _write(out_dir, name, f"req\t{_thread()}\t{environ.get('HTTP_X_TRACE', '-')}\t"
                              f"{environ['PATH_INFO']}\t{t0}\t{t1}\t{c1 - c0}\t{q1 - q0}\n")
        return chunks

    return timed


def install(out_dir: str, name: str) -> None:
    from wecom_oidc import serving
    from wecom_oidc.wecom import transport

    serve = serving.serve_wsgi
    serving.serve_wsgi = lambda factory, options: serve(
        lambda: timed_app(factory(), out_dir, name), options)
    send = transport._Connections.send

    def timed_send(self: Any, api: str, *args: Any) -> Any:
        q0, c0, t0 = _run_queue_ns(), time.thread_time_ns(), time.monotonic_ns()
        try:
            return send(self, api, *args)
        finally:
            t1, c1, q1 = time.monotonic_ns(), time.thread_time_ns(), _run_queue_ns()
            _write(out_dir, name, f"wecom\t{_thread()}\t-\t{api}\t{t0}\t{t1}\t{c1 - c0}"
                                  f"\t{q1 - q0}\n")

    transport._Connections.send = timed_send


if __name__ == "__main__":
    out, who, how, what, *rest = sys.argv[1:]
    install(out, who)
    if how == "-c":
        sys.argv = ["-c", *rest]
        exec(compile(what, "<server>", "exec"), {"__name__": "__main__"})  # noqa: S102
    else:
        sys.argv = [what, *rest]
        runpy.run_module(what, run_name="__main__", alter_sys=True)
