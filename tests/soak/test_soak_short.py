"""The 30-second soak (`make soak` runs the long one): two replicas on a Redis of
their own and one on SQLite, the emulator, virtual users through a few faults."""

from __future__ import annotations

import io

from contract.redis_server import binary_or_skip

from .soak import run

QUICK = ("HTTP 500 burst", "errcode -1 burst", "45009 burst", "Redis restart",
         "worker SIGKILL")


def test_soak_short_no_crash_hang_wrong_user_or_lost_token(tmp_path):
    binary_or_skip()
    out = io.StringIO()
    r = run(tmp_path, duration=30, users=4, hold=1.0, only=QUICK, sample=3, out=out)
    table = out.getvalue()
    assert r.outcomes["success"] > 0, table
    for bad in ("crash", "hang", "wrong_user", "traceback"):
        assert r.outcomes[bad] == 0, table
    assert [row[0] for row in r.rows] == list(QUICK), table
    for _, _, _, _, tokens_lost, sessions_lost, sampled, keys_ok, _ in r.rows:
        assert sampled > 0 and tokens_lost == 0 and sessions_lost == 0 and keys_ok, table
