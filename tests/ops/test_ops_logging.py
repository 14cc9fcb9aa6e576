"""Log formats: JSON lines with key=value fields and request ids; secrets blanked."""

from __future__ import annotations

import gc
import json
import logging
import socket
import threading

from flask import Flask, g
from ops_support import emulator_env

from wecom_oidc.config import load_settings
from wecom_oidc.ops.logging import JsonFormatter, RedactingFormatter
from wecom_oidc.ops.sample_app import PIPE_THREAD, forward


def record(msg: str, *args, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("wecom_oidc.web", logging.INFO, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_line_has_the_fields_and_key_values():
    line = JsonFormatter().format(record("login client=%s sub=%s", "grafana", "zhangsan"))
    entry = json.loads(line)
    assert entry["level"] == "info" and entry["logger"] == "wecom_oidc.web"
    assert entry["msg"] == "login client=grafana sub=zhangsan"
    assert entry["client"] == "grafana" and entry["sub"] == "zhangsan"
    assert entry["request_id"] is None  # outside a request
    assert entry["ts"].endswith("Z") and "\n" not in line


def test_json_line_takes_the_request_id_inside_a_request():
    app = Flask(__name__)
    with app.test_request_context("/"):
        g.request_id = "rid-42"
        entry = json.loads(JsonFormatter().format(record("hello")))
    assert entry["request_id"] == "rid-42"


def test_json_line_keeps_extra_fields_and_numbers():
    entry = json.loads(JsonFormatter().format(record("wecom api=%s ms=%d", "gettoken", 12,
                                                     errcode=0)))
    assert entry["api"] == "gettoken" and entry["ms"] == 12 and entry["errcode"] == 0


def test_secrets_are_blanked_in_json_and_text():
    msg = "GET /cb?code=abc&state=s access_token=tok1 Bearer eyJx.y.z user_ticket=tkt1"
    for fmt in (JsonFormatter(), RedactingFormatter("%(message)s")):
        out = fmt.format(record(msg))
        for secret in ("abc", "tok1", "eyJx.y.z", "tkt1"):
            assert secret not in out


def test_exception_text_is_redacted_too():
    try:
        raise ValueError("boom client_secret=hunter2")
    except ValueError:
        import sys

        rec = record("failed")
        rec.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(rec))
    assert "hunter2" not in entry["exc"] and "ValueError" in entry["exc"]


def test_config_log_format_and_graceful_timeout_from_env(tmp_path):
    env = {**emulator_env("http://127.0.0.1:1", "http://127.0.0.1:2", tmp_path),
           "WECOM_OIDC_SERVER__LOG_FORMAT": "json",
           "WECOM_OIDC_SERVER__GRACEFUL_TIMEOUT": "45"}
    server = load_settings(None, env=env).server
    assert (server.log_format, server.graceful_timeout) == ("json", 45)


def test_env_only_config_is_complete_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env=emulator_env("http://127.0.0.1:1",
                                                    "http://127.0.0.1:2", tmp_path))
    assert settings.source == "<environment>"
    assert [c.client_id for c in settings.clients] == ["webapp", "cli"]
    assert settings.client("webapp").client_secret is not None
    assert settings.client("cli").is_public
    assert settings.wecom.api_base_url == "http://127.0.0.1:1"


def test_sample_app_loopback_forward_reaches_the_target():
    target = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        conn, _ = target.accept()
        conn.sendall(conn.recv(100).upper())
        conn.close()

    threading.Thread(target=echo, daemon=True).start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = set(threading.enumerate())
    listener = forward(port, target.getsockname())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"ping")
            assert c.recv(100) == b"PING"
    finally:
        listener.close()
        target.close()
    # The connection's two pipes end with it; a socket they left open would be closed by
    # the GC with a ResourceWarning, which pytest reports here (filterwarnings = error)
    # instead of in some later test.
    # One of the two may have ended already (the target closed first): wait for the rest.
    pipes = [t for t in set(threading.enumerate()) - before if t.name == PIPE_THREAD]
    assert len(pipes) <= 2
    for pipe in pipes:
        pipe.join(5)
        assert not pipe.is_alive(), "a pipe of the forward did not end"
    gc.collect()
