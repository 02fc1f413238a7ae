"""A web process remembers live access tokens for NORTHBOUND_TOKEN_CACHE_SECONDS (a query less per
northbound call): what it changes, and what it must not."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from applications import actions
from applications.models import Application, ApplicationToken

GATEWAY_1010005 = {"resultcode": "1010005", "resultmsg": "Invalid access token or appId."}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(settings, monkeypatch) -> Clock:
    settings.NORTHBOUND_TOKEN_CACHE_SECONDS = 2
    clock = Clock()
    monkeypatch.setattr(actions.time, "monotonic", clock)
    return clock


def _get(client, credentials, token=None):
    headers = credentials.headers()
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(f"/iocm/app/am/v1.1.0/applications/{credentials.app_id}", headers=headers)


def _token_queries(captured) -> int:
    return sum("applications_applicationtoken" in query["sql"] for query in captured.captured_queries)


def test_a_remembered_token_costs_no_query(client, owner_app, clock, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        assert _get(client, owner_app).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert _get(client, owner_app).status_code == 200
    assert _token_queries(first) == 1
    assert _token_queries(second) == 0
    clock.now += 2.5  # remembered for 2 s: asked again
    with CaptureQueriesContext(connection) as third:
        assert _get(client, owner_app).status_code == 200
    assert _token_queries(third) == 1


def test_ended_elsewhere_the_token_is_refused_once_forgotten(client, owner_app, clock):
    assert _get(client, owner_app).status_code == 200
    # Another web process logs the token out: this one learns it when its memory of it runs out.
    ApplicationToken.objects.filter(application=owner_app.application).update(access_expires_at=timezone.now())
    assert _get(client, owner_app).status_code == 200
    clock.now += 2.5
    response = _get(client, owner_app)
    assert response.status_code == 403
    assert response.json() == GATEWAY_1010005


def test_expiry_is_checked_at_every_call(client, owner_app, clock):
    assert _get(client, owner_app).status_code == 200
    expires = ApplicationToken.objects.get(application=owner_app.application).access_expires_at
    with time_machine.travel(expires + dt.timedelta(seconds=1), tick=False):
        assert _get(client, owner_app).status_code == 403


def test_logout_here_ends_the_token_at_once(client, owner_app, clock):
    assert _get(client, owner_app).status_code == 200
    assert actions.do_logout(owner_app.access_token)
    assert _get(client, owner_app).status_code == 403


def test_a_new_login_ends_the_previous_token_at_once(client, owner_app, clock):
    assert _get(client, owner_app).status_code == 200
    old = owner_app.access_token
    pair = actions.do_login(owner_app.app_id, owner_app.secret)
    assert _get(client, owner_app, token=old).status_code == 403
    assert _get(client, owner_app, token=pair.access_token).status_code == 200


def test_deactivating_the_application_refuses_its_calls_at_once(client, owner_app, clock):
    assert _get(client, owner_app).status_code == 200
    actions.do_update_settings(Application.objects.get(pk=owner_app.application.pk), {"is_active": False})
    assert _get(client, owner_app).status_code == 403


def test_each_call_gets_its_own_application_object(owner_app, clock):
    first = actions.check_access_token(owner_app.app_id, owner_app.access_token)
    first.api_rate_limit = 1  # a call that changes its copy changes nothing for the next one
    second = actions.check_access_token(owner_app.app_id, owner_app.access_token)
    assert second is not first
    assert second.api_rate_limit != 1


def test_another_applications_key_is_refused_even_when_remembered(client, owner_app, other_app, clock):
    assert _get(client, owner_app).status_code == 200
    response = client.get(
        f"/iocm/app/am/v1.1.0/applications/{owner_app.app_id}",
        headers={"app_key": other_app.app_id, "Authorization": f"Bearer {owner_app.access_token}"},
    )
    assert response.status_code == 403


def test_a_new_login_ends_the_old_token_in_every_web_process(transactional_db):
    """Two web processes, each remembering tokens (the default 2 s): a login answered by one ends the
    old token in the other from its very next call, with no wait."""
    import signal

    import httpx

    from tests.applications.fixtures import create_app
    from tests.portal.test_real_server import start_web

    credentials = create_app()
    first, first_process = start_web()
    second, second_process = start_web()
    try:
        path = f"/iocm/app/am/v1.1.0/applications/{credentials.app_id}"
        old = credentials.headers()
        for url in (first, second):  # both remember the old token now
            assert httpx.get(url + path, headers=old).status_code == 200
        login = httpx.post(
            first + "/iocm/app/sec/v1.1.0/login", data={"appId": credentials.app_id, "secret": credentials.secret}
        )
        assert login.status_code == 200
        refused = httpx.get(second + path, headers=old)
        assert (refused.status_code, refused.json()) == (403, GATEWAY_1010005)
        assert httpx.get(first + path, headers=old).status_code == 403
        new = {**old, "Authorization": f"Bearer {login.json()['accessToken']}"}
        assert httpx.get(second + path, headers=new).status_code == 200

        # a logout through the second process ends the new token in the first at once
        assert httpx.get(first + path, headers=new).status_code == 200
        logout = httpx.post(
            second + "/iocm/app/sec/v1.1.0/logout", json={"accessToken": login.json()["accessToken"]}, headers=new
        )
        assert logout.status_code < 300
        assert httpx.get(first + path, headers=new).status_code == 403
    finally:
        for process in (first_process, second_process):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
