import json

import pytest

from commands.models import Command, CommandEvent
from devices.models import Device

CREATE = "/iocm/app/cmd/v1.4.0/deviceCommands"
ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


def _create(client, credentials, device, command=None, **body):
    body = {"deviceId": device.device_id, "command": command or ALARM, **body}
    return client.post(CREATE, json.dumps(body), content_type="application/json", headers=credentials.headers())


def test_create_is_201_with_the_originals_body(client, owner_app, meter, transport, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _create(client, owner_app, meter)
    assert response.status_code == 201
    body = response.json()
    assert list(body) == [
        "commandId", "appId", "deviceId", "command", "callbackUrl", "expireTime", "status", "creationTime",
        "executeTime", "platformIssuedTime", "deliveredTime", "issuedTimes", "maxRetransmit",
    ]  # fmt: skip
    assert len(body["commandId"]) == 32
    assert (body["expireTime"], body["status"], body["maxRetransmit"]) == (172800, "PENDING", 3)
    assert transport.sent == []  # PSM by default: it waits for the device's next uplink


def test_expire_time_0_is_sent_at_once(client, owner_app, meter, transport, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        command_id = _create(client, owner_app, meter, expireTime=0).json()["commandId"]
    assert [sent[0] for sent in transport.sent] == [command_id]
    command = Command.objects.get(command_id=command_id)
    assert command.status == "SENT" and 1 <= command.mid <= 65535 and command.issued_times == 1


def test_unknown_service_is_100431(client, owner_app, meter):
    response = _create(client, owner_app, meter, {"serviceId": "Nope", "method": "X", "paras": {}})
    assert response.status_code == 200
    assert response.json()["error_code"] == "100431"
    assert not Command.objects.exists()


def test_device_without_product_is_100431(client, owner_app, no_wake):
    from devices import actions
    from tests.devices.fixtures import register

    device = actions.do_bind_device(register(owner_app, node_id="bare"))
    response = _create(client, owner_app, device)
    assert response.json()["error_code"] == "100431"
    assert "modify" in response.json()["error_desc"]


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ({"serviceId": "WaterMeterAlarm", "method": "EXPLODE", "paras": {}}, ["EXPLODE", "SET_HIGHFLOW_ALARM"]),
        (
            {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": "12"}},
            ["highFlow", "integer"],
        ),
        ({"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {}}, ["highFlow", "required"]),
        (
            {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 1, "x": 2}},
            ["x", "not a para"],
        ),
        (
            {"serviceId": "WaterMeter", "method": "SET_METER_REPORT", "paras": {"content": "x" * 1025}},
            ["content", "maxLength"],
        ),
    ],
)
def test_paras_are_checked_against_the_profile_at_creation(client, owner_app, meter, command, words):
    # The original accepted these and failed at encoding (F-5.9); we refuse them at once.
    response = _create(client, owner_app, meter, command)
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
    for word in words:
        assert word in response.json()["error_desc"]
    assert not Command.objects.exists()


def test_offline_device_is_refused_with_100428(client, owner_app, meter):
    Device.objects.filter(pk=meter.pk).update(status="OFFLINE")
    response = _create(client, owner_app, meter)
    assert response.json() == {"error_code": "100428", "error_desc": "The device is not online."}
    assert not Command.objects.exists()


def test_twenty_pending_commands_at_most(client, owner_app, meter, transport):
    for _ in range(20):
        assert _create(client, owner_app, meter).status_code == 201
    response = _create(client, owner_app, meter)
    assert response.status_code == 400
    assert response.json()["error_code"] == "100223"
    assert Command.objects.count() == 20


@pytest.mark.parametrize(("field", "value"), [("expireTime", -1), ("expireTime", "10"), ("maxRetransmit", 4)])
def test_bad_numbers_are_100022(client, owner_app, meter, field, value):
    response = _create(client, owner_app, meter, **{field: value})
    assert response.json()["error_code"] == "100022"
    assert field in response.json()["error_desc"]


def test_callback_on_another_host_is_100234(client, owner_app, meter):
    from subscriptions.models import Subscription

    Subscription.objects.create(
        application=owner_app.application, notify_type="deviceAdded", callback_url="http://127.0.0.1:8080/a"
    )
    response = _create(client, owner_app, meter, callbackUrl="http://127.0.0.1:9090/cmd")
    assert response.status_code == 403
    assert response.json()["error_code"] == "100234"


def test_another_applications_device_is_100418(client, other_app, meter):
    response = _create(client, other_app, meter)
    assert response.json()["error_code"] == "100418"
    assert not Command.objects.exists()


def test_anonymous_is_refused(client, meter):
    response = client.post(
        CREATE, json.dumps({"deviceId": meter.device_id, "command": ALARM}), content_type="application/json"
    )
    assert response.status_code == 403


def test_creation_is_in_the_ledger(client, owner_app, meter, transport):
    command_id = _create(client, owner_app, meter).json()["commandId"]
    assert list(CommandEvent.objects.filter(command__command_id=command_id).values_list("status", "reason")) == [
        ("PENDING", "created")
    ]


def test_legacy_create_and_query(client, owner_app, meter, transport):
    url = f"/iocm/app/cmd/v1.2.0/devices/{meter.device_id}/commands"
    body = {"command": {**ALARM, "hasMore": 0}, "expireTime": 600}
    assert (
        client.post(url, json.dumps(body), content_type="application/json", headers=owner_app.headers()).status_code
        == 201
    )
    listing = client.get(
        f"/iocm/app/cmd/v1.2.0/queryCmd?deviceId={meter.device_id}", headers=owner_app.headers()
    ).json()
    assert listing["totalCount"] == 1
    assert listing["list"][0]["result"] == {"resultCode": "PENDING"}
