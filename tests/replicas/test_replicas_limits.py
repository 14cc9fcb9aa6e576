"""Rate limits across replicas: two replicas (`serve`, 2 workers each) on one Redis
count together, so spreading the guesses over replicas and workers gains nothing."""

from __future__ import annotations

import pytest
import requests
from e2e.stack import CONFIDENTIAL

from .pair import shared_keys, start_replicas

GUESSES = 6


@pytest.fixture
def limited_replicas(tmp_path, redis_store_url):
    extra = f'\n[limits]\nfailed_auth_per_client_ip = "{GUESSES}/1d"\nfailed_auth_delay = 0\n'
    stack, urls = start_replicas(tmp_path, redis_store_url, shared_keys(tmp_path), extra=extra)
    yield stack, urls
    stack.stop()


def test_replicas_share_the_failed_authentication_count(limited_replicas):
    _, (a, b) = limited_replicas
    s = requests.Session()

    def introspect(url: str, secret: str) -> int:
        return s.post(url + "/introspect", data={"token": "t" * 40},
                      auth=(CONFIDENTIAL[0], secret), timeout=10).status_code

    # Alternate replicas (and, through new connections, their workers).
    answers = [introspect(a if i % 2 else b, f"guess-{i}") for i in range(GUESSES)]
    assert answers == [401] * GUESSES
    assert introspect(a, CONFIDENTIAL[1]) == 429
    assert introspect(b, CONFIDENTIAL[1]) == 429
