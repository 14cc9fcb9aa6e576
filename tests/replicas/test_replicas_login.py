"""Two replicas (`serve`, 2 workers each) sharing one Redis: logins hop between them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .pair import hop_login

LOGINS = 100
THREADS = 50  # bounded: the bridge has 2 replicas x 2 workers x 4 threads behind it


def test_replicas_login_hopping_between_replicas_succeeds(replicas):
    stack, (a, b) = replicas
    token, claims, userinfo = hop_login(stack, first=a, second=b)
    assert token["token_type"].lower() == "bearer"
    assert claims["sub"] == "zhangsan" and claims["aud"] == "webapp"
    assert claims["iss"] == a
    assert userinfo["sub"] == "zhangsan"


def test_replicas_serve_the_same_jwks(replicas):
    stack, urls = replicas
    jwks = [requests.get(u + "/jwks.json", timeout=5).json() for u in urls]
    assert jwks[0] == jwks[1]
    assert len(jwks[0]["keys"]) == 1  # the one generated beforehand, none of their own
    assert not list((stack.workdir / "keys").glob("*.pem"))


def test_replicas_cold_start_concurrent_logins_call_gettoken_once(replicas):
    stack, urls = replicas
    assert stack.calls("gettoken") == 0  # cold: nothing cached in Redis nor in a worker
    barrier = threading.Barrier(THREADS)
    subs: list[str] = []

    def login(i: int) -> None:
        if i < THREADS:
            barrier.wait()  # the first wave starts together, while no token exists yet
        first, second = urls[i % 2], urls[(i + 1) % 2]
        _, claims, userinfo = hop_login(stack, first=first, second=second)
        assert claims["sub"] == userinfo["sub"] == "zhangsan"
        subs.append(claims["sub"])

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for future in [pool.submit(login, i) for i in range(LOGINS)]:
            future.result()
    elapsed = time.monotonic() - started
    assert len(subs) == LOGINS
    assert stack.calls("gettoken") == 1
    print(f"{LOGINS} logins across 2 replicas in {elapsed:.1f}s, gettoken calls: 1")
