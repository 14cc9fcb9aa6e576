"""[offboarding]: the callback Token and EncodingAESKey (inline, env or *_file), the sweep."""

from __future__ import annotations

from test_bridge_config import MINIMAL, problems_of

TOKEN, KEY = "Tok3n", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_offboarding_defaults_no_callbacks_sweep_on(make_settings):
    off = make_settings(MINIMAL).offboarding
    assert not off.callbacks and off.sweep_interval == 900 and off.sweep_rate == 20


def test_offboarding_inline_token_and_key(make_settings):
    off = make_settings(MINIMAL + f'[offboarding]\ncallback_token = "{TOKEN}"\n'
                                  f'callback_aes_key = "{KEY}"\n').offboarding
    assert off.callbacks and off.callback_aes_key.reveal() == KEY
    assert KEY not in repr(off)


def test_offboarding_secret_files_and_env(make_settings, tmp_path):
    (tmp_path / "key").write_text(KEY + "\n", encoding="utf-8")
    off = make_settings(MINIMAL + '[offboarding]\ncallback_aes_key_file = "key"\n',
                        {"WECOM_OIDC_OFFBOARDING__CALLBACK_TOKEN": TOKEN}).offboarding
    assert off.callback_token.reveal() == TOKEN and off.callback_aes_key.reveal() == KEY


def test_offboarding_only_one_of_token_and_key_refused(make_settings):
    problems = problems_of(make_settings, MINIMAL + f'[offboarding]\ncallback_token = "{TOKEN}"\n')
    assert any("offboarding.callback_aes_key" in p and "neither" in p for p in problems)


def test_offboarding_malformed_token_and_key_refused(make_settings):
    problems = problems_of(make_settings, MINIMAL + '[offboarding]\ncallback_token = "a b"\n'
                                                    'callback_aes_key = "short"\n')
    assert any("offboarding.callback_token" in p for p in problems)
    assert any("offboarding.callback_aes_key" in p and "43" in p for p in problems)


def test_offboarding_sweep_interval_too_short_refused(make_settings):
    problems = problems_of(make_settings, MINIMAL + "[offboarding]\nsweep_interval = 2\n")
    assert any("offboarding.sweep_interval" in p for p in problems)
