"""Property-based tests of every endpoint through the real server: whatever the
method, parameters, headers and body, the answer is never a 5xx, never carries a
traceback (nor leaves one in the log), never redirects anywhere but the bridge,
WeCom or a registered URI, never shows input unescaped in HTML, and errors of the
endpoints programs call are JSON with an `error` member.

Every pass first sends each endpoint's valid requests with one parameter at a time
replaced by input that broke servers like this one (fuzz_values.sweep); then
Hypothesis generates requests. `make test` runs a short derandomized pass
(FUZZ_EXAMPLES per endpoint, 20 by default); `make fuzz` the long one
(FUZZ_PROFILE=long, 1000 per endpoint by default)."""

from __future__ import annotations

import os

import pytest
from fuzz_http import check, send
from fuzz_targets import TARGETS, Target
from fuzz_values import cases, sweep
from hypothesis import HealthCheck, example, given, settings

from wecom_oidc.app import create_app
from wecom_oidc.config import load_settings

_QUIET = list(HealthCheck)  # network round trips are slow by design, not a bug
settings.register_profile(
    "fuzz-short", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20")), derandomize=True,
    database=None, deadline=None, suppress_health_check=_QUIET)
settings.register_profile(
    "fuzz-long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")), deadline=None,
    suppress_health_check=_QUIET)
PROFILE = settings.get_profile("fuzz-" + os.environ.get("FUZZ_PROFILE", "short"))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_fuzz_endpoint_answers_any_request_safely(fuzz_env, target: Target):
    @settings(PROFILE)
    @given(case=cases(target))
    def run(case):
        check(fuzz_env, target, case, send(fuzz_env, target, case))

    for case in sweep(target):
        run = example(case=case)(run)
    run()


def test_fuzz_targets_cover_every_route(fuzz_env):
    """A new endpoint cannot escape the fuzzer: every route of the app as this
    config builds it has an entry in TARGETS."""
    app = create_app(load_settings(str(fuzz_env.stack.workdir / "bridge.toml"), env={}))
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert routes - {t.path for t in TARGETS} == set()
