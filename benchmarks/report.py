"""The table `make bench` prints, and the targets of issue 11 judged against it."""

from __future__ import annotations

import argparse
from typing import Any

# (label, limit, unit): CPU per operation in ms.
CPU_TARGETS = {"a": 5.0, "c": 1.0, "d": 0.3, "e": 0.1}


def _row(label: str, phase: Any, extra: str = "") -> str:
    r = phase.result
    return (f"  {label:<34} {r.rate:8.1f}/s  p50 {1000 * r.pct(50):7.1f} ms  "
            f"p99 {1000 * r.pct(99):7.1f} ms  CPU {phase.cpu_ms:6.2f} ms/op"
            f"  (n={phase.n}, err={len(r.errors)}){extra}")


def _mark(ok: bool) -> str:
    return "met    " if ok else "NOT MET"


def print_report(results: list[dict], ceiling: Any, args: argparse.Namespace) -> int:
    """Print everything; returns the number of failed operations seen."""
    errors = 0
    flask = None
    if ceiling is not None:
        flask, bare = ceiling
        errors = len(flask.result.errors) + len(bare.result.errors)
        print(f"\n(h) ceiling: minimal Flask app, same server settings, 4 round trips per "
              f"login, {flask.result.users} users")
        print(_row("ceiling 'logins'", flask))
        print(_row("  ... no Flask (the server alone)", bare))
        print(f"    per round trip: Flask app {flask.cpu_ms / 4:.2f} ms CPU, the server alone "
              f"{bare.cpu_ms / 4:.2f} ms")
    for res in results:
        errors += _print_store(res, flask, args)
    return errors


def _print_store(res: dict, ceiling: Any, args: argparse.Namespace) -> int:
    ms = args.wecom_ms
    a, b0, b = res.get("a"), res.get("b0", {}), res.get("b", {})
    phases = [p for p in (a, res.get("a_inapp"), res.get("a_nolimits"), *b0.values(),
                          *b.values(), res.get("c"), res.get("c_opaque"), res.get("d"),
                          res.get("d_opaque"), res.get("e")) if p is not None]
    print(f"\n=== store: {res['store']} ({res['workers']} workers) ===")
    if a is not None:
        print(f"(a) {_row('QR login, WeCom 0 ms', a)}")
        print(f"    {_row('in-app login, WeCom 0 ms', res['a_inapp'])}")
        if "a_nolimits" in res:
            off = res["a_nolimits"]
            print(f"    {_row('QR login, [limits] off', off)}")
            print(f"    rate-limit counters cost {a.cpu_ms - off.cpu_ms:.2f} ms CPU per login")
        if a.n:
            print(f"    emulator CPU {1000 * a.emu_cpu / a.n:.2f} ms/login (same cores, "
                  "not counted)")
        if ceiling is not None and ceiling.result.rate:
            print(f"    QR logins/s = {100 * a.result.rate / ceiling.result.rate:.0f} % of the "
                  f"Flask ceiling; bridge CPU {a.cpu_ms:.2f} ms/login vs ceiling "
                  f"{ceiling.cpu_ms:.2f} ms per 4 round trips")
    if b:
        print(f"(b) WeCom +{ms} ms per API call")
    for n, p in b0.items():
        print(f"    {_row(f'{n} users, WeCom 0 ms', p)}")
    for n, p in b.items():
        extra = (f"  added p50 {p.added_ms(50):.1f} / p99 {p.added_ms(99):.1f} ms"
                 f" (with WeCom's pages: {p.added_ms(50, pages=True):.1f} / "
                 f"{p.added_ms(99, pages=True):.1f})")
        print(f"    {_row(f'{n} users, WeCom +{ms} ms', p, extra)}")
    for key, label in (("c", "code exchange only"), ("c_opaque", "  ... opaque access token"),
                       ("d", "userinfo only"), ("d_opaque", "  ... opaque access token"),
                       ("e", "discovery + JWKS")):
        if key in res:
            print(f"({key[0]}) {_row(label, res[key])}")
    if a is not None and a.n:
        per = {k: v / a.n for k, v in sorted(a.calls.items())}
        print("(f) WeCom calls per QR login: "
              + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
    print(f"    gettoken calls over the whole run: {res['gettoken']}")
    for key in ("rss1k", "rss10k"):
        if key in res:
            n, rss = res[key]
            print(f"(g) RSS per worker after {n} logins: "
                  + ", ".join(f"{r:.0f} MiB" for r in rss))
    if not args.smoke:
        print("targets:")
        for n in (64, 256):
            if n in b and n in b0:
                ratio = b[n].result.rate / b0[n].result.rate if b0[n].result.rate else 0
                print(f"  {_mark(ratio >= 0.9)} {n} users: +{ms} ms WeCom at {100 * ratio:.0f} %"
                      f" of the 0 ms throughput (>= 90 %)")
        if 16 in b:
            added = b[16].added_ms(99)
            print(f"  {_mark(added < 25)} added latency p99 at 16 users {added:.1f} ms (< 25;"
                  f" {b[16].added_ms(99, pages=True):.1f} counting WeCom's pages as added)")
        for key, label in (("a", "per login"), ("c", "per code exchange"),
                           ("c_opaque", "per code exchange, opaque"),
                           ("d", "per userinfo"), ("d_opaque", "per userinfo, opaque"),
                           ("e", "per discovery/JWKS")):
            if key in res:
                cpu, limit = res[key].cpu_ms, CPU_TARGETS[key[0]]
                print(f"  {_mark(cpu <= limit)} CPU {label} {cpu:.2f} ms (<= {limit})")
    return sum(len(p.result.errors) for p in phases)
