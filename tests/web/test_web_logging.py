"""Nothing secret reaches the log: a whole login at DEBUG, every record checked."""

from __future__ import annotations

import logging

from fakes import APP_SECRET, exchange, login


def test_logging_full_login_at_debug_never_shows_secrets(http, caplog):
    caplog.set_level(logging.DEBUG)
    code = login(http)
    body = exchange(http, code).get_json()
    http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    exchange(http, code)  # a replay logs a warning: still no code in it
    secrets = {"code": code, "access_token": body["access_token"], "client_secret": APP_SECRET,
               "id_token": body["id_token"]}
    assert caplog.records, "the flow logs something at DEBUG"
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        for name, value in secrets.items():
            assert value not in text, f"{name} leaked in {record.name}: {record.msg}"


def test_logging_wrong_client_secret_never_logged(http, caplog):
    caplog.set_level(logging.DEBUG)
    exchange(http, login(http), secret="wrong-secret-value-xyz")
    assert all("wrong-secret-value-xyz" not in r.getMessage() for r in caplog.records)
