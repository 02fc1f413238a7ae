"""Binding (F-4.1, F-4.2), status (F-4.6), reports: shadow, history (F-4.8), last-seen coalescing."""

import datetime as dt
import json

import time_machine

from applications.models import Application
from applications.redis import get_redis, key
from devices import actions, history
from devices.models import DataHistory, Device
from devices.tasks import sweep_devices
from subscriptions.models import PushMessage, Subscription
from tests.devices.fixtures import register, report

T0 = dt.datetime(2026, 5, 1, 10, 0, 0, tzinfo=dt.UTC)


def _subscribe(credentials, *types):
    for notify_type in types:
        Subscription.objects.create(
            application=credentials.application, notify_type=notify_type, callback_url="http://127.0.0.1:9/x"
        )


def _pushes(notify_type):
    return [json.loads(bytes(m.body)) for m in PushMessage.objects.filter(notify_type=notify_type).order_by("id")]


def test_first_connection_binds_and_notifies(owner_app, no_wake):
    _subscribe(owner_app, "bindDevice", "deviceInfoChanged")
    device = register(owner_app)
    device = actions.do_bind_device(device)
    assert device.activated and device.status == "ONLINE" and device.status_detail == "NONE"
    [bind] = _pushes("bindDevice")
    assert bind["resultCode"] == "succeeded"
    assert bind["deviceInfo"]["nodeId"] == device.node_id  # how the application learns the IMEI (F-4.12)
    assert _pushes("deviceInfoChanged")[0]["deviceInfo"]["status"] == "ONLINE"
    actions.do_bind_device(device)  # a second connection binds nothing again
    assert len(_pushes("bindDevice")) == 1


def test_unbound_device_expires_after_its_timeout(owner_app, no_wake):
    _subscribe(owner_app, "bindDevice")
    with time_machine.travel(T0, tick=False):
        device = register(owner_app, timeout=180)
        keeper = register(owner_app, node_id="forever", timeout=0)
    with time_machine.travel(T0 + dt.timedelta(seconds=179), tick=False):
        sweep_devices()
    assert Device.objects.filter(pk=device.pk).exists()
    with time_machine.travel(T0 + dt.timedelta(seconds=180), tick=False):
        sweep_devices()
    assert not Device.objects.filter(pk=device.pk).exists()
    assert Device.objects.filter(pk=keeper.pk).exists()
    [expired] = _pushes("bindDevice")
    assert (expired["deviceId"], expired["resultCode"]) == (device.device_id, "expired")


def test_a_bound_device_never_expires(owner_app, no_wake):
    with time_machine.travel(T0, tick=False):
        device = actions.do_bind_device(register(owner_app, timeout=10))
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        actions.expire_unbound()
    assert Device.objects.filter(pk=device.pk).exists()


def test_status_moves_to_abnormal_then_offline_and_back(owner_app, no_wake):
    _subscribe(owner_app, "deviceInfoChanged")
    with time_machine.travel(T0, tick=False):
        device = actions.do_bind_device(register(owner_app))
    PushMessage.objects.all().delete()
    with time_machine.travel(T0 + dt.timedelta(hours=24, minutes=59), tick=False):
        sweep_devices()
    assert Device.objects.get(pk=device.pk).status == "ONLINE"
    with time_machine.travel(T0 + dt.timedelta(hours=25, seconds=1), tick=False):
        sweep_devices()
    assert Device.objects.get(pk=device.pk).status == "ABNORMAL"
    with time_machine.travel(T0 + dt.timedelta(hours=49, seconds=1), tick=False):
        sweep_devices()
    device.refresh_from_db()
    assert device.status == "OFFLINE"
    assert [push["deviceInfo"]["status"] for push in _pushes("deviceInfoChanged")] == ["ABNORMAL", "OFFLINE"]
    with time_machine.travel(T0 + dt.timedelta(hours=50), tick=False):
        report(device, reading=1)
    device.refresh_from_db()
    assert device.status == "ONLINE"
    assert _pushes("deviceInfoChanged")[-1]["deviceInfo"]["status"] == "ONLINE"


def test_thresholds_are_the_applications(owner_app, no_wake):
    Application.objects.filter(pk=owner_app.application.pk).update(abnormal_after=600, offline_after=1200)
    with time_machine.travel(T0, tick=False):
        device = actions.do_bind_device(register(owner_app))
    with time_machine.travel(T0 + dt.timedelta(seconds=601), tick=False):
        sweep_devices()
    assert Device.objects.get(pk=device.pk).status == "ABNORMAL"


def test_reports_of_an_online_device_do_not_write_last_seen_each_time(owner_app, no_wake):
    with time_machine.travel(T0, tick=False):
        device = actions.do_bind_device(register(owner_app))
    device = Device.objects.select_related("application").get(pk=device.pk)
    with time_machine.travel(T0 + dt.timedelta(hours=24), tick=False):
        report(device, reading=1)
    assert Device.objects.get(pk=device.pk).last_seen_at == T0  # waiting in Redis
    assert get_redis().hget(key("devices", "last_seen"), device.pk) is not None
    with time_machine.travel(T0 + dt.timedelta(hours=25, seconds=1), tick=False):
        sweep_devices()  # flushes last-seen first: the device is not wrongly ABNORMAL
    device.refresh_from_db()
    assert device.last_seen_at == T0 + dt.timedelta(hours=24)
    assert device.status == "ONLINE"


def test_report_updates_the_shadow_and_notifies_one_service_per_push(owner_app, no_wake):
    _subscribe(owner_app, "deviceDataChanged", "deviceDatasChanged")
    device = actions.do_bind_device(register(owner_app))
    device = Device.objects.select_related("application").get(pk=device.pk)
    actions.do_store_report(
        device,
        [
            actions.ServiceReport("WaterMeter", "WaterMeter", {"currentReading": "46.3"}, T0),
            actions.ServiceReport("Battery", "Battery", {"batteryLevel": 80}, T0),
        ],
    )
    report(device, "Battery", T0, batteryLevel=79)
    device.refresh_from_db()
    assert device.shadow == {
        "WaterMeter": {
            "serviceType": "WaterMeter",
            "data": {"currentReading": "46.3"},
            "eventTime": "20260501T100000Z",
        },
        "Battery": {"serviceType": "Battery", "data": {"batteryLevel": 79}, "eventTime": "20260501T100000Z"},
    }
    assert [push["service"]["serviceId"] for push in _pushes("deviceDataChanged")] == [
        "WaterMeter",
        "Battery",
        "Battery",
    ]
    datas = _pushes("deviceDatasChanged")
    assert [len(push["services"]) for push in datas] == [2, 1]


def test_history_only_in_storage_mode(owner_app, no_wake):
    device = actions.do_bind_device(register(owner_app))
    device = Device.objects.select_related("application").get(pk=device.pk)
    report(device, reading=1)
    assert DataHistory.objects.filter(device_id=device.pk).count() == 1
    Application.objects.filter(pk=owner_app.application.pk).update(storage_mode=False)
    device.application.refresh_from_db()
    report(device, reading=2)
    assert DataHistory.objects.filter(device_id=device.pk).count() == 1
    assert Device.objects.get(pk=device.pk).shadow["WaterMeter"]["data"] == {"reading": 2}


def test_history_lands_in_the_partition_of_its_day(owner_app, no_wake):
    device = actions.do_bind_device(register(owner_app))
    device = Device.objects.select_related("application").get(pk=device.pk)
    with time_machine.travel(T0, tick=False):
        report(device, reading=1)
    assert ("devices_datahistory_p20260501", T0.date()) in history.partitions()


def test_an_offline_device_that_reports_mid_upgrade_stays_firmware_updating(owner_app, no_wake):
    """F-7.6: a module that went quiet to install comes back ONLINE, but its upgrade is not over: the
    detail stays FIRMWARE_UPDATING so its commands keep waiting; other details are cleared."""
    device = actions.do_bind_device(register(owner_app))
    other = actions.do_bind_device(register(owner_app, "863703030000002"))
    Device.objects.filter(pk=device.pk).update(status="OFFLINE", status_detail="FIRMWARE_UPDATING")
    Device.objects.filter(pk=other.pk).update(status="OFFLINE", status_detail="COMMUNICATION_ERROR")
    for each in (device, other):
        each.refresh_from_db()
        report(each, reading=1)

    assert Device.objects.values_list("status", "status_detail").get(pk=device.pk) == ("ONLINE", "FIRMWARE_UPDATING")
    assert Device.objects.values_list("status", "status_detail").get(pk=other.pk) == ("ONLINE", "NONE")


def test_a_device_that_says_it_leaves_is_offline_at_once_and_notified_once(owner_app, no_wake):
    # An LwM2M de-registration (ingress.sessions.deregister) calls this.
    _subscribe(owner_app, "deviceInfoChanged")
    device = actions.do_bind_device(register(owner_app))
    PushMessage.objects.all().delete()

    assert actions.do_set_offline(device.pk, because="LwM2M de-registration") is True
    assert actions.do_set_offline(device.pk, because="LwM2M de-registration") is False  # already OFFLINE

    assert Device.objects.get(pk=device.pk).status == "OFFLINE"
    [changed] = _pushes("deviceInfoChanged")
    assert changed["deviceInfo"]["status"] == "OFFLINE"
