"""The parameter check (web/params.py): a control character is refused in any
parameter, known or not, in the query and in the form, before any view reads it."""

from __future__ import annotations

import pytest

from wecom_oidc.web.params import SYNTAX

CONTROLS = ["\x00", "\t", "\n", "\r", "\x1f", "\x7f", "\x85", "\x9f"]


@pytest.mark.parametrize("name", [*sorted(SYNTAX), "state", "ui_locales"])
@pytest.mark.parametrize("control", CONTROLS)
def test_params_control_character_in_query_is_400(http, name, control):
    resp = http.get("/healthz", query_string={name: f"a{control}b"},
                    headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["client_id", "scope", "state"])
def test_params_control_character_in_form_is_400(http, name):
    resp = http.post("/token", data={name: "a\x01b"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_params_control_character_in_a_name_is_400(http):
    resp = http.get("/healthz", query_string={"x\ny": "1"})
    assert resp.status_code == 400


def test_params_printable_values_pass(http):
    resp = http.get("/healthz", query_string={"scope": "openid profile", "state": "a b~"})
    assert resp.status_code == 200
