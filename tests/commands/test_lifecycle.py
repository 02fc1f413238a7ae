"""The status machine (F-5.5), PSM bursts, DRX order, answers, timers and callbacks."""

import datetime as dt
import json

import time_machine

from commands import actions
from commands.models import Command, CommandEvent, DeliveryPolicy
from subscriptions.models import PushMessage, Subscription

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def _create(credentials, device, **kwargs):
    return actions.do_create_command(credentials.application, device, ALARM, **kwargs)


def _statuses(command):
    return list(CommandEvent.objects.filter(command=command).values_list("status", flat=True))


def test_psm_sends_every_cached_command_on_the_next_uplink_with_has_more(owner_app, meter, transport):
    commands = [_create(owner_app, meter) for _ in range(3)]
    assert transport.sent == []
    actions.on_uplink(meter)
    assert [sent[0] for sent in transport.sent] == [command.command_id for command in commands]
    has_more = [eval(payload.decode())["hasMore"] for _, payload in transport.sent]  # noqa: S307 (our fake's repr)
    assert has_more == [1, 1, 0]
    assert set(Command.objects.values_list("status", flat=True)) == {"SENT"}


def test_drx_sends_one_at_a_time(owner_app, meter, transport, django_capture_on_commit_callbacks):
    DeliveryPolicy.objects.create(device=meter, power_mode="DRX")
    with django_capture_on_commit_callbacks(execute=True):
        first = _create(owner_app, meter)
        second = _create(owner_app, meter)
    assert [sent[0] for sent in transport.sent] == [first.command_id]
    actions.on_transport_result(first.command_id, "ack")
    assert [sent[0] for sent in transport.sent] == [first.command_id, second.command_id]


def test_ack_then_response_is_successful_with_the_body(owner_app, meter, transport):
    command = _create(owner_app, meter)
    actions.on_uplink(meter)
    command.refresh_from_db()
    actions.on_transport_result(command.command_id, "ack")
    actions.on_device_response(meter, command.mid, 0, {"result": 0})
    command.refresh_from_db()
    assert command.status == "SUCCESSFUL" and command.result_detail == {"result": 0}
    assert _statuses(command) == ["PENDING", "SENT", "DELIVERED", "SUCCESSFUL"]
    assert command.sent_at and command.delivered_at and command.executed_at


def test_a_non_zero_errcode_fails(owner_app, meter, transport):
    command = _create(owner_app, meter)
    actions.on_uplink(meter)
    command.refresh_from_db()
    actions.on_device_response(meter, command.mid, 1, {"result": 1})
    assert Command.objects.get(pk=command.pk).status == "FAILED"


def test_encode_error_fails_the_command_and_logs_it(owner_app, meter, transport):
    transport.refuse = "field highFlow does not fit 1 byte"
    command = _create(owner_app, meter)
    actions.on_uplink(meter)
    command.refresh_from_db()
    assert command.status == "FAILED"
    assert meter.logs.filter(kind="encode_error", summary__contains="does not fit").exists()


def test_no_ack_ends_in_timeout(owner_app, meter, transport, settings):
    settings.COMMAND_ACK_TIMEOUT_TOTAL = 225
    with time_machine.travel(T0, tick=False):
        command = _create(owner_app, meter, expire_time=0)
        actions.send([Command.objects.select_related("device", "application").get(pk=command.pk)], reason="test")
    with time_machine.travel(T0 + dt.timedelta(seconds=224), tick=False):
        actions.sweep_timers()
    assert Command.objects.get(pk=command.pk).status == "SENT"
    with time_machine.travel(T0 + dt.timedelta(seconds=225), tick=False):
        actions.sweep_timers()
    assert Command.objects.get(pk=command.pk).status == "TIMEOUT"


def test_cached_command_expires(owner_app, meter, transport):
    with time_machine.travel(T0, tick=False):
        command = _create(owner_app, meter, expire_time=60)
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        assert actions.sweep_timers()["expired"] == 1
    assert Command.objects.get(pk=command.pk).status == "EXPIRED"


def test_cancel_only_pending(owner_app, meter, transport):
    from applications.errors import NorthboundError

    command = _create(owner_app, meter)
    actions.do_cancel(command)
    assert Command.objects.get(pk=command.pk).status == "CANCELED"
    try:
        actions.do_cancel(Command.objects.select_related("device", "application").get(pk=command.pk))
    except NorthboundError as error:
        assert error.error_code == "100435"
    else:
        raise AssertionError("a canceled command was canceled again")


def test_illegal_moves_are_refused(owner_app, meter, transport):
    from commands.models import CommandStatus

    command = _create(owner_app, meter)
    assert not actions.transition(command, CommandStatus.DELIVERED, "skipping SENT")
    assert Command.objects.get(pk=command.pk).status == "PENDING"


def test_every_transition_is_called_back_in_order(owner_app, meter, transport, no_wake):
    Subscription.objects.create(
        application=owner_app.application, notify_type="deviceAdded", callback_url="http://127.0.0.1:8080/a"
    )
    command = _create(owner_app, meter, callback_url="http://127.0.0.1:8080/commands")
    actions.on_uplink(meter)
    command.refresh_from_db()
    actions.on_transport_result(command.command_id, "ack")
    actions.on_device_response(meter, command.mid, 0, {"light_state": 1})
    bodies = [
        json.loads(bytes(m.body)) for m in PushMessage.objects.filter(ordering_key=command.command_id).order_by("id")
    ]
    assert [body["result"]["resultCode"] for body in bodies] == ["SENT", "DELIVERED", "SUCCESSFUL"]
    assert bodies[-1] == {
        "deviceId": meter.device_id,
        "commandId": command.command_id,
        "result": {"resultCode": "SUCCESSFUL", "resultDetail": {"light_state": 1}},
    }


def test_a_response_matching_no_command_is_logged(owner_app, meter):
    assert actions.on_device_response(meter, 4242, 0, {}) is None
    assert meter.logs.filter(summary__contains="mid 4242").exists()
