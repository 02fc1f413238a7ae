"""Portal sign-in throttling: per (account, address), with Retry-After and an audited refusal."""

import datetime as dt

import pytest
import time_machine

from applications.models import AuditEvent
from tests.portal.fixtures import create_user

START = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURE_WINDOW = 900
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 50


def _sign_in(client, password, address="198.51.100.7", username="olivia"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_wrong_passwords_throttle_the_account_from_that_address(client, db):
    create_user("olivia")
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            assert _sign_in(client, "wrong").status_code == 200  # the form again, with its error
        refused = _sign_in(client, "correct horse 9")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "900"
        assert b"Too many failed sign-ins" in refused.content
        assert "_auth_user_id" not in client.session
        # another address signs in at once
        assert _sign_in(client, "correct horse 9", address="203.0.113.5").status_code == 302
        client.logout()
        clock.shift(900)
        assert _sign_in(client, "correct horse 9").status_code == 302


def test_the_refusal_is_translated(client, db):
    create_user("olivia")
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            _sign_in(client, "wrong")
        client.cookies["django_language"] = "zh-hans"
        refused = _sign_in(client, "correct horse 9")
    assert refused.status_code == 429
    assert "登录失败次数过多".encode() in refused.content


def test_sign_ins_are_audited(client, db):
    create_user("olivia")
    _sign_in(client, "wrong")
    _sign_in(client, "correct horse 9")
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor", "actor_kind", "address"))
    assert events == [
        ("login.failed", "olivia", "user", "198.51.100.7"),
        ("login.succeeded", "olivia", "user", "198.51.100.7"),
    ]
