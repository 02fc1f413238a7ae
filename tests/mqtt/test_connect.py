"""Static connection: client id, user name and the hourly HMAC password; topic rules; refusals logged."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from devices.models import DataHistory, DeviceLog, LogKind
from ingress.mqtt import auth
from tests.mqtt.fixtures import DeviceClient, mqtt_device, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def refusals(device) -> list[str]:
    return [entry.summary for entry in DeviceLog.objects.filter(device=device, kind=LogKind.INFO).order_by("id")]


def test_the_password_is_hmac_sha256_keyed_by_the_hour_over_the_secret():
    # Computed independently: printf '%s' secret | openssl dgst -sha256 -hmac 2026112608
    expected = "ed0d29495deed43d4c0b079758ea4d3a565a0b213eb4f1fd8cbc71cf7018754e"
    assert auth.password("secret", "2026112608") == expected


def test_a_device_with_the_right_password_connects(owner_app, server):
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port)

    reason = client.connect()

    assert not reason.is_failure
    client.close()
    assert wait_for(lambda: any("MQTT connected" in summary for summary in refusals(device)))


def test_a_wrong_password_is_refused_and_logged_on_the_device(owner_app, server):
    device = mqtt_device(owner_app)
    client = DeviceClient(device, server.port, password="0" * 64)

    reason = client.connect()

    assert reason.is_failure
    client.close()
    assert wait_for(lambda: "MQTT connection refused: wrong password" in refusals(device))


def test_an_hour_more_than_an_hour_away_is_refused_when_the_client_id_asks_for_the_time_check(owner_app, server):
    device = mqtt_device(owner_app)
    stale = auth.hour_string(dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))

    checked = DeviceClient(device, server.port, check_time=1, hour=stale)
    unchecked = DeviceClient(device, server.port, check_time=0, hour=stale)

    assert checked.connect().is_failure
    assert not unchecked.connect().is_failure
    checked.close()
    unchecked.close()
    assert wait_for(lambda: any("more than an hour" in summary for summary in refusals(device)))


def test_an_unknown_device_and_a_foreign_user_name_are_refused(owner_app, server):
    device = mqtt_device(owner_app)
    other = mqtt_device(owner_app, "864000000000002")

    unknown = DeviceClient(device, server.port, device_id="no-such-device")
    # The other device's id with this device's password: the user name must match the client id too.
    foreign = DeviceClient(other, server.port, password=auth.password(device.secret, DeviceClient(device, 0).hour))

    assert unknown.connect().is_failure
    assert foreign.connect().is_failure
    unknown.close()
    foreign.close()


def test_a_device_reaching_for_another_devices_topics_is_refused_and_logged(owner_app, server):
    device = mqtt_device(owner_app)
    other = mqtt_device(owner_app, "864000000000002")
    client = DeviceClient(device, server.port)
    assert not client.connect().is_failure

    granted = client.subscribe(client.topic("command", "json", other.device_id))
    own = client.subscribe(client.topic("command", "json"))
    report = {"msgType": "deviceReq", "data": [{"serviceId": "WaterMeter", "serviceData": {"currentReading": "1"}}]}
    client.publish(client.topic("data", "json", other.device_id), json.dumps(report))

    assert granted[0].is_failure
    assert not own[0].is_failure
    client.close()
    assert wait_for(lambda: sum("refused to" in summary for summary in refusals(device)) == 2)
    assert not DataHistory.objects.filter(device_id=other.pk).exists()
    assert not DeviceLog.objects.filter(device=other, kind=LogKind.DECODED).exists()
