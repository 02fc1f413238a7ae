"""Northbound login throttling: per (appId, address), a per-appId ceiling that spares known addresses."""

import datetime as dt

import pytest
import time_machine

from applications.models import ApplicationToken, AuditEvent
from tests.applications.fixtures import create_app

LOGIN = "/iocm/app/sec/v1.1.0/login"
REFRESH = "/iocm/app/sec/v1.1.0/refreshToken"
START = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURE_WINDOW = 900
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 12
    settings.LOGIN_KNOWN_ADDRESS_DAYS = 30
    settings.TRUSTED_PROXIES = []


def _login(client, app_id, secret, address="198.51.100.7", **headers):
    return client.post(LOGIN, {"appId": app_id, "secret": secret}, REMOTE_ADDR=address, headers=headers)


def test_wrong_secrets_from_one_address_are_throttled_with_retry_after(client, db):
    credentials = create_app(login=False)
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            assert _login(client, credentials.app_id, "wrong").status_code == 401
            clock.shift(10)
        # the sixth try, even with the right secret, is refused in the gateway's throttling shape
        refused = _login(client, credentials.app_id, credentials.secret)
        assert refused.status_code == 403
        assert refused.json() == {"resultcode": "1010004", "resultmsg": "app throttle exceed."}
        # the first failure was 50 s ago and leaves the 900 s window in 850 s
        assert refused["Retry-After"] == "850"
        assert not ApplicationToken.objects.filter(application=credentials.application).exists()
        # refused tries do not count: the block ends on time however often it is retried
        clock.shift(849)
        assert _login(client, credentials.app_id, credentials.secret).status_code == 403
        clock.shift(1)
        assert _login(client, credentials.app_id, credentials.secret).status_code == 200


def test_another_address_is_not_affected(client, db):
    credentials = create_app(login=False)
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            _login(client, credentials.app_id, "wrong", address="203.0.113.66")
        assert _login(client, credentials.app_id, credentials.secret, address="203.0.113.66").status_code == 403
        assert _login(client, credentials.app_id, credentials.secret, address="198.51.100.7").status_code == 200


def test_a_success_clears_the_addresss_failures(client, db):
    credentials = create_app(login=False)
    with time_machine.travel(START, tick=False):
        for _ in range(4):
            _login(client, credentials.app_id, "wrong")
        assert _login(client, credentials.app_id, credentials.secret).status_code == 200
        for _ in range(4):
            assert _login(client, credentials.app_id, "wrong").status_code == 401
        assert _login(client, credentials.app_id, credentials.secret).status_code == 200


def test_the_account_ceiling_stops_a_distributed_guess_but_not_the_servers_own_address(client, db):
    credentials = create_app(login=False)
    server = "198.51.100.7"
    with time_machine.travel(START, tick=False):
        assert _login(client, credentials.app_id, credentials.secret, address=server).status_code == 200
        # an attacker who knows the appId guesses from 12 addresses, 1 try each
        for number in range(12):
            assert _login(client, credentials.app_id, "guess", address=f"203.0.113.{number + 1}").status_code == 401
        # the next unknown address is refused, whatever it sends
        fresh = _login(client, credentials.app_id, credentials.secret, address="203.0.113.200")
        assert fresh.status_code == 403 and fresh.json()["resultcode"] == "1010004"
        # the application server, known from its earlier login, still logs in
        assert _login(client, credentials.app_id, credentials.secret, address=server).status_code == 200


def test_an_unknown_appid_is_throttled_like_a_known_one(client, db):
    with time_machine.travel(START, tick=False):
        answers = [_login(client, "no-such-app", "x").status_code for _ in range(6)]
    assert answers == [401] * 5 + [403]


def test_refresh_token_counts_and_honours_the_same_throttle(client, db):
    credentials = create_app()
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            response = client.post(
                REFRESH,
                {"appId": credentials.app_id, "secret": "wrong", "refreshToken": credentials.refresh_token},
                REMOTE_ADDR="198.51.100.7",
            )
            assert response.status_code == 401
        refused = _login(client, credentials.app_id, credentials.secret)
        assert refused.status_code == 403 and "Retry-After" in refused


def test_proxy_header_counts_only_behind_a_trusted_proxy(client, db, settings):
    credentials = create_app(login=False)
    with time_machine.travel(START, tick=False):
        # untrusted peer: a forged X-Forwarded-For per try does not escape the count
        for number in range(5):
            _login(client, credentials.app_id, "wrong", address="203.0.113.9", x_forwarded_for=f"10.9.9.{number}")
        assert _login(client, credentials.app_id, credentials.secret, address="203.0.113.9").status_code == 403
        # behind a trusted proxy, each client is its own address (the rightmost untrusted hop)
        settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
        for _ in range(5):
            _login(client, credentials.app_id, "wrong", address="127.0.0.1", x_forwarded_for="6.6.6.6, 198.18.0.1")
        blocked = _login(
            client, credentials.app_id, credentials.secret, address="127.0.0.1", x_forwarded_for="198.18.0.1"
        )
        assert blocked.status_code == 403
        other = _login(
            client, credentials.app_id, credentials.secret, address="127.0.0.1", x_forwarded_for="198.18.0.2"
        )
        assert other.status_code == 200


def test_failures_and_throttles_are_audited_with_address(client, db):
    credentials = create_app(login=False)
    with time_machine.travel(START, tick=False):
        for _ in range(6):
            _login(client, credentials.app_id, "wrong")
    logins = AuditEvent.objects.filter(action__startswith="login.").order_by("id")
    actions = list(logins.values_list("action", "actor", "address"))
    assert actions == [("login.failed", credentials.app_id, "198.51.100.7")] * 5 + [
        ("login.throttled", credentials.app_id, "198.51.100.7")
    ]


@pytest.mark.django_db(transaction=True)
def test_through_the_real_server_a_forged_forwarded_for_does_not_escape_the_count(settings):
    # The web process's uvicorn (run_web's configuration) honours X-Forwarded-For only from TRUSTED_PROXIES.
    import httpx

    from portal.management.commands.run_web import build_configs
    from portal.ports import free_port
    from tests.conftest import LiveServer

    settings.TRUSTED_PROXIES = ["192.0.2.1"]  # not the loopback the test connects from
    credentials = create_app(login=False)
    [config] = build_configs("127.0.0.1", free_port(), 0, "", "", log_level="warning")
    server = LiveServer(config).start()
    try:
        answers = [
            httpx.post(
                server.url + LOGIN,
                data={"appId": credentials.app_id, "secret": "wrong"},
                headers={"X-Forwarded-For": f"10.0.0.{number}"},
            ).status_code
            for number in range(6)
        ]
    finally:
        server.stop()
    assert answers == [401] * 5 + [403]
