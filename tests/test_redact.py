"""wecom_oidc.redact: the one place that blanks secrets in text, URLs and log records."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wecom_oidc import redact


@pytest.mark.parametrize("line, secret", [
    ("GET /cb?code=abc123&state=s", "abc123"),
    ("access_token=tok1 rest", "tok1"),
    ('{"refresh_token": "rt-9"}', "rt-9"),
    ("{'access_token': 'at-7', 'token_type': 'Bearer'}", "at-7"),
    ("Authorization: Bearer eyJx.y.z", "eyJx.y.z"),
    ("user_ticket=T1", "T1"),
    ("corpsecret=S3", "S3"),
    ("client_secret=hunter2", "hunter2"),
    ("poll device_code=dc-1", "dc-1"),
    ("approve user_code=BCDF-GHJK", "BCDF-GHJK"),
    ("Error connecting to redis://app:pw-42@cache:6379/0", "pw-42"),
])
def test_redact_text_blanks_the_secret(line, secret):
    out = redact.text(line)
    assert secret not in out and redact.MASK in out


def test_redact_text_keeps_lookalike_names_and_plain_urls():
    for line in ("errcode=40029 status code: 500", "token_type=Bearer",
                 "issuer https://sso.example.com:8443/oidc"):
        assert redact.text(line) == line


def test_redact_mapping_blanks_secret_fields_only():
    token = {"access_token": "a", "refresh_token": "r", "id_token": "i", "expires_in": 3600}
    assert redact.mapping(token) == {"access_token": "***", "refresh_token": "***",
                                     "id_token": "***", "expires_in": 3600}


def test_redact_values_blanks_echoed_secrets():
    assert redact.values("invalid code abc, hint: abc", ["abc", ""]) == \
        "invalid code ***, hint: ***"


@pytest.mark.parametrize("url, shown", [
    ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
    ("redis://app:hunter2@cache:6379/0", "redis://app:***@cache:6379/0"),
    ("rediss://app:p@ss@cache:6380", "rediss://app:***@cache:6380"),
    ("redis://app@cache:6379/0", "redis://app@cache:6379/0"),
    ("sqlite:////var/db", "sqlite:////var/db"),
    ("redis://u:pw@[::1/0", "redis://***@[::1/0"),
])
def test_redact_url_hides_the_password_only(url, shown):
    assert redact.url(url) == shown


def _filtered(msg, *args):
    record = logging.LogRecord("lib", logging.DEBUG, __file__, 1, msg, args, None)
    assert redact.RedactFilter().filter(record)
    return record


def test_redact_filter_blanks_mapping_arguments():
    record = _filtered("Issue token %r to %r", {"access_token": "at-1", "scope": "openid"},
                       "client")
    assert "at-1" not in record.getMessage() and "openid" in record.getMessage()


def test_redact_filter_blanks_query_values_in_the_message():
    record = _filtered('"GET /cgi-bin/gettoken?corpid=ww1&corpsecret=%s HTTP/1.1" 200', "S3")
    assert "S3" not in record.getMessage() and "corpid=ww1" in record.getMessage()


def test_redact_filter_survives_bad_format_arguments():
    record = _filtered("code=%s %s", "only-one")
    assert "only-one" not in record.getMessage()


def test_redact_install_covers_the_library_loggers_once():
    redact.install()
    redact.install()
    for name in redact.LIBRARY_LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, redact.RedactFilter) for f in filters) == 1


def _every_regex(value: str) -> str:
    """redact.text without its look-ahead for keys: every pattern on every text."""
    value = redact._KEY_VALUE.sub(rf"\1\2{redact.MASK}", value)
    return redact._URL_PASSWORD.sub(rf"\1{redact.MASK}@",
                                    redact._BEARER.sub(rf"\1{redact.MASK}", value))


def test_redact_every_secret_name_holds_a_part_the_text_is_searched_for():
    assert all(any(part in key for part in redact._KEY_PARTS) for key in redact.SECRET_KEYS)
    assert "" not in redact._KEY_PARTS


@pytest.mark.parametrize("line", [
    "audit event=login sub=zhangsan client=webapp outcome=success ip=127.0.0.1 rid=ab12",
    "audit event=token grant_type=authorization_code scope=openid+email rid=ab12",
    "CODE=abc ToKeN=x Access_Token=y PASSWORD=z", "errcode=1 mycode=2 _code=3 code=4",
    'x {"Code" : "v"} {\'secret\': \'s\'} {"token":"t"}', "BEARER  abc bearer\tdef",
    "redis://u:p@h rediss://:p@h/0 http://h:80/x", "code=a\u212aen token=\u017fecret",
    "to\u212aen=secret1 \u017fecret=s2 \u0131d_token=s3 BEARER abc", "",
    "Bearer", "://", "code", "code=", "code=&token=;x", "user_ticket=T Ticket=U",
])
def test_redact_text_is_what_every_regex_gives(line):
    assert redact.text(line) == _every_regex(line)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from([
    "code", "Code", "TOKEN", "access_token", "id_token", "secret", "password", "ticket",
    "err", "_", "=", '"', "'", ":", " ", "&", ";", ",", "://", "@", "/", "bearer",
    "Bearer ", "x", "9", "K", "\u212a", "\u017f", "\u0131", "\t", "redis", "u:p"]),
    max_size=16).map("".join))
def test_redact_text_is_what_every_regex_gives_for_any_text(line):
    assert redact.text(line) == _every_regex(line)
