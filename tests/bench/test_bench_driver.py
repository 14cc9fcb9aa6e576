"""The load driver of `make bench` keeps working: a smoke run (a few logins through
every part, no figures judged) against `wecom-oidc serve` and the emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_bench_driver_smoke_run_completes_every_part_without_errors():
    done = subprocess.run([sys.executable, str(RUN), "--smoke", "--stores", "sqlite"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for part in ("(h) ceiling", "(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)"):
        assert part in out, out
    assert "auth/getuserinfo" in out and "user/get" in out  # WeCom counters per login
    assert "err=0" in out and "err=1" not in out


LATENCY_TRACE = RUN.with_name("latency_trace.py")


def _latency_trace():
    sys.path.insert(0, str(RUN.parent))
    try:
        import latency_trace
    finally:
        sys.path.remove(str(RUN.parent))
    return latency_trace


def test_latency_trace_splits_a_login_into_parts_that_add_up_to_its_added_latency():
    lt = _latency_trace()
    ms = 1_000_000
    s = lt.Span
    # One login: authorize, WeCom's QR page and scan, the callback (two WeCom calls of
    # 100 ms + 1 ms, made by its thread), token, userinfo; times in ms from 0.
    driver = {"7.1.0": s("/authorize", 0, 4 * ms),
              "7.1.1": s("/wwlogin/sso/login", 5 * ms, 8 * ms),
              "7.1.2": s("/wwlogin/sso/scan", 8 * ms, 10 * ms),
              "7.1.3": s("/wecom/callback", 10 * ms, 225 * ms),
              "7.1.4": s("/token", 226 * ms, 232 * ms), "7.1.5": s("/userinfo", 232 * ms, 235 * ms)}
    app = {"7.1.0": s("/authorize", 1 * ms, 3 * ms, cpu=1 * ms, runq=0, thread="t1"),
           "7.1.3": s("/wecom/callback", 11 * ms, 223 * ms, cpu=3 * ms, runq=2 * ms, thread="t2"),
           "7.1.4": s("/token", 227 * ms, 231 * ms, cpu=2 * ms, runq=1 * ms, thread="t1"),
           "7.1.5": s("/userinfo", 233 * ms, 234 * ms, cpu=1 * ms, thread="t2")}
    calls = [s("auth/getuserinfo", 12 * ms, 113 * ms, cpu=0, runq=1 * ms, thread="t2"),
             s("user/get", 114 * ms, 215 * ms, cpu=0, runq=0, thread="t2"),
             s("user/get", 12 * ms, 120 * ms, thread="t9")]  # another thread's call
    rows = lt.compose(driver, app, calls, 100, (0, 300 * ms), ("wwlogin/",))
    assert len(rows) == 1
    row = rows[0]
    # 235 ms in all, less the pages (3 + 2 ms) and 2 x 100 ms at WeCom.
    assert abs(row["added"] - 30) < 1e-9
    assert abs(sum(row[k] for k in lt.PARTS) - row["added"]) < 1e-9
    assert abs(row["WeCom extra"] - 1) < 1e-9  # 201 ms away less 1 ms waiting for a core
    assert abs(row["app CPU"] - 7) < 1e-9 and abs(row["app core wait"] - 3) < 1e-9
    assert abs(row["pre"] - 4) < 1e-9 and abs(row["post"] - 5) < 1e-9
    assert abs(row["app other"] - 8) < 1e-9 and abs(row["driver gaps"] - 2) < 1e-9
    # A login ending outside the window, or cut by it, is left out.
    assert lt.compose(driver, app, calls, 100, (0, 200 * ms), ("wwlogin/",)) == []
    del app["7.1.4"]  # the token request never reached the app
    assert lt.compose(driver, app, calls, 100, (0, 300 * ms), ("wwlogin/",)) == []
    del driver["7.1.0"]
    assert lt.compose(driver, app, calls, 100, (0, 300 * ms), ("wwlogin/",)) == []


def test_latency_trace_runs_against_the_served_bridge():
    done = subprocess.run([sys.executable, str(LATENCY_TRACE), "--users", "2", "--seconds",
                           "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "median login" in done.stdout and "slowest 2 %" in done.stdout, done.stdout
