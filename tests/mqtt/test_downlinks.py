"""Downlinks over MQTT through devices.downlink: QoS 1 PUBACK is "acked"; a command answered over MQTT."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from django.db import close_old_connections

from commands.models import Command, CommandEvent
from devices.downlink import holder, queue_downlink
from devices.models import Device
from ingress.mqtt import auth
from tests.mqtt.fixtures import DeviceClient, hour_now, mqtt_device

pytestmark = pytest.mark.django_db(transaction=True)

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


def queue(device: Device, payload: bytes, request_id: str) -> bool:
    try:
        return queue_downlink(Device.objects.get(pk=device.pk), payload, request_id=request_id)
    finally:
        close_old_connections()


def test_a_downlink_is_published_to_the_binary_command_topic_and_its_puback_reports_acked(owner_app, server, outcomes):
    received, arrived = outcomes
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port)
    assert not client.connect().is_failure
    client.subscribe(client.topic("command", "binary"))

    assert queue(device, b"\x03\x00\x07hi", "req-1")

    message = client.messages.get(timeout=10)
    assert arrived.wait(10)
    client.close()
    assert message.topic == client.topic("command", "binary") and message.qos == 1
    assert message.payload == b"\x03\x00\x07hi"
    assert received[0].request_id == "req-1" and received[0].outcome == "acked"


def test_a_device_that_is_not_connected_is_undeliverable(owner_app, server, outcomes):
    received, arrived = outcomes
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port)
    assert not client.connect().is_failure
    client.close()
    deadline = time.monotonic() + 10
    while queue(device, b"\x01", "probe") and time.monotonic() < deadline:
        time.sleep(0.05)  # until the server saw the disconnect

    assert arrived.wait(10)
    assert received[-1].outcome == "undeliverable"


def _wait_status(command_id: str, wanted: str, seconds: float = 10) -> Command:
    deadline = time.monotonic() + seconds
    while True:
        command = Command.objects.get(command_id=command_id)
        close_old_connections()
        if command.status == wanted or time.monotonic() > deadline:
            return command
        time.sleep(0.05)


def test_a_command_in_json_mode_is_delivered_and_answered_over_mqtt(owner_app, server, settings, client):
    # The real codec engine: the product has no codec, so the device speaks JSON both ways.
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    device = mqtt_device(owner_app, codec=False)
    mqtt = DeviceClient(device, server.port)
    assert not mqtt.connect().is_failure
    mqtt.subscribe(mqtt.topic("command", "json"))
    report = {"msgType": "deviceReq", "data": [{"serviceId": "WaterMeter", "serviceData": {"currentReading": "1"}}]}
    mqtt.publish(mqtt.topic("data", "json"), json.dumps(report))  # binds the device

    created = client.post(
        "/iocm/app/cmd/v1.4.0/deviceCommands",
        json.dumps({"deviceId": device.device_id, "command": ALARM, "expireTime": 0}),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    assert created.status_code == 201, created.content
    command_id = created.json()["commandId"]
    message = mqtt.messages.get(timeout=10)
    cloud_req = json.loads(message.payload)
    assert message.topic == mqtt.topic("command", "json")
    assert cloud_req["msgType"] == "cloudReq" and cloud_req["cmd"] == "SET_HIGHFLOW_ALARM"
    assert cloud_req["serviceId"] == "WaterMeterAlarm" and cloud_req["paras"] == {"highFlow": 30}
    assert _wait_status(command_id, "DELIVERED").status == "DELIVERED"

    response = {"msgType": "deviceRsp", "mid": cloud_req["mid"], "errcode": 0, "body": {"result": 0}}
    mqtt.publish(mqtt.topic("data", "json"), json.dumps(response))
    mqtt.close()

    command = _wait_status(command_id, "SUCCESSFUL")
    assert command.status == "SUCCESSFUL"
    statuses = list(CommandEvent.objects.filter(command=command).values_list("status", flat=True))
    assert statuses == ["PENDING", "SENT", "DELIVERED", "SUCCESSFUL"]


def test_mosquitto_sub_receives_a_downlink_on_its_command_topic(owner_app, server, outcomes):
    received, arrived = outcomes
    device = mqtt_device(owner_app)
    hour = hour_now()
    subscriber = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(server.port), "-V", "mqttv311", "-q", "1", "-C", "1",
         "-i", f"{device.device_id}_0_1_{hour}", "-u", device.device_id, "-P", auth.password(device.secret, hour),
         "-t", f"/huawei/v1/devices/{device.device_id}/command/binary", "-F", "%t %x"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while holder(device) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until mosquitto_sub is connected
        time.sleep(0.3)  # and subscribed (SUBACK is not visible from here)
        assert queue(device, b"\x03\x00\x09ok", "req-sub")
        out, _ = subscriber.communicate(timeout=15)
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
    assert out.split() == [f"/huawei/v1/devices/{device.device_id}/command/binary", "0300096f6b"]
    assert arrived.wait(10)
    assert [outcome.outcome for outcome in received if outcome.request_id == "req-sub"] == ["acked"]
