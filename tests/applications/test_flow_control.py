"""Application-side flow control (F-8.2): a window per application, counted in Redis."""

import datetime as dt

import time_machine

from applications.models import Application
from tests.applications.fixtures import create_app


def _url(credentials):
    return f"/iocm/app/am/v1.1.0/applications/{credentials.app_id}"


def test_default_limit_is_100_calls_per_60_seconds(db):
    assert Application._meta.get_field("api_rate_limit").default == 100


def test_call_past_the_limit_is_403_1010004_with_retry_after(client, db):
    credentials = create_app(api_rate_limit=3)
    start = dt.datetime(2026, 1, 1, 12, 0, 10, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        statuses = [client.get(_url(credentials), headers=credentials.headers()).status_code for _ in range(3)]
        refused = client.get(_url(credentials), headers=credentials.headers())
    assert statuses == [200, 200, 200]
    assert refused.status_code == 403
    assert refused.json() == {"resultcode": "1010004", "resultmsg": "app throttle exceed."}
    assert refused["Retry-After"] == "50"


def test_next_window_serves_again(client, db):
    credentials = create_app(api_rate_limit=1)
    start = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        assert client.get(_url(credentials), headers=credentials.headers()).status_code == 200
        assert client.get(_url(credentials), headers=credentials.headers()).status_code == 403
    with time_machine.travel(start + dt.timedelta(seconds=60), tick=False):
        assert client.get(_url(credentials), headers=credentials.headers()).status_code == 200


def test_one_applications_calls_do_not_count_against_another(client, db):
    busy = create_app("Busy", api_rate_limit=1)
    quiet = create_app("Quiet", api_rate_limit=1)
    with time_machine.travel(dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC), tick=False):
        client.get(_url(busy), headers=busy.headers())
        assert client.get(_url(busy), headers=busy.headers()).status_code == 403
        assert client.get(_url(quiet), headers=quiet.headers()).status_code == 200


def test_window_length_is_a_setting(client, db, settings):
    settings.NORTHBOUND_RATE_WINDOW = 10
    credentials = create_app(api_rate_limit=1)
    with time_machine.travel(dt.datetime(2026, 1, 1, 12, 0, 3, tzinfo=dt.UTC), tick=False):
        client.get(_url(credentials), headers=credentials.headers())
        refused = client.get(_url(credentials), headers=credentials.headers())
    assert refused["Retry-After"] == "7"


def test_new_applications_take_the_configured_default_limit(db, settings):
    settings.NORTHBOUND_RATE_LIMIT = 250
    assert create_app(login=False).application.api_rate_limit == 250
