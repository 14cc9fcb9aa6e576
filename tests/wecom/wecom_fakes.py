"""Shared fakes for the WeCom tests (imported by conftest and the test modules)."""

from __future__ import annotations

BASE = "https://qyapi.example.test"
CORP_ID = "ww0123456789abcdef"
AGENT_ID = 1000002
SECRET = "S3cr3t-app-secret-value-0123456789"
TOKEN_1 = "ACCESS-TOKEN-ONE-4f2a9c"
TOKEN_2 = "ACCESS-TOKEN-TWO-8b1d3e"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def url(api: str) -> str:
    return f"{BASE}/cgi-bin/{api}"


def ok(**fields) -> dict:
    return {"json": {"errcode": 0, "errmsg": "ok", **fields}}


def err(errcode: int, errmsg: str = "error") -> dict:
    return {"json": {"errcode": errcode, "errmsg": errmsg}}
