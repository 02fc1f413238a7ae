"""Every way of creating a command leaves an audit event (issue 21, item 8) with who, what, when and from
where, written by commands_create in the creation's own statement: the northbound API, batch tasks and
the portal's send (rule-fired commands: tests/rules/test_command_audit.py). The audit log is read by
platform operators only: another application's administrator sees none of it."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import AuditEvent
from commands import actions
from commands.models import BatchTask, Command
from devices.models import Device
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.portal.fixtures import create_personas

CREATE = "/iocm/app/cmd/v1.4.0/deviceCommands"
ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


def _created(command: Command) -> AuditEvent:
    return AuditEvent.objects.get(action="command.created", target=f"command {command.command_id}")


def test_a_northbound_creation_is_audited_as_the_application_from_its_address_in_the_same_statement(
    client, owner_app, meter
):
    body = json.dumps({"deviceId": meter.device_id, "command": ALARM})
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            CREATE, body, content_type="application/json", headers=owner_app.headers(), REMOTE_ADDR="198.51.100.7"
        )
    assert response.status_code == 201, response.content
    assert not any("applications_auditevent" in query["sql"] for query in captured.captured_queries)
    command = Command.objects.get(command_id=response.json()["commandId"])
    event = _created(command)
    assert (event.actor_kind, event.actor, event.address, event.application_id) == (
        "application", owner_app.app_id, "198.51.100.7", owner_app.application.pk
    )  # fmt: skip
    assert event.occurred_at == command.created_at
    assert event.detail == {"deviceId": meter.device_id, "serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM"}


def test_a_refused_creation_leaves_no_event(client, owner_app, meter):
    bad = {**ALARM, "paras": {"highFlow": "not a number"}}
    response = client.post(
        CREATE, json.dumps({"deviceId": meter.device_id, "command": bad}), content_type="application/json",
        headers=owner_app.headers(),
    )  # fmt: skip
    assert response.status_code == 400
    for _ in range(actions.MAX_PENDING):
        actions.do_create_command(owner_app.application, meter, ALARM)
    before = AuditEvent.objects.filter(action="command.created").count()
    response = client.post(
        CREATE, json.dumps({"deviceId": meter.device_id, "command": ALARM}), content_type="application/json",
        headers=owner_app.headers(),
    )  # fmt: skip
    assert response.json()["error_code"] == "100223"  # 20 pending: refused inside commands_create
    assert AuditEvent.objects.filter(action="command.created").count() == before == actions.MAX_PENDING


def test_each_command_of_a_batch_task_is_audited_with_its_task(client, owner_app, meter, transport):
    body = {
        "appId": owner_app.app_id, "timeout": 60, "taskName": "raise alarms", "taskType": "DeviceCmd",
        "param": {"type": "DeviceList", "deviceList": [meter.device_id], "command": ALARM},
    }  # fmt: skip
    response = client.post(
        "/iocm/app/batchtask/v1.1.0/tasks", json.dumps(body), content_type="application/json",
        headers=owner_app.headers(),
    )  # fmt: skip
    task = BatchTask.objects.get(task_id=response.json()["taskID"])
    event = _created(Command.objects.get(batch_task=task))
    assert (event.actor_kind, event.actor, event.address) == ("application", owner_app.app_id, "127.0.0.1")
    assert event.detail["taskId"] == task.task_id
    assert AuditEvent.objects.filter(action="batch_task.created", target=f"batch task {task.task_id}").exists()


@pytest.fixture
def personas(db, no_wake, transport):
    from devices import actions as device_actions

    personas = create_personas()
    water_meter(personas.app)
    device = device_actions.do_bind_device(register(personas.app, info=WATER_METER))
    return personas, Device.objects.select_related("product", "application").get(pk=device.pk)


def test_a_portal_send_is_audited_as_the_account_and_only_operators_read_it(client, personas):
    personas, device = personas
    client.force_login(personas.owner)
    response = client.post(
        "/commands/simulator/",
        {"device": device.device_id, "command": "WaterMeterAlarm|SET_HIGHFLOW_ALARM", "para_highFlow": 12,
         "expire_time": 600},
        REMOTE_ADDR="203.0.113.9",
    )  # fmt: skip
    assert response.status_code == 302
    event = _created(Command.objects.get())
    assert (event.actor_kind, event.actor, event.address, event.application_id) == (
        "user", "olivia", "203.0.113.9", personas.app.application.pk
    )  # fmt: skip

    # the other application's owner (its administrator) reads no audit log, nor its export
    client.force_login(personas.outsider)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/?export=csv").status_code == 403
    # the application's own owner neither: the log is the platform operators'
    client.force_login(personas.owner)
    assert client.get("/audit/").status_code == 403
    client.force_login(personas.operator)
    page = client.get("/audit/?action=command.created").content.decode()
    assert "command.created" in page and "203.0.113.9" in page
