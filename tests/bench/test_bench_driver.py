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
