"""Uplinks over MQTT into the pipeline: JSON and binary, stored before the PUBACK, pushed, answered."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from applications.models import Application
from devices import hooks
from devices.models import DataHistory, DeviceLog, LogKind
from ingress.mqtt import auth
from subscriptions.models import PushMessage
from tests.ingress.water_codec import report
from tests.mqtt.fixtures import DeviceClient, hour_now, mqtt_device, wait_for
from tests.subscriptions.fixtures import subscribe

pytestmark = pytest.mark.django_db(transaction=True)


class Nowhere:
    """A callback receiver nobody delivers to: the test looks at the push outbox."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:9{path}"


def device_req(reading: str = "4321", event_time: str = "20261126T080000Z") -> str:
    data = {"signalStrength": "20", "currentReading": reading, "flowRateReading": "3"}
    return json.dumps(
        {"msgType": "deviceReq", "data": [{"serviceId": "WaterMeter", "serviceData": data, "eventTime": event_time}]}
    )


def test_a_json_uplink_is_stored_before_its_puback_and_pushed(owner_app, server):
    subscribe(owner_app, Nowhere(), "deviceDataChanged")
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port)
    assert not client.connect().is_failure

    client.publish(client.topic("data", "json"), device_req("4321"), qos=1)

    # PUBACK came only after the pipeline committed: the row is there the moment paho saw it.
    rows = list(DataHistory.objects.filter(device_id=device.pk))
    client.close()
    assert [row.data["currentReading"] for row in rows] == ["4321"]
    assert rows[0].event_time.strftime("%Y%m%dT%H%M%SZ") == "20261126T080000Z"
    device.refresh_from_db()
    assert device.activated
    assert device.shadow["WaterMeter"]["data"]["currentReading"] == "4321"
    pushed = [json.loads(bytes(m.body)) for m in PushMessage.objects.filter(notify_type="deviceDataChanged")]
    assert pushed and pushed[0]["deviceId"] == device.device_id
    assert pushed[0]["service"]["data"]["currentReading"] == "4321"
    assert DeviceLog.objects.filter(device=device, kind=LogKind.DECODED, summary="MQTT uplink: WaterMeter").exists()


def test_a_binary_uplink_goes_through_the_codec_and_gets_its_ack_on_the_command_topic(owner_app, server):
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port)
    assert not client.connect().is_failure
    client.subscribe(client.topic("command", "binary"))

    client.publish(client.topic("data", "binary"), report(signal=31, reading=777, flow=12), qos=1)

    assert [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=device.pk)] == ["777"]
    ack = client.messages.get(timeout=10)
    client.close()
    assert ack.topic == client.topic("command", "binary")
    assert ack.payload == bytes.fromhex("AAAA0000")


def test_a_json_uplink_breaking_the_profile_is_logged_and_not_stored(owner_app, server):
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port)
    assert not client.connect().is_failure
    bad = {"msgType": "deviceReq", "data": [{"serviceId": "WaterMeter", "serviceData": {"noSuchProperty": 1}}]}

    client.publish(client.topic("data", "json"), json.dumps(bad), qos=1)
    client.publish(client.topic("data", "json"), b"{not json", qos=1)
    client.close()

    errors = [e.summary for e in DeviceLog.objects.filter(device=device, kind=LogKind.DECODE_ERROR).order_by("id")]
    assert "noSuchProperty" in errors[0] and "profile" in errors[0]
    assert errors[1].startswith("JSON payload could not be read: not JSON")
    assert not DataHistory.objects.filter(device_id=device.pk).exists()


def test_a_qos0_uplink_is_stored_too(owner_app, server):
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port)
    assert not client.connect().is_failure

    client.publish(client.topic("data", "json"), device_req("5"), qos=0)

    assert wait_for(lambda: DataHistory.objects.filter(device_id=device.pk).exists())
    client.close()


def test_mosquitto_pub_with_the_hourly_password(owner_app, server):
    device = mqtt_device(owner_app)
    hour = hour_now()
    base = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(server.port), "-V", "mqttv311", "-q", "1"]
    base += ["-i", f"{device.device_id}_0_1_{hour}", "-u", device.device_id]
    topic = f"/huawei/v1/devices/{device.device_id}/data/json"

    good = subprocess.run([*base, "-P", auth.password(device.secret, hour), "-t", topic, "-m", device_req("9")],
                          capture_output=True, timeout=20)  # fmt: skip
    bad = subprocess.run([*base, "-P", "wrong", "-t", topic, "-m", device_req("10")], capture_output=True, timeout=20)

    assert good.returncode == 0, good.stderr
    assert bad.returncode != 0 and b"not authori" in bad.stderr.lower()
    assert [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=device.pk)] == ["9"]


def test_a_device_rsp_reaches_the_commands_layer(owner_app, server):
    received: list[dict] = []
    arrived = threading.Event()

    def handler(device, decoded):
        received.append(decoded)
        arrived.set()

    hooks.on_device_response(handler)
    try:
        device = mqtt_device(owner_app)
        client = DeviceClient(device, server.port)
        assert not client.connect().is_failure
        response = {"msgType": "deviceRsp", "mid": 17, "errcode": 0, "body": {"result": 1}}
        client.publish(client.topic("data", "json"), json.dumps(response), qos=1)
        client.close()
        assert arrived.wait(10)
    finally:
        hooks._response_handlers.remove(handler)
    assert received[0]["mid"] == 17 and received[0]["errcode"] == 0 and received[0]["body"] == {"result": 1}


def test_a_device_over_its_limit_is_disconnected_with_the_reason_logged(owner_app, server):
    application = owner_app.application
    application.device_uplink_limit = 1
    application.save(update_fields=["device_uplink_limit"])
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port)
    lost = threading.Event()
    client.client.on_disconnect = lambda *args: lost.set()
    assert not client.connect().is_failure

    client.publish(client.topic("data", "json"), device_req("1"))
    client.client.publish(client.topic("data", "json"), device_req("2"), qos=1)

    assert lost.wait(10)
    client.close()
    summaries = [entry.summary for entry in DeviceLog.objects.filter(device=device).order_by("id")]
    assert any(summary.startswith("dropped by flow control") for summary in summaries)
    assert wait_for(lambda: "MQTT: disconnected for flooding" in
                    DeviceLog.objects.filter(device=device).values_list("summary", flat=True))  # fmt: skip
    assert DataHistory.objects.filter(device_id=device.pk).count() == 1


def test_a_burst_of_uplinks_is_stored_in_order_and_the_shadow_ends_with_the_last(owner_app, server, settings):
    """Many QoS 1 messages in flight at once: a device's uplinks stay in one queue, so batches of the same
    device never run concurrently (out of order, or deadlocking on its row)."""
    settings.INGRESS_BATCH_SIZE = 5  # many small batches, so two database threads would overlap
    Application.objects.filter(pk=owner_app.application.pk).update(uplink_rate_limit=100_000)  # no flow control
    devices = [mqtt_device(owner_app, f"86400000000010{n}") for n in range(5)]
    clients = [DeviceClient(device, server.port) for device in devices]
    for client in clients:
        assert not client.connect().is_failure
    infos = [
        client.client.publish(client.topic("data", "json"), device_req(str(number)), qos=1)
        for number in range(1, 101)
        for client in clients
    ]
    for info in infos:
        info.wait_for_publish(20)
        assert info.is_published()  # PUBACK: stored
    for client in clients:
        client.close()

    for device in devices:
        readings = list(
            DataHistory.objects.filter(device_id=device.pk)
            .order_by("id")
            .values_list("data__currentReading", flat=True)
        )
        assert readings == [str(number) for number in range(1, 101)]
        device.refresh_from_db()
        assert device.shadow["WaterMeter"]["data"]["currentReading"] == "100"
