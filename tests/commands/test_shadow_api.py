"""The device shadow v1.5.0: desired against reported, desired changes delivered at the next contact as
a command through the codec, their outcome pushed, and the desired history."""

import json

import pytest
import time_machine

from commands import actions
from commands.models import Command, DesiredChange
from devices import actions as device_actions
from devices.models import Device
from subscriptions.models import PushMessage, Subscription
from tests.devices.fixtures import WATER_METER, register
from tests.products.fixtures import import_files, service_path, water_meter_files

SHADOW = "/iocm/app/shadow/v1.5.0/devices"
HISTORY = "/iocm/app/shadow/v1.5.0/deviceDesiredHistory"


def writable_meter_files():
    """The WaterMeter profile with a writable highFlow property, carried by SET_HIGHFLOW_ALARM's para."""
    files = water_meter_files()
    alarm = files[service_path("WaterMeterAlarm")]["services"][0]
    alarm["properties"].append(
        {"propertyName": "highFlow", "dataType": "int", "required": False, "min": 1, "max": 1000, "step": 1,
         "maxLength": 0, "method": "RW", "unit": "L", "enumList": None}
    )  # fmt: skip
    alarm["commands"][0]["paras"][0]["max"] = 1000
    return files


@pytest.fixture
def writable(owner_app, no_wake):
    import_files(owner_app, writable_meter_files())
    device = device_actions.do_bind_device(register(owner_app, info=WATER_METER))
    return Device.objects.select_related("product", "application").get(pk=device.pk)


def _put(client, credentials, device_id, body):
    return client.put(
        f"{SHADOW}/{device_id}", json.dumps(body), content_type="application/json", headers=credentials.headers()
    )


def _desired(service_id="WaterMeterAlarm", **values):
    return {"serviceDesireds": [{"serviceId": service_id, "desired": values}]}


def test_desired_is_kept_and_shown_against_reported(client, owner_app, writable):
    Device.objects.filter(pk=writable.pk).update(
        shadow={"WaterMeterAlarm": {"serviceType": "WaterMeterAlarm", "data": {"highFlow": 10, "lowFlowAlarm": 0},
                                    "eventTime": "20260101T000000Z"}}
    )  # fmt: skip
    response = _put(client, owner_app, writable.device_id, _desired(highFlow=30))
    assert (response.status_code, response.content) == (200, b"")
    body = client.get(f"{SHADOW}/{writable.device_id}", headers=owner_app.headers()).json()
    assert list(body) == [
        "deviceId",
        "gatewayId",
        "nodeType",
        "createTime",
        "lastModifiedTime",
        "deviceInfo",
        "services",
    ]
    assert body["services"] == [
        {
            "serviceId": "WaterMeterAlarm",
            "serviceType": "WaterMeterAlarm",
            "reportedProps": {"highFlow": 10, "lowFlowAlarm": 0},
            "desiredProps": {"highFlow": 30},
            "eventTime": "20260101T000000Z",
        }
    ]
    change = DesiredChange.objects.get()
    assert (change.version, change.status, change.method) == (1, "PENDING", "SET_HIGHFLOW_ALARM")
    assert not Command.objects.exists()  # nothing goes before the device's next contact
    _put(client, owner_app, writable.device_id, _desired(highFlow=40))
    assert list(DesiredChange.objects.order_by("version").values_list("version", flat=True)) == [1, 2]


def test_delivered_at_the_next_contact_and_the_outcome_pushed(client, owner_app, writable, transport):
    Subscription.objects.create(
        application=owner_app.application,
        notify_type="deviceDesiredPropertiesModifyStatusChanged",
        callback_url="http://127.0.0.1:9/desired",
    )
    _put(client, owner_app, writable.device_id, _desired(highFlow=30))

    actions.on_uplinks([writable])  # what the ingress calls once an uplink of the device is stored

    command = Command.objects.get()
    assert (command.service_id, command.method, command.paras, command.status) == (
        "WaterMeterAlarm", "SET_HIGHFLOW_ALARM", {"highFlow": 30}, "SENT",
    )  # fmt: skip
    assert [sent[0] for sent in transport.sent] == [command.command_id]
    assert eval(transport.sent[0][1].decode())["paras"] == {"highFlow": 30}  # noqa: S307 (the fake codec's repr)
    assert DesiredChange.objects.get().status == "SENT"
    actions.on_uplinks([writable])  # a later contact sends it no second time
    assert Command.objects.count() == 1

    actions.on_transport_result(command.command_id, "ack")
    actions.on_device_response(writable, command.mid, 0, {"result": 0})

    assert DesiredChange.objects.get().status == "SUCCESSFUL"
    pushed = [json.loads(bytes(m.body)) for m in PushMessage.objects.filter(notify_type__startswith="deviceDesired")]
    assert pushed == [
        {
            "notifyType": "deviceDesiredPropertiesModifyStatusChanged",
            "deviceId": writable.device_id,
            "serviceId": "WaterMeterAlarm",
            "properties": {"highFlow": 30},
            "status": "SUCCESSFUL",
        }
    ]


def test_a_failed_command_fails_the_change(client, owner_app, writable, transport):
    _put(client, owner_app, writable.device_id, _desired(highFlow=30))
    actions.on_uplinks([writable])
    command = Command.objects.get()
    actions.on_device_response(writable, command.mid, 1, {"result": 1})
    assert DesiredChange.objects.get().status == "FAILED"


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (_desired(lowFlowAlarm=1), 200, "100425", "WaterMeterAlarm.lowFlowAlarm is not writable"),
        (_desired(nope=1), 200, "100425", "nope is not a property"),
        (_desired("Nope", highFlow=1), 200, "100431", "Nope is not a service"),
        (_desired(highFlow=5000), 400, "100022", "highFlow"),
        (_desired(highFlow="x"), 400, "100022", "highFlow"),
        ({"serviceDesireds": []}, 400, "100022", "serviceDesireds"),
        ({}, 400, "100022", "serviceDesireds"),
        (_desired(), 400, "100022", "desired"),
    ],
)
def test_refused_changes_change_nothing(client, owner_app, writable, body, status, code, words):
    response = _put(client, owner_app, writable.device_id, body)
    assert (response.status_code, response.json()["error_code"]) == (status, code)
    assert words in response.json()["error_desc"]
    assert not DesiredChange.objects.exists()


def test_other_applications_and_anonymous_callers(client, owner_app, other_app, writable):
    foreign_put = _put(client, other_app, writable.device_id, _desired(highFlow=30))
    assert (foreign_put.status_code, foreign_put.json()["error_code"]) == (404, "100418")
    foreign_get = client.get(f"{SHADOW}/{writable.device_id}", headers=other_app.headers())
    assert foreign_get.json()["error_code"] == "100418"
    history = client.get(HISTORY, {"deviceId": writable.device_id}, headers=other_app.headers()).json()
    assert history["totalCount"] == 0
    assert client.get(f"{SHADOW}/{writable.device_id}").status_code == 403
    assert not DesiredChange.objects.exists()


def test_desired_history_pages_and_filters_by_time(client, owner_app, writable, django_assert_max_num_queries):
    for day, value in ((1, 10), (2, 20), (3, 30)):
        with time_machine.travel(f"2026-03-0{day} 10:00:00Z", tick=False):
            _put(client, owner_app, writable.device_id, _desired(highFlow=value))
    with django_assert_max_num_queries(4):
        page = client.get(
            HISTORY, {"deviceId": writable.device_id, "pageNo": 0, "pageSize": 2}, headers=owner_app.headers()
        ).json()
    assert (page["totalCount"], page["pageNo"], page["pageSize"]) == (3, 0, 2)
    assert [row["desired"] for row in page["deviceDesiredHistory"]] == [{"highFlow": 30}, {"highFlow": 20}]
    assert list(page["deviceDesiredHistory"][0]) == [
        "deviceId",
        "gatewayId",
        "appId",
        "serviceId",
        "desired",
        "timestamp",
    ]
    assert page["deviceDesiredHistory"][0]["timestamp"] == "20260303T100000Z"
    window = client.get(
        HISTORY,
        {
            "deviceId": writable.device_id,
            "startTime": "20260302T000000Z",
            "endTime": "20260302T235959Z",
            "pageSize": 10,
        },
        headers=owner_app.headers(),
    ).json()
    assert [row["desired"] for row in window["deviceDesiredHistory"]] == [{"highFlow": 20}]
    assert client.get(HISTORY, headers=owner_app.headers()).json()["error_code"] == "100419"
    bad = client.get(HISTORY, {"deviceId": writable.device_id, "startTime": "yesterday"}, headers=owner_app.headers())
    assert bad.json()["error_code"] == "100022"
