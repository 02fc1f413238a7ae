"""LwM2M queue mode (docs/lwm2m.md): commands to a sleeping device wait as PENDING until it wakes, and
a refused downlink leaves the device's answer in resultDetail. The clock is time-machine's."""

import datetime as dt
import json
import time

import time_machine

from commands import actions
from commands.models import Command, DeliveryPolicy
from devices import downlink, hooks
from subscriptions.models import PushMessage

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def _create(credentials, device):
    return actions.do_create_command(credentials.application, device, ALARM, callback_url="http://127.0.0.1:9/cb")


def test_a_queue_mode_device_gets_its_commands_only_in_its_wake_window(
    owner_app, meter, transport, django_capture_on_commit_callbacks
):
    DeliveryPolicy.objects.create(device=meter, power_mode="DRX")
    with time_machine.travel(T0, tick=False):
        # given: registered in queue mode at T0, awake for 93 s
        downlink.set_queue_mode(meter.pk, True, ttl=3600, awake_until=time.time() + 93)
        with django_capture_on_commit_callbacks(execute=True):
            awake = _create(owner_app, meter)
        assert [sent[0] for sent in transport.sent] == [awake.command_id]  # awake: sent at once
        actions.on_transport_result(awake.command_id, "ack")

    with time_machine.travel(T0 + dt.timedelta(seconds=94), tick=False):
        assert downlink.asleep(meter)
        with django_capture_on_commit_callbacks(execute=True):
            first, second = _create(owner_app, meter), _create(owner_app, meter)
        # asleep: they wait as PENDING, as for PSM
        assert len(transport.sent) == 1
        assert set(Command.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {"PENDING"}
        # when: it wakes (an Update), both go in this window, in order, as a PSM burst
        downlink.set_queue_mode(meter.pk, True, ttl=3600, awake_until=time.time() + 93)
        hooks.device_awake([meter])
        assert [sent[0] for sent in transport.sent[1:]] == [first.command_id, second.command_id]


def test_a_device_not_in_queue_mode_is_never_asleep(owner_app, meter):
    downlink.set_queue_mode(meter.pk, False, ttl=3600)
    assert not downlink.asleep(meter) and not downlink.queue_mode(meter)


def test_a_refused_downlink_keeps_the_devices_answer_in_result_detail_and_the_callback(owner_app, meter, transport):
    command = _create(owner_app, meter)
    actions.on_uplink(meter)
    answer = "the device answered 4.00 Bad Request: multiple resource, but the payload attempted to treat it as single"

    actions.on_transport_result(command.command_id, "error", {"outcome": "error", "code": "4.00", "detail": answer})

    command.refresh_from_db()
    assert command.status == "FAILED" and command.result_detail == answer
    callbacks = [json.loads(bytes(message.body)) for message in PushMessage.objects.order_by("id")]
    assert callbacks[-1]["result"] == {"resultCode": "FAILED", "resultDetail": answer}
