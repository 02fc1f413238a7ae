"""Rules and alarm pages: the editor from the profile, last runs, the test against history, the console."""

from __future__ import annotations

import datetime as dt

import pytest

from devices import actions as device_actions
from devices import history
from rules import actions
from rules.models import Alarm, Rule
from tests.portal.fixtures import create_personas
from tests.rules.fixtures import alarm_action, data_condition, meter_device, meter_product, rule_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(db, monkeypatch):
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)
    personas = create_personas()
    product = meter_product(personas.app)
    device = meter_device(personas.app)
    return personas, product, device


def _editor_post(product, **fields):
    data = {
        "product": str(product.product_id),
        "name": "Too hot",
        "logic": "and",
        "device": "",
        "kind_0": "data",
        "property_0": "Meter/temperature",
        "operator_0": ">",
        "value_0": "80",
        "kind_1": "",
        "kind_2": "",
        "alarm_name": "Overheat",
        "alarm_severity": "critical",
        "command": "",
        "command_paras": "{}",
        "enabled": "on",
    }
    return {**data, **fields}


def test_the_editor_offers_the_profiles_properties_with_types_and_ranges(client, setup):
    personas, product, _ = setup
    client.force_login(personas.owner)
    page = client.get(f"/rules/new/?product={product.product_id}").content.decode()
    assert "Meter · temperature (int, -40..125)" in page
    assert "Meter · SET_PERIOD" in page


def test_the_editor_creates_a_rule_the_api_would_accept(client, setup):
    personas, product, _ = setup
    client.force_login(personas.owner)
    response = client.post("/rules/new/", _editor_post(product))
    rule = Rule.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/rules/{rule.rule_id}/"
    assert rule.conditions[0]["deviceTypeInfo"]["path"] == "Meter/temperature" and rule.is_active
    assert rule.actions == [
        {
            "type": "DEVICE_ALARM",
            "name": "Overheat",
            "severity": "critical",
            "status": "fault",
            "enable": True,
            "autoClear": True,
        }
    ]


def test_the_editor_targets_a_group_with_more_than_three_conditions_and_reads_it_back(client, setup):
    personas, product, device = setup
    group = device_actions.do_create_group(personas.app.application, "North", "", 0, [device.device_id])
    other_group = device_actions.do_create_group(personas.other_app.application, "Theirs", "", 0, [])
    client.force_login(personas.owner)
    page = client.get(f"/rules/new/?product={product.product_id}").content.decode()
    assert f'value="group:{group.dev_group_id}"' in page and "group · North" in page
    assert other_group.dev_group_id not in page  # another application's groups are not offered

    fields = _editor_post(
        product,
        device=f"group:{group.dev_group_id}",
        logic="or",
        kind_1="data", property_1="Meter/reading", operator_1=">=", value_1="1000",
        kind_2="status", status_2="OFFLINE",
        kind_3="absence", minutes_3="30",
        kind_4="data", property_4="Meter/temperature", operator_4="between", value_4="-40,-10", duration_4="60",
    )  # fmt: skip
    response = client.post("/rules/new/", fields)
    rule = Rule.objects.get()
    assert response.status_code == 302
    assert [c["type"] for c in rule.conditions] == [
        "DEVICE_GROUP_DATA", "DEVICE_GROUP_DATA", "DEVICE_STATUS", "DEVICE_NO_DATA", "DEVICE_GROUP_DATA",
    ]  # fmt: skip
    assert {c["deviceGroupInfo"]["devGroupId"] for c in rule.conditions} == {group.dev_group_id}
    assert rule.conditions[4]["duration"] == 60 and rule.logic == "or"

    # the editor shows it again, every condition in its row, the group chosen
    page = client.get(f"/rules/{rule.rule_id}/edit/").content.decode()
    assert f'<option value="group:{group.dev_group_id}" selected>' in page
    assert '<option value="absence" selected>' in page and 'name="minutes_3" value="30"' in page


def test_another_applications_group_cannot_be_named_in_the_editor(client, setup):
    personas, product, _ = setup
    theirs = device_actions.do_create_group(personas.other_app.application, "Theirs", "", 0, [])
    client.force_login(personas.owner)
    page = client.post("/rules/new/", _editor_post(product, device=f"group:{theirs.dev_group_id}")).content.decode()
    assert "is not one of the available choices" in page
    assert not Rule.objects.exists()


def test_the_editor_shows_the_rule_broken_and_writes_nothing(client, setup):
    personas, product, _ = setup
    client.force_login(personas.owner)
    page = client.post("/rules/new/", _editor_post(product, value_0="hot")).content.decode()
    assert "conditions[0].value must be a number" in page
    assert not Rule.objects.exists()


def test_viewers_and_outsiders_cannot_create_or_change(client, setup):
    personas, product, device = setup
    rule = actions.do_create_rule(personas.app.application, rule_body([data_condition(device)], [alarm_action()]))
    client.force_login(personas.viewer)
    assert client.get(f"/rules/new/?product={product.product_id}").status_code == 404
    assert client.post(f"/rules/{rule.rule_id}/status/").status_code == 404
    assert client.get(f"/rules/{rule.rule_id}/").status_code == 200
    client.force_login(personas.outsider)
    assert client.get(f"/rules/{rule.rule_id}/").status_code == 404
    assert client.post(f"/rules/{rule.rule_id}/delete/").status_code == 404
    assert Rule.objects.get().is_active


def test_a_rules_test_against_history_says_what_it_would_have_done(client, setup):
    personas, _, device = setup
    rule = actions.do_create_rule(personas.app.application, rule_body([data_condition(device)], [alarm_action()]))
    now = dt.datetime.now(dt.UTC)
    history.ensure_partitions_ahead(1)
    history.insert(
        (device.pk, device.application_id, "Meter", {"temperature": t}, now + dt.timedelta(minutes=i), now)
        for i, t in enumerate([20, 85, 30])
    )
    client.force_login(personas.viewer)
    page = client.get(f"/rules/{rule.rule_id}/?test={device.device_id}").content.decode()
    table = page.split('id="test-results"')[1]
    assert table.count(">fire<") == 1 and table.count(">clear<") == 1
    assert not Alarm.objects.exists()


def test_the_alarm_console_filters_and_acknowledges_in_bulk(client, setup):
    personas, _, device = setup
    now = dt.datetime.now(dt.UTC)
    make = lambda name, severity: Alarm.objects.create(  # noqa: E731
        application=personas.app.application,
        device=device,
        name=name,
        severity=severity,
        raised_at=now,
        last_raised_at=now,
    )
    hot, low = make("Hot", "critical"), make("Low battery", "minor")
    other = Alarm.objects.create(
        application=personas.other_app.application, name="Theirs", raised_at=now, last_raised_at=now
    )

    client.force_login(personas.owner)
    page = client.get("/rules/alarms/?severity=critical").content.decode()
    assert "Hot" in page and "Low battery" not in page and "Theirs" not in page
    response = client.post(
        "/rules/alarms/bulk/", {"alarm": [hot.alarm_id, low.alarm_id, other.alarm_id], "operation": "acknowledge"}
    )
    assert response.status_code == 302
    hot.refresh_from_db()
    other.refresh_from_db()
    assert hot.acknowledged_by == personas.owner.username and hot.acknowledged_at
    assert other.acknowledged_at is None
    tile = client.get("/rules/alarms/tile/").content.decode()
    assert ">2<" in tile.replace(" ", "").replace("\n", "")


def test_a_viewer_cannot_acknowledge(client, setup):
    personas, _, device = setup
    now = dt.datetime.now(dt.UTC)
    alarm = Alarm.objects.create(
        application=personas.app.application, device=device, name="Hot", raised_at=now, last_raised_at=now
    )
    client.force_login(personas.viewer)
    client.post("/rules/alarms/bulk/", {"alarm": [alarm.alarm_id], "operation": "acknowledge"})
    alarm.refresh_from_db()
    assert alarm.acknowledged_at is None
