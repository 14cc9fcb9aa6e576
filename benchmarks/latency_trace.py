"""Where the added latency of a login goes: issue 11's (b) phase (QR logins, WeCom
+100 ms a call, 16 users) with every request timed on both sides.

    python benchmarks/latency_trace.py [--store sqlite|redis] [--users 16] [--seconds 10]
                                       [--wecom-ms 100] [--serve-args "..."]

The servers start under trace_hooks.py (each request's entry and exit in the WSGI app,
its thread's CPU and wait for a core; the bridge's WeCom calls); the driver stamps each
request (aiohttp's trace hooks, a header naming it). Each login that ended in the
measured window is split into (the bridge's four requests summed):

- pre: the driver starts a request -> the app starts it (the driver's own work and its
  waits for a core, loopback, Granian, the hand-off to a worker thread, the GIL);
- app CPU; app core wait (runnable, no core free); app other (neither: the GIL, locks,
  I/O); WeCom extra (the callback's WeCom calls beyond the latency injected);
- post: the app returns -> the driver has the answer's head (Granian, loopback, the
  driver); driver gaps: between one answer and the next request.

Printed at the median login and as the mean over the slowest 2 % (what the p99 is
made of), with the driver's own CPU and wait for a core. The hooks cost CPU of their
own (the emulator's the most): compare figures within one trace, not with `make bench`."""

from __future__ import annotations

import argparse
import glob
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402
import servers  # noqa: E402

PARTS = ("pre", "app CPU", "app core wait", "app other", "WeCom extra", "post",
         "driver gaps")
INSIDE_APP = ("app CPU", "app core wait", "app other", "WeCom extra")


@dataclass
class Span:
    path: str
    t0: int  # monotonic ns
    t1: int = 0
    cpu: int = 0  # the thread's CPU over the span (app spans)
    runq: int = 0  # the thread's wait for a core over it
    thread: str = ""


class Recorder:
    """Names each request `<session>.<login>.<n>` in an X-Trace header (a login starts
    at /authorize) and keeps when the driver started it and had its answer's head."""

    def __init__(self) -> None:
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)
        self.config.on_request_end.append(self._end)
        self.login_of: dict[int, int] = defaultdict(int)
        self.spans: dict[str, Span] = {}

    async def _start(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        if params.url.path == "/authorize":
            self.login_of[id(session)] += 1
        ctx.name = f"{id(session)}.{self.login_of[id(session)]}.{len(self.spans)}"
        params.headers["X-Trace"] = ctx.name
        ctx.span = self.spans[ctx.name] = Span(params.url.path, time.monotonic_ns())

    async def _end(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.span.t1 = time.monotonic_ns()


def read_server_spans(trace_dir: Path) -> tuple[dict[str, dict[str, Span]], list[Span]]:
    """{server name: {request name: app span}} and the bridge's WeCom calls; the
    emulator's API calls are under "emulator" by their position ("-" names)."""
    named: dict[str, dict[str, Span]] = defaultdict(dict)
    calls: list[Span] = []
    for path in glob.glob(str(trace_dir / "*.tsv")):
        server = Path(path).name.rsplit("-", 1)[0]
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f):
                kind, thread, name, url_path, t0, t1, cpu, runq = line.rstrip("\n").split("\t")
                span = Span(url_path, int(t0), int(t1), int(cpu), int(runq), thread)
                if kind == "wecom":
                    calls.append(span)
                else:
                    named[server][name if name != "-" else f"-{path}:{n}"] = span
    return named, calls


def compose(driver: dict[str, Span], app: dict[str, Span], calls: list[Span],
            wecom_ms: int, window: tuple[int, int], pages: tuple[str, ...]) -> list[dict]:
    """Per login that ended inside `window`: its added latency (ms) and PARTS (ms).
    `driver`/`app`: spans by request name; `calls`: the bridge's WeCom calls;
    requests to a path under `pages` are WeCom's pages (not the bridge's)."""
    by_login: dict[str, list[tuple[str, Span]]] = defaultdict(list)
    for name, span in driver.items():
        by_login[name.rsplit(".", 1)[0]].append((name, span))
    calls_by_thread: dict[str, list[Span]] = defaultdict(list)
    for c in calls:
        calls_by_thread[c.thread].append(c)
    out = []
    for reqs in by_login.values():
        reqs.sort(key=lambda r: r[1].t0)
        first, last = reqs[0][1], reqs[-1][1]
        if first.path != "/authorize" or last.path != "/userinfo" or not last.t1:
            continue  # cut by the phase's start or end
        if not window[0] <= last.t1 <= window[1]:
            continue
        if any(name not in app for name, d in reqs
               if not d.path.lstrip("/").startswith(pages)):
            continue  # a request the app never answered (refused before it)
        parts = dict.fromkeys(PARTS, 0.0)
        at_wecom = 0.0
        for i, (name, d) in enumerate(reqs):
            if i:
                parts["driver gaps"] += (d.t0 - reqs[i - 1][1].t1) / 1e6
            if d.path.lstrip("/").startswith(pages):
                at_wecom += (d.t1 - d.t0) / 1e6
                continue
            a = app[name]
            inside = [c for c in calls_by_thread.get(a.thread, ())
                      if a.t0 <= c.t0 and c.t1 <= a.t1]
            # The calls' own CPU and core waits are the app's (the thread's, counted
            # there); the rest of their time is away at WeCom.
            away = sum(c.t1 - c.t0 - c.cpu - c.runq for c in inside) / 1e6
            at_wecom += len(inside) * wecom_ms
            parts["pre"] += (a.t0 - d.t0) / 1e6
            parts["post"] += (d.t1 - a.t1) / 1e6
            parts["app CPU"] += a.cpu / 1e6
            parts["app core wait"] += a.runq / 1e6
            parts["WeCom extra"] += away - len(inside) * wecom_ms
            parts["app other"] += (a.t1 - a.t0 - a.cpu - a.runq) / 1e6 - away
        wall = (last.t1 - first.t0) / 1e6
        out.append({"added": wall - at_wecom, **parts})
    return sorted(out, key=lambda r: r["added"])


def summary(rows: list[dict], tail: float = 0.02) -> dict[str, dict[str, float]]:
    """The median login's parts and the mean of the slowest `tail` of logins."""
    if not rows:
        return {}
    slow = rows[min(len(rows) - 1, int((1 - tail) * len(rows))):]
    median = rows[len(rows) // 2]
    keys = ("added", *PARTS)
    return {"median login": {k: median[k] for k in keys},
            f"slowest {100 * tail:.0f} %": {k: sum(r[k] for r in slow) / len(slow)
                                            for k in keys}}


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core, /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / servers.TICK  # less idle and iowait


def _ours(b: run.Bench) -> float:
    return b.bridge.cpu() + (b.emulator.cpu() if b.emulator else 0.0)


def _run_queue_ns() -> int:
    with open("/proc/thread-self/schedstat", "rb") as f:
        return int(f.read().split()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="sqlite", choices=("sqlite", "redis"))
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--wecom-ms", type=int, default=100)
    parser.add_argument("--serve-args", default="")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wecom-oidc-trace-") as tmp:
        workdir = Path(tmp)
        servers.TRACE_DIR = workdir / "trace"
        servers.TRACE_DIR.mkdir()
        stack = run.start_stack(args.store, workdir, args.serve_args)
        try:
            b = run.Bench(stack.bridge, stack.emulator, args.seconds)
            b.logins_phase("warm-up", 4, count=8)
            recorder = Recorder()
            b.trace = recorder.config
            b.latency(args.wecom_ms)
            cpu0, wait0, ours0 = time.process_time(), _run_queue_ns(), _ours(b)
            busy0, t0 = _machine_busy(), time.monotonic()
            phase = b.logins_phase(f"QR login, {args.users} users", args.users,
                                   wecom_ms=args.wecom_ms)
            cpu, wait = time.process_time() - cpu0, (_run_queue_ns() - wait0) / 1e9
            others = (_machine_busy() - busy0 - (_ours(b) - ours0) - cpu) / (time.monotonic() - t0)
        finally:
            stack.stop()
        named, calls = read_server_spans(servers.TRACE_DIR)
    app = {**named["bridge"], **named["emulator"]}
    rows = compose(recorder.spans, app, calls, args.wecom_ms,
                   (b.window_ns[True], b.window_ns[False]), run.PAGES)
    print_trace(args, phase, rows, cpu, wait, named["emulator"])
    print(f"meanwhile, other processes kept {100 * others:.0f} % of a core busy (Redis's "
          "own included; if much more than that, the machine was shared: run it again)")
    return 0 if rows else 1


def print_trace(args: argparse.Namespace, phase: run.Phase, rows: list[dict],
                cpu: float, wait: float, emulator: dict[str, Span]) -> None:
    n = phase.n + len(phase.result.errors)
    print(f"{args.users} users, WeCom +{args.wecom_ms} ms, {args.store}: {len(rows)} logins "
          f"traced; as `make bench` counts them: added p50 {phase.added_ms(50):.1f} / "
          f"p99 {phase.added_ms(99):.1f} ms")
    print(f"CPU per login: bridge {phase.cpu_ms:.2f} ms, emulator "
          f"{1000 * phase.emu_cpu / max(phase.n, 1):.2f} ms, driver {1000 * cpu / max(n, 1):.2f}"
          f" ms (and {1000 * wait / max(n, 1):.2f} ms waiting for a core)")
    print("ms per login " + "".join(f"{k:>14}" for k in ("added", *PARTS)))
    for label, parts in summary(rows).items():
        print(f"{label:<13}" + "".join(f"{v:14.2f}" for v in parts.values()))
    # The part of a login spent inside the bridge's app (its requests from entry to exit,
    # less the latency injected at WeCom): the driver's and Granian's time left out.
    inside = sorted(sum(r[k] for k in INSIDE_APP) for r in rows)
    if inside:
        print(f"inside the bridge's app ({' + '.join(INSIDE_APP)}): p50 "
              f"{inside[len(inside) // 2]:.1f} / p99 {inside[int(0.99 * len(inside))]:.1f} ms")
    api = sorted((s.t1 - s.t0) / 1e6 - args.wecom_ms for s in emulator.values()
                 if s.path.startswith("/cgi-bin/"))
    if api:
        print(f"the emulator's API answers beyond +{args.wecom_ms} ms (its own work and GIL, "
              f"inside 'WeCom extra'): p50 {api[len(api) // 2]:.2f} / "
              f"p99 {api[int(0.99 * len(api))]:.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
