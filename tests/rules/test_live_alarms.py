"""The alarm console is live: a rule raising an alarm and an operator acknowledging one send
`alarms.changed` to the application's group over the real websocket, and to no other application's."""

from __future__ import annotations

import pytest
from django.urls import reverse

from applications import events
from ingress.pipeline import STORED, Uplink, handle_uplinks
from rules import actions
from rules.models import Alarm
from tests.portal.test_live_events import _receive, _socket, create_personas
from tests.rules.fixtures import alarm_action, data_condition, meter_device, meter_product, report_bytes
from tests.rules.fixtures import rule_body as body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def personas(db):
    personas = create_personas()
    meter_product(personas.app)
    actions.do_create_rule(personas.app.application, body([data_condition()], [alarm_action()]))
    return personas


def _fire(personas) -> None:
    device = meter_device(personas.app)
    [outcome] = handle_uplinks([Uplink(device.pk, report_bytes(1, 90))])
    assert outcome.result == STORED
    events.flush()


def test_a_raised_and_an_acknowledged_alarm_reach_the_applications_console(live_server, personas):
    with _socket(live_server, personas.owner) as socket:
        _fire(personas)
        raised = _receive(socket, "alarms.changed")
        alarm = Alarm.objects.get()
        actions.do_acknowledge_alarms(personas.app.application, [alarm.alarm_id], "olivia")
        events.flush()
        acknowledged = _receive(socket, "alarms.changed")
    assert raised["application"] == acknowledged["application"] == personas.app.application.pk


def test_another_applications_member_hears_nothing_of_these_alarms(live_server, personas):
    theirs = Alarm.objects.create(
        application=personas.other_app.application, name="Theirs", raised_at="2026-03-02T10:00Z",
        last_raised_at="2026-03-02T10:00Z",
    )  # fmt: skip
    with _socket(live_server, personas.outsider) as socket:
        _fire(personas)  # the owner's alarm: not for this socket
        actions.do_acknowledge_alarms(personas.other_app.application, [theirs.alarm_id], "oscar")
        events.flush()
        # Events of one publisher arrive in order: had the first leaked, it would come first.
        assert _receive(socket, "alarms.changed")["application"] == personas.other_app.application.pk


def test_the_console_refreshes_on_the_live_event_not_on_a_timer_of_seconds(client, personas):
    client.force_login(personas.owner)
    page = client.get(reverse("rules:alarms")).content.decode()
    # alarms.js refreshes it on `alarms.changed` (no htmx filter expression: the CSP forbids their eval)
    assert 'id="alarm-table" data-live' in page and 'hx-trigger="alarms-refresh"' in page
    assert "rules/alarms.js" in page and "every 5s" not in page
