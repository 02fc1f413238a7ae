"""`/api/v1/alarms`: list with filters, acknowledge and clear; another application sees and changes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rules.models import Alarm
from tests.rules.fixtures import meter_device, meter_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def alarms(owner_app):
    meter_product(owner_app)
    device = meter_device(owner_app)
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    make = lambda name, severity, minutes, **extra: Alarm.objects.create(  # noqa: E731
        application=owner_app.application,
        device=device,
        name=name,
        severity=severity,
        raised_at=now,
        last_raised_at=now + dt.timedelta(minutes=minutes),
        **extra,
    )
    return [
        make("Hot", "critical", 3),
        make("Low battery", "minor", 2),
        make("Old", "major", 1, cleared_at=now, cleared_by="rule"),
    ]


def post(client, path, credentials, payload):
    return client.post(path, json.dumps(payload), content_type="application/json", headers=credentials.headers())


def test_list_newest_first_with_filters(client, owner_app, alarms, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        page = client.get("/api/v1/alarms", headers=owner_app.headers()).json()
    assert [alarm["name"] for alarm in page["alarms"]] == ["Hot", "Low battery", "Old"]
    assert page["alarms"][0]["state"] == "ACTIVE" and page["alarms"][2]["clearedBy"] == "rule"
    assert page["alarms"][0]["lastRaisedTime"] == "20260302T100300Z"
    open_critical = client.get("/api/v1/alarms?state=OPEN&severity=critical", headers=owner_app.headers()).json()
    assert [alarm["name"] for alarm in open_critical["alarms"]] == ["Hot"]
    bad = client.get("/api/v1/alarms?state=SLEEPING", headers=owner_app.headers())
    assert bad.status_code == 400 and "state must be" in bad.json()["error_desc"]


def test_acknowledge_and_clear(client, owner_app, alarms):
    hot, low, old = alarms
    response = post(client, "/api/v1/alarms/acknowledge", owner_app, {"alarmIds": [hot.alarm_id, old.alarm_id]})
    assert response.json() == {"count": 1}  # a cleared alarm is not acknowledged
    hot.refresh_from_db()
    assert hot.acknowledged_at and hot.acknowledged_by == f"app:{owner_app.app_id}"
    assert post(client, "/api/v1/alarms/clear", owner_app, {"alarmIds": [low.alarm_id]}).json() == {"count": 1}
    low.refresh_from_db()
    assert low.cleared_at and low.state == "CLEARED"
    bad = post(client, "/api/v1/alarms/acknowledge", owner_app, {"alarmIds": "all"})
    assert bad.status_code == 400 and "alarmIds" in bad.json()["error_desc"]


def test_another_application_sees_and_changes_nothing(client, other_app, alarms):
    assert client.get("/api/v1/alarms", headers=other_app.headers()).json()["alarms"] == []
    ids = [alarm.alarm_id for alarm in alarms]
    assert post(client, "/api/v1/alarms/acknowledge", other_app, {"alarmIds": ids}).json() == {"count": 0}
    assert post(client, "/api/v1/alarms/clear", other_app, {"alarmIds": ids}).json() == {"count": 0}
    assert not Alarm.objects.filter(acknowledged_at__isnull=False).exists()
    assert Alarm.objects.filter(cleared_at__isnull=True).count() == 2


def test_anonymous_is_refused(client, alarms):
    assert client.get("/api/v1/alarms").status_code in (400, 401, 403)
