"""The server under `serve` (wecom_oidc/serving.py), as a real process: signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests
from e2e.stack import free_port, wait_http

# Workers whose app takes BOOT seconds to build; the server's graceful timeout is far
# longer, so a stop that waited for it would be unmistakable.
BOOT, GRACE = 4, 60
SERVER = f"""
import sys, time
from wecom_oidc.serving import ServerOptions, serve_wsgi

def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]

def slow_factory():
    if sys.argv[2] == "slow":
        time.sleep({BOOT})
    return app

serve_wsgi(slow_factory, ServerOptions(bind="127.0.0.1:" + sys.argv[1], workers=2,
                                       threads=4, graceful_timeout={GRACE}))
"""


def _start(port: int, boot: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SERVER, str(port), boot],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _seconds_to_stop(proc: subprocess.Popen) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(GRACE + 10)
    finally:
        proc.kill()
    return time.monotonic() - started


def test_sigterm_while_workers_boot_stops_without_waiting_out_the_grace_period():
    # A rolling deploy may stop a replica whose workers are still building their app.
    # They have nothing in flight: they must go at once, not hold the stop for GRACE.
    proc = _start(free_port(), "slow")
    time.sleep(1)  # the workers are inside slow_factory now
    assert _seconds_to_stop(proc) < BOOT + 5
    assert proc.returncode is not None


def test_sigterm_when_idle_stops_promptly():
    port = free_port()
    proc = _start(port, "fast")
    wait_http(f"http://127.0.0.1:{port}/", proc)
    assert _seconds_to_stop(proc) < GRACE / 2
    assert proc.returncode == 0


ENVIRON_APP = """
import sys
from wecom_oidc.serving import ServerOptions, serve_wsgi

def app(environ, start_response):
    body = " ".join(sorted(k for k in environ if k.startswith(("PRIVATE_", "PUBLIC_")))).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]

serve_wsgi(lambda: app, ServerOptions(bind="127.0.0.1:" + sys.argv[1], workers=1, threads=2,
                                      graceful_timeout=5, private_env=("PRIVATE_",)))
"""


def test_private_environment_does_not_reach_the_request_environ():
    # Granian copies the process environment into every WSGI environ; configuration
    # given as environment variables (a WeCom secret, a Redis password) must not ride
    # along with each request, where an error reporter could pick it up.
    port = free_port()
    env = {**os.environ, "PRIVATE_SECRET": "s3cret", "PUBLIC_SETTING": "x"}
    proc = subprocess.Popen([sys.executable, "-c", ENVIRON_APP, str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc)
        seen = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
    finally:
        _seconds_to_stop(proc)
    # The rest of the environment still travels (what made this scrub necessary).
    assert seen == "PUBLIC_SETTING"


FROZEN = """
import gc, sys
from wecom_oidc.serving import ServerOptions, serve_wsgi

def factory():
    built = [{"i": i} for i in range(5000)]  # what an app builds once, kept for life
    def app(environ, start_response):
        body = f"{gc.get_freeze_count()} {len(built)}".encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    return app

serve_wsgi(factory, ServerOptions(bind="127.0.0.1:" + sys.argv[1], workers=1, threads=2,
                                  graceful_timeout=5))
"""


def test_a_worker_freezes_what_its_app_built_out_of_the_cyclic_collector():
    # Full collections walk the whole heap with the GIL held: under a login rush one
    # stalled every request of the worker for ~60 ms. What the app built at start is
    # frozen once built, so they walk only what requests leave behind.
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", FROZEN, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc)
        frozen, _ = map(int, requests.get(f"http://127.0.0.1:{port}/", timeout=5).text.split())
        assert frozen > 5000
    finally:
        proc.terminate()
        proc.wait(10)
