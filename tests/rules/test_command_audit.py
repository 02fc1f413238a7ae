"""A command a rule sends is audited like any creation (issue 21, item 8): as the rule's, by the platform."""

from __future__ import annotations

import pytest

from applications.models import AuditEvent
from commands.models import Command
from ingress.pipeline import STORED, Uplink, handle_uplinks
from rules import actions
from tests.rules.fixtures import (
    alarm_action,
    command_action,
    data_condition,
    meter_device,
    meter_product,
    report_bytes,
    rule_body,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rule_fired_command_is_audited_as_the_rule(owner_app):
    meter_product(owner_app)
    device = meter_device(owner_app)
    rule = actions.do_create_rule(
        owner_app.application, rule_body([data_condition(device)], [alarm_action(), command_action(period=45)])
    )
    [outcome] = handle_uplinks([Uplink(device.pk, report_bytes(1, 90))])
    assert outcome.result == STORED
    command = Command.objects.get(device=device)
    event = AuditEvent.objects.get(action="command.created", target=f"command {command.command_id}")
    assert (event.actor_kind, event.actor, event.address, event.application_id) == (
        "system", f"rule {rule.rule_id}", None, owner_app.application.pk
    )  # fmt: skip
    assert event.detail == {"deviceId": device.device_id, "serviceId": "Meter", "method": "SET_PERIOD"}
