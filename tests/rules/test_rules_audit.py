"""Rules and alarms in the audit log (issue 21, item 8: operator and application actions that change
something): a rule created, modified, enabled, disabled and deleted through the original's API, alarms
acknowledged and cleared through /api/v1, each as the calling application from its address; a refused
change leaves none."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from applications.models import AuditEvent
from rules.models import Alarm
from tests.rules.fixtures import alarm_action, create_rule, data_condition, meter_device, meter_product, rule_body

pytestmark = pytest.mark.django_db

RULES = "/iocm/app/rule/v1.2.0/rules"


def _send(client, method, path, credentials, payload=None):
    return getattr(client, method)(
        path, json.dumps(payload) if payload is not None else None, content_type="application/json",
        headers=credentials.headers(), REMOTE_ADDR="198.51.100.20",
    )  # fmt: skip


def _events():
    return list(AuditEvent.objects.order_by("id").values_list("action", "target", "actor_kind", "actor", "address"))


def test_rule_changes_are_audited_as_the_application(client, owner_app, other_app):
    meter_product(owner_app)
    device = meter_device(owner_app)
    AuditEvent.objects.all().delete()
    body = rule_body([data_condition(device)], [alarm_action()])
    rule_id = create_rule(client, owner_app, body)
    assert _send(client, "put", RULES, owner_app, {**body, "ruleId": rule_id, "name": "Hotter"}).status_code == 200
    assert _send(client, "put", f"{RULES}/{rule_id}/status/inactive", owner_app).status_code == 200
    batch = {"requests": [{"ruleId": rule_id, "status": "active"}, {"ruleId": "nope", "status": "active"}]}
    assert _send(client, "put", f"{RULES}/status", owner_app, batch).status_code == 200
    # another application's attempts change nothing and leave nothing
    assert _send(client, "delete", f"{RULES}/{rule_id}", other_app).status_code == 404
    assert _send(client, "delete", f"{RULES}/{rule_id}", owner_app).status_code == 204

    target, who = f"rule {rule_id}", ("application", owner_app.app_id)
    events = _events()
    assert [event[:2] for event in events] == [
        ("rule.created", target),
        ("rule.modified", target),
        ("rule.disabled", target),
        ("rule.enabled", target),
        ("rule.deleted", target),
    ]
    assert {event[2:4] for event in events[1:]} == {who}
    assert {event[4] for event in events[1:]} == {"198.51.100.20"}
    assert AuditEvent.objects.get(action="rule.modified").detail == {"name": "Hotter"}
    assert AuditEvent.objects.filter(application=owner_app.application).count() == 5


def test_alarm_acknowledgements_and_clears_are_audited(client, owner_app, other_app):
    meter_product(owner_app)
    device = meter_device(owner_app)
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    hot, low = (
        Alarm.objects.create(
            application=owner_app.application, device=device, name=name, raised_at=now, last_raised_at=now
        )
        for name in ("Hot", "Low")
    )
    AuditEvent.objects.all().delete()
    ids = {"alarmIds": [hot.alarm_id]}
    assert _send(client, "post", "/api/v1/alarms/acknowledge", other_app, ids).json() == {"count": 0}
    assert _send(client, "post", "/api/v1/alarms/acknowledge", owner_app, ids).json() == {"count": 1}
    assert _send(client, "post", "/api/v1/alarms/acknowledge", owner_app, ids).json() == {"count": 0}
    assert _send(client, "post", "/api/v1/alarms/clear", owner_app, {"alarmIds": [low.alarm_id]}).json() == {"count": 1}
    events = list(AuditEvent.objects.order_by("id"))
    assert [(event.action, event.detail, event.actor, event.application_id) for event in events] == [
        ("alarm.acknowledged", {"alarmIds": [hot.alarm_id], "count": 1}, owner_app.app_id, owner_app.application.pk),
        ("alarm.cleared", {"alarmIds": [low.alarm_id], "count": 1}, owner_app.app_id, owner_app.application.pk),
    ]
