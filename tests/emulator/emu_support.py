"""Constants and helpers for the emulator tests (a plain module: the test folders are
not packages, so `conftest` is not importable by name)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

CORP, SECRET, AGENT = "ww_emulated_corp", "emulated-app-secret", 1000002
CALLBACK = "https://bridge.example.com/wecom/callback"


def mint(client: FlaskClient, userid: str = "zhangsan", **fields: Any) -> str:
    """A code minted through the control API, as if `userid` had logged in."""
    body = {"userid": userid, "redirect_uri": CALLBACK, "state": "s1", **fields}
    response = client.post("/_emulator/login", json=body)
    assert response.status_code == 200, response.json
    return response.json["code"]


def api(client: FlaskClient, path: str, token: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/cgi-bin/{path}", query_string={"access_token": token, **params})
    assert response.status_code == 200  # WeCom answers errors with HTTP 200 too
    return response.json


def query(location: str) -> dict[str, list[str]]:
    """The query of a redirect's Location, blanks kept (WeCom sends `state=` when empty)."""
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(location).query, keep_blank_values=True)
