"""Commands pages: history, ledger with its explanation, the simulator, batch tasks."""

import pytest

from commands import actions
from commands.models import Command
from devices.models import Device
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.portal.fixtures import create_personas

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


@pytest.fixture
def setup(db, no_wake, transport):
    from devices import actions as device_actions

    personas = create_personas()
    water_meter(personas.app)
    device = device_actions.do_bind_device(register(personas.app, info=WATER_METER))
    device = Device.objects.select_related("product", "application").get(pk=device.pk)
    return personas, device


def test_ledger_explains_a_psm_wait(client, setup):
    personas, device = setup
    command = actions.do_create_command(personas.app.application, device, ALARM)
    client.force_login(personas.viewer)
    page = client.get(f"/commands/{command.command_id}/").content.decode()
    assert "Waiting for the device&#x27;s next uplink" in page or "Waiting for the device's next uplink" in page
    assert "created" in page
    assert "Cancel" not in page  # viewers read only


def test_outsider_cannot_see_or_cancel(client, setup):
    personas, device = setup
    command = actions.do_create_command(personas.app.application, device, ALARM)
    client.force_login(personas.outsider)
    assert client.get(f"/commands/{command.command_id}/").status_code == 404
    assert client.post(f"/commands/{command.command_id}/cancel/").status_code == 404
    assert Command.objects.get(pk=command.pk).status == "PENDING"


def test_owner_cancels(client, setup):
    personas, device = setup
    command = actions.do_create_command(personas.app.application, device, ALARM)
    client.force_login(personas.owner)
    client.post(f"/commands/{command.command_id}/cancel/")
    assert Command.objects.get(pk=command.pk).status == "CANCELED"


def test_simulator_form_comes_from_the_profile_and_sends(client, setup):
    personas, device = setup
    client.force_login(personas.owner)
    page = client.get(
        f"/commands/simulator/?device={device.device_id}&command=WaterMeterAlarm|SET_HIGHFLOW_ALARM"
    ).content.decode()
    assert "highFlow (int, L)" in page
    response = client.post(
        "/commands/simulator/",
        {
            "device": device.device_id,
            "command": "WaterMeterAlarm|SET_HIGHFLOW_ALARM",
            "para_highFlow": 12,
            "expire_time": 600,
        },
    )
    command = Command.objects.get()
    assert response.status_code == 302 and command.paras == {"highFlow": 12}


def test_simulator_shows_the_rule_a_value_breaks(client, setup):
    personas, device = setup
    client.force_login(personas.owner)
    page = client.post(
        "/commands/simulator/",
        {
            "device": device.device_id,
            "command": "WaterMeter|SET_METER_REPORT",
            "para_content": "x" * 1025,
            "expire_time": 0,
        },
    ).content.decode()
    assert "content" in page and not Command.objects.exists()


def test_viewer_cannot_use_the_simulator_on_the_device(client, setup):
    personas, device = setup
    client.force_login(personas.viewer)
    client.post(
        "/commands/simulator/",
        {
            "device": device.device_id,
            "command": "WaterMeterAlarm|SET_HIGHFLOW_ALARM",
            "para_highFlow": 1,
            "expire_time": 60,
        },
    )
    assert not Command.objects.exists()


def test_history_list_filters_by_device(client, setup, django_assert_max_num_queries):
    personas, device = setup
    for _ in range(5):
        actions.do_create_command(personas.app.application, device, ALARM)
    client.force_login(personas.operator)
    with django_assert_max_num_queries(6):
        page = client.get(f"/commands/?device={device.node_id}").content.decode()
    assert page.count("SET_HIGHFLOW_ALARM") == 5
