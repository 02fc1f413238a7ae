"""The command lifecycle (F-5.1 to F-5.10): creation, transitions with their ledger and callbacks,
delivery by power mode, device answers, expiry and timeouts, cancellation, batch tasks.

Every transition is a compare-and-swap on the status (only the moves in models.TRANSITIONS), writes
one CommandEvent, and queues the callback in the subscriptions outbox in the same transaction, so
callbacks go out at least once and in transition order (their ordering key is the command id).
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from applications import audit
from applications.errors import NorthboundError
from applications.models import Application
from applications.prometheus import Family
from applications.redis import get_redis, key
from commands import shadow
from commands.models import (
    TRANSITIONS,
    BatchTask,
    BatchTaskDetail,
    Command,
    CommandEvent,
    CommandStatus,
    DeliveryPolicy,
    Lwm2mDownlink,
    PowerMode,
    new_command_id,
)
from commands.requests import BatchTaskRequest
from commands.validation import check_command
from devices import downlink, gateways, logs
from devices.models import Device, LogKind, Status, StatusDetail
from products.models import Product
from subscriptions import actions as push
from subscriptions import payloads

MAX_PENDING = 20
# The audit event of every creation, written by commands_create in the creation's statement;
# bench/commands_bench.py sets it to None in alternate rounds to measure what the row costs.
AUDIT_CREATION: str | None = "command.created"
MAX_EXPIRE_TIME = 2_147_483_647


def _invalid(rule: str) -> NorthboundError:
    return NorthboundError("100022", f"The input is invalid: {rule}.")


def check_create(
    application: Application, device: Device, command: Any, *, expire_time: Any, max_retransmit: Any, callback_url: Any
) -> dict[str, Any]:
    """Everything a new command must satisfy, before anything is written."""
    if not isinstance(command, dict):
        raise _invalid("command is required and must be an object with serviceId, method and paras")
    if expire_time is None:
        expire_time = settings.COMMAND_DEFAULT_EXPIRE_TIME
    if isinstance(expire_time, bool) or not isinstance(expire_time, int) or not 0 <= expire_time <= MAX_EXPIRE_TIME:
        raise _invalid("expireTime must be a whole number of seconds, 0 or more")
    if max_retransmit is None:
        max_retransmit = 3
    if isinstance(max_retransmit, bool) or not isinstance(max_retransmit, int) or not 0 <= max_retransmit <= 3:
        raise _invalid("maxRetransmit must be 0 to 3")
    if callback_url not in (None, ""):
        if not isinstance(callback_url, str) or len(callback_url) > 1024:
            raise NorthboundError("100222")
        push.check_callback_url(application, callback_url)
    definition = check_command(device, command.get("serviceId"), command.get("method"), command.get("paras"))
    if device.status != Status.ONLINE:
        # F-4.7: commands to ABNORMAL or OFFLINE devices (never connected included) fail.
        raise NorthboundError("100428", http_status=200)
    if device.mute:
        raise NorthboundError("100432", http_status=200)
    return {
        "service_id": command["serviceId"],
        "method": command["method"],
        "paras": command.get("paras") or {},
        "expire_time": expire_time,
        "max_retransmit": max_retransmit,
        "callback_url": callback_url or "",
        "definition": definition,
    }


# What a command creation reads of its device, in the model's field order (Model.from_db wants it).
_READ = {"id", "device_id", "application_id", "node_id", "status", "status_detail", "mute", "product_id", "gateway_id"}
DEVICE_FIELDS = [field.attname for field in Device._meta.concrete_fields if field.attname in _READ]
_COLUMNS = ", ".join(f"device.{name}" for name in DEVICE_FIELDS)  # the model's own column names
DEVICE_QUERY = (
    f"SELECT {_COLUMNS}, product.revision, product.updated_at FROM devices_device device"  # noqa: S608
    " LEFT JOIN products_product product ON product.id = device.product_id"
    " WHERE device.application_id = %s AND device.device_id = %s"
)


def device_for_command(application: Application, device_id: str) -> Device | None:
    """The application's device with its product, as a command creation needs it: one indexed plain
    statement for the device's few fields (the rest load on first use), the product (profile
    included) from this process's cache, kept per product revision and update, so an edited profile is read
    again at once. The ORM's 50-column join cost a creation 1.2 ms of CPU."""
    with connection.cursor() as cursor:
        cursor.execute(DEVICE_QUERY, [application.pk, device_id])
        row = cursor.fetchone()
    if row is None:
        return None
    device = Device.from_db("default", DEVICE_FIELDS, row[: len(DEVICE_FIELDS)])
    device.application = application
    device.product = _product(device.product_id, *row[-2:]) if device.product_id else None
    return device


@functools.lru_cache(maxsize=512)
def _product(product_pk: int, revision: int, updated_at: dt.datetime) -> Product | None:
    """A product as of one revision (every profile change bumps it) and update; never its zip archive."""
    return Product.objects.defer("archive").filter(pk=product_pk, revision=revision, updated_at=updated_at).first()


def do_create_command(
    application: Application,
    device: Device,
    command: Any,
    *,
    expire_time: Any = None,
    max_retransmit: Any = None,
    callback_url: Any = None,
    batch_task: BatchTask | None = None,
) -> Command:
    """A new PENDING command; delivery starts after commit (now, or at the device's next chance).

    The writes are one call of the database function `commands_create` (migrations commands/0003,
    0006): the device's row lock, the 20-pending count under it, the command, its ledger row, the
    device-log row and the audit event (who and from where: the current audit actor), in one round
    trip and one transaction (the caller's, when it has one)."""
    values = check_create(
        application, device, command, expire_time=expire_time, max_retransmit=max_retransmit, callback_url=callback_url
    )
    now = timezone.now()
    created = Command(
        command_id=new_command_id(),
        application=application,
        device=device,
        service_id=values["service_id"],
        method=values["method"],
        paras=values["paras"],
        callback_url=values["callback_url"],
        expire_time=values["expire_time"],
        max_retransmit=values["max_retransmit"],
        status=CommandStatus.PENDING,
        issued_times=0,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=values["expire_time"]) if values["expire_time"] else None,
        batch_task=batch_task,
    )
    # An LwM2M gateway's sub-device is reached when its gateway is: the gateway's power mode governs it.
    gateway_mode = power_mode(device) if device.gateway_id is not None else None
    actor_kind, actor, address = audit.actor_columns()
    detail = {"deviceId": device.device_id, "serviceId": created.service_id, "method": created.method}
    if batch_task is not None:
        detail["taskId"] = batch_task.task_id
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM commands_create(%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s::smallint, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s::inet, %s, %s::jsonb)",
            [
                created.command_id, application.pk, device.pk, created.service_id, created.method,
                json.dumps(created.paras), created.callback_url, created.expire_time, created.max_retransmit,
                batch_task.pk if batch_task else None, now, created.expires_at, MAX_PENDING,
                settings.COMMAND_DEFAULT_POWER_MODE, LogKind.COMMAND,
                f"command {created.service_id}.{created.method} created, ", gateway_mode,
                AUDIT_CREATION, actor_kind, actor, address, f"command {created.command_id}", json.dumps(detail),
            ],
        )  # fmt: skip
        row = cursor.fetchone()
    if row is None:
        raise NorthboundError("100418", http_status=200)  # deleted since it was read
    created.pk, mode, _, summary = row
    if created.pk is None:
        raise NorthboundError("100223")
    logs.publish_log(device, LogKind.COMMAND, summary)
    if created.expire_time == 0 or mode != PowerMode.PSM:
        # A PSM device's cached command waits for its next uplink: nothing to do after commit.
        transaction.on_commit(lambda: dispatch_after_commit(created.pk))
    return created


def power_mode(device: Device) -> str:
    """The device's own power mode, else its product's, else COMMAND_DEFAULT_POWER_MODE (one query)."""
    return delivery_settings([device])[device.pk][0]


def lwm2m_downlink(device: Device) -> str:
    """How downlinks reach the device's /19/1/0: write (PUT) or execute (POST); one query."""
    return delivery_settings([device])[device.pk][1]


def delivery_settings(devices: Iterable[Device]) -> dict[int, tuple[str, str]]:
    """(power mode, LwM2M downlink method) per device pk, each field from the device's own policy, else
    its product's, else the platform's settings; one query for any number of devices."""
    devices = list(devices)
    # An LwM2M gateway's sub-device is reached when its gateway is: the gateway's power mode governs it,
    # and the gateway's downlink method applies when the sub-device and its product set none (one more
    # query, only when sub-devices are asked about).
    via = gateways.lwm2m_gateways(device.gateway_id for device in devices if device.gateway_id)
    products = {device.product_id for device in devices if device.product_id} | {pk for pk in via.values() if pk}
    found = DeliveryPolicy.objects.filter(device__in=[device.pk for device in devices] + list(via))
    if products:
        found = found | DeliveryPolicy.objects.filter(product_id__in=products)
    by_device, by_product = {}, {}
    for policy in found:
        (by_device if policy.device_id else by_product)[policy.device_id or policy.product_id] = policy
    defaults = DeliveryPolicy(
        power_mode=settings.COMMAND_DEFAULT_POWER_MODE, lwm2m_downlink=settings.INGRESS_LWM2M_DOWNLINK
    )
    resolved = {}
    for device in devices:
        own = [by_device.get(device.pk), by_product.get(device.product_id)]
        gateway = []
        if device.gateway_id in via:
            gateway = [by_device.get(device.gateway_id), by_product.get(via[device.gateway_id])]
        chain = [policy for policy in [*own, *gateway, defaults] if policy is not None]
        modes = [policy for policy in [*gateway, defaults] if policy is not None] if gateway else chain
        resolved[device.pk] = (
            next(policy.power_mode for policy in modes if policy.power_mode),
            next(policy.lwm2m_downlink for policy in chain if policy.lwm2m_downlink),
        )
    return resolved


def check_delivery_policy(power_mode: Any, lwm2m_downlink: Any) -> dict[str, str]:
    """Each field empty (inherit) or one of its choices; {field: message} problems raise ValueError."""
    problems = {}
    if power_mode not in ("", *PowerMode.values):
        problems["powerMode"] = f"must be empty (inherit) or one of {', '.join(PowerMode.values)}"
    if lwm2m_downlink not in ("", *Lwm2mDownlink.values):
        problems["lwm2mDownlink"] = f"must be empty (inherit) or one of {', '.join(Lwm2mDownlink.values)}"
    if problems:
        raise DeliveryPolicyInvalid(problems)
    return {"power_mode": power_mode, "lwm2m_downlink": lwm2m_downlink}


class DeliveryPolicyInvalid(ValueError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name} {message}" for name, message in problems.items()))
        self.problems = problems


def do_set_delivery_policy(
    *, product: Product | None = None, device: Device | None = None, power_mode: Any = "", lwm2m_downlink: Any = ""
) -> DeliveryPolicy | None:
    """Set a product's or a device's policy; both fields empty removes it (everything inherited)."""
    values = check_delivery_policy(power_mode, lwm2m_downlink)
    owner = {"product": product} if product is not None else {"device": device}
    subject = product if product is not None else device
    assert subject is not None
    kind = "product" if product is not None else "device"
    audit.record(
        "delivery_policy.set",
        application_id=subject.application_id,
        target=f"{kind} {subject.product_id if product is not None else subject.device_id}",
        detail=values,
    )
    if not any(values.values()):
        DeliveryPolicy.objects.filter(**owner).delete()
        return None
    policy, _ = DeliveryPolicy.objects.update_or_create(**owner, defaults=values)
    return policy


def policy_of(*, product: Product | None = None, device: Device | None = None) -> DeliveryPolicy:
    """The stored policy of a product or a device, or an empty one (everything inherited)."""
    owner = {"product": product} if product is not None else {"device": device}
    return DeliveryPolicy.objects.filter(**owner).first() or DeliveryPolicy(**owner)


def transition(
    command: Command, to: str, reason: str, *, evidence: dict | None = None, detail: Any = None, **fields: Any
) -> bool:
    """Move a command if the move is legal and nobody moved it first; ledger and callback with it."""
    allowed_from = [state for state, targets in TRANSITIONS.items() if to in targets]
    now = timezone.now()
    stamp = {
        CommandStatus.SENT: {"sent_at": now},
        CommandStatus.DELIVERED: {"delivered_at": now},
        CommandStatus.SUCCESSFUL: {"executed_at": now},
        CommandStatus.FAILED: {"executed_at": now},
    }.get(to, {})
    with transaction.atomic():
        moved = Command.objects.filter(pk=command.pk, status__in=allowed_from).update(status=to, **stamp, **fields)
        if not moved:
            return False
        previous = command.status
        command.status = to
        for name, value in {**stamp, **fields}.items():
            setattr(command, name, value)
        CommandEvent.objects.create(command=command, at=now, status=to, reason=reason, evidence=evidence)
        shadow.on_command_outcome(command.pk, to)  # a desired change it carried takes the outcome
        if command.callback_url:
            push.notify_url(
                command.application,
                command.callback_url,
                payloads.command_callback(command.device.device_id, command.command_id, to, detail),
                ordering_key=command.command_id,
            )
        logs.log(
            command.device,
            LogKind.COMMAND,
            f"command {command.service_id}.{command.method}: {previous} -> {to} ({reason})",
        )
        transaction.on_commit(lambda: _count_transition(to))
    return True


# Committed transitions of this process by state, for its Prometheus /metrics (`transition_families`).
_transitions: collections.Counter = collections.Counter()


def _count_transition(to: str) -> None:
    _transitions[to] += 1


def transition_families() -> list[Family]:
    """This process's committed command transitions by the state reached (read at scrape time)."""
    from applications.prometheus import Family

    family = Family(
        "command_transitions", "Command state changes committed by this process, by state", labels=("state",)
    )
    for state, count in list(_transitions.items()):
        family.add(count, str(state))
    return [family]


def do_cancel(command: Command) -> Command:
    """Cancel a PENDING command (section 3.3): 100435 otherwise."""
    if command.status != CommandStatus.PENDING or not transition(
        command, CommandStatus.CANCELED, "canceled by the application"
    ):
        raise NorthboundError("100435", http_status=200)
    _audit_canceled([command])
    return command


def _audit_canceled(commands: list[Command]) -> None:
    # Every later state is in each command's own ledger (CommandEvent); a cancel is a person's or an
    # application's decision, kept here too (creations are audited by commands_create itself).
    audit.record_many(
        [
            audit.Entry(
                "command.canceled",
                application_id=command.application_id,
                target=f"command {command.command_id}",
                detail={"deviceId": command.device.device_id},
            )
            for command in commands
        ]
    )


def do_cancel_all(device: Device) -> list[Command]:
    """Cancel every PENDING command of a device (deviceCommandCancelTasks)."""
    pending = list(
        Command.objects.select_related("device", "application")
        .filter(device=device, status=CommandStatus.PENDING)
        .order_by("created_at", "id")
    )
    canceled = [
        command
        for command in pending
        if transition(command, CommandStatus.CANCELED, "canceled with all pending commands")
    ]
    _audit_canceled(canceled)
    return canceled


def next_mid(device: Device) -> int:
    """1..65535, per device, never 0 (section 7: isValidofMid)."""
    counter = get_redis().incr(key("commands", "mid", device.pk))
    return (counter - 1) % 65535 + 1


# --- delivery ---------------------------------------------------------------------------------


def dispatch_after_commit(command_pk: int) -> None:
    command = Command.objects.select_related("device", "device__product", "application").filter(pk=command_pk).first()
    if command is None or command.status != CommandStatus.PENDING:
        return
    if command.expire_time == 0:
        from commands import transport

        if command.device.status_detail == StatusDetail.FIRMWARE_UPDATING:
            # F-5.1 (now or never) meets F-7.6 (no service while upgrading).
            transition(command, CommandStatus.FAILED, "immediate delivery, but the device is upgrading (F-7.6)")
            return
        if not transport.reachable(command.device):
            # F-5.1: sent now or not at all; a sleeping (PSM) device misses it.
            transition(command, CommandStatus.FAILED, "immediate delivery, but the device cannot be reached now")
            return
        send([command], reason="immediate delivery (expireTime 0)")
    elif power_mode(command.device) != PowerMode.PSM and not downlink.asleep(command.device):
        send_next_serial(command.device, reason="cached command, device in DRX/eDRX")
    # PSM, or an LwM2M queue-mode device asleep: it waits for the device's next uplink or Update (on_uplink).


def send_next_serial(device: Device, *, reason: str) -> None:
    """DRX/eDRX (F-5.2): the oldest pending command, once the previous one was delivered or timed out."""
    in_flight = Command.objects.filter(device=device, status=CommandStatus.SENT).exists()
    if in_flight:
        return
    command = (
        Command.objects.select_related("device", "device__product", "application")
        .filter(device=device, status=CommandStatus.PENDING)
        .order_by("created_at", "id")
        .first()
    )
    from commands import transport

    if command is not None and transport.reachable(device):
        send([command], reason=reason)


def on_uplinks(devices: list[Device]) -> None:
    """A batch of devices just reported: one query finds which have pending commands (most have none)."""
    shadow.deliver_waiting(devices)  # desired properties waiting for this contact become commands first
    waiting = set(
        Command.objects.filter(device__in=[device.pk for device in devices], status=CommandStatus.PENDING)
        .values_list("device_id", flat=True)
        .distinct()
    )
    for device in devices:
        if device.pk in waiting:
            on_uplink(device)


def on_uplink(device: Device) -> list[Command]:
    """The device just reported: in PSM, every cached command goes now, in order, in one burst with
    hasMore 1 on all but the last (F-5.2); in DRX/eDRX the next one if none is in flight."""
    pending = list(
        Command.objects.select_related("device", "device__product", "application")
        .filter(device=device, status=CommandStatus.PENDING)
        .order_by("created_at", "id")
    )
    if not pending:
        return []
    if power_mode(device) == PowerMode.PSM:
        send(pending, reason="the device's uplink woke it (PSM)")
        return pending
    if downlink.queue_mode(device):
        # LwM2M queue mode: everything cached goes in this wake window, as for PSM.
        send(pending, reason="the device woke (LwM2M queue mode)")
        return pending
    send_next_serial(device, reason="the device's uplink (DRX/eDRX)")
    return pending[:1]


def send(commands: list[Command], *, reason: str) -> None:
    """Encode and hand commands to the device's transport: SENT, or FAILED when they cannot be encoded.
    A device that is upgrading gets none: they wait (F-7.6), and go when the upgrade ends."""
    from commands import transport

    commands = [command for command in commands if command.device.status_detail != StatusDetail.FIRMWARE_UPDATING]
    burst = []
    for index, command in enumerate(commands):
        mid = next_mid(command.device)
        cloud_req = {
            "identifier": "0",
            "msgType": "cloudReq",
            "serviceId": command.service_id,
            "cmd": command.method,
            "paras": command.paras,
            "hasMore": 1 if index < len(commands) - 1 else 0,
            "mid": mid,
        }
        try:
            payload = transport.encode(command.device, cloud_req)
        except transport.EncodeError as error:
            logs.log(command.device, LogKind.ENCODE_ERROR, f"command {command.command_id}: {error}", detail=cloud_req)
            transition(command, CommandStatus.FAILED, f"encode error: {error}", detail={"error": str(error)})
            continue
        due = timezone.now() + dt.timedelta(seconds=settings.COMMAND_ACK_TIMEOUT_TOTAL)
        if transition(
            command,
            CommandStatus.SENT,
            reason,
            evidence={"mid": mid, "hasMore": cloud_req["hasMore"]},
            mid=mid,
            ack_due_at=due,
            issued_times=F("issued_times") + 1,
        ):
            burst.append((command, payload))
    for command, payload in burst:
        transport.deliver(command, payload)


def on_upgrade_ended(device: Device) -> None:
    """The device's firmware or software upgrade ended (the firmware app calls it after commit): the
    commands that waited (F-7.6) go now in DRX/eDRX; in PSM at the device's next uplink, as always."""
    if power_mode(device) != PowerMode.PSM:
        send_next_serial(device, reason="the device's upgrade ended (F-7.6)")


def on_downlink_outcome(outcome: Any) -> None:
    """devices.hooks' report on a queued downlink (a devices.hooks.DownlinkOutcome)."""
    evidence = {"outcome": outcome.outcome, "code": outcome.code, "detail": outcome.detail}
    result = "ack" if outcome.outcome == "acked" else outcome.outcome
    on_transport_result(outcome.request_id, result, {key: value for key, value in evidence.items() if value})


def on_transport_result(command_id: str, outcome: str, evidence: dict | None = None) -> None:
    """The transport's answer to a sent command: `ack` (DELIVERED), `reset` or `timeout` (TIMEOUT)."""
    command = Command.objects.select_related("device", "application").filter(command_id=command_id).first()
    if command is None:
        return
    if outcome == "ack":
        due = timezone.now() + dt.timedelta(seconds=settings.COMMAND_RESPONSE_TIMEOUT)
        transition(
            command,
            CommandStatus.DELIVERED,
            "the device's transport acknowledged it",
            evidence=evidence,
            response_due_at=due,
        )
    elif outcome == "undeliverable":
        transition(
            command,
            CommandStatus.FAILED,
            "the device cannot be reached: no ingress session holds it",
            evidence=evidence,
        )
    elif outcome == "error":
        # The device's answer ("the device answered 4.00 Bad Request: ...") is the command's resultDetail,
        # so the application sees why without reading the device log.
        answer = (evidence or {}).get("detail") or "the device refused the downlink"
        transition(
            command,
            CommandStatus.FAILED,
            "the device refused the downlink",
            evidence=evidence,
            detail=answer,
            result_detail=answer,
        )
    elif outcome == "reset":
        answer = (evidence or {}).get("detail") or "the device answered with a reset"
        transition(
            command,
            CommandStatus.TIMEOUT,
            "no acknowledgement (reset)",
            evidence=evidence,
            detail=answer,
            result_detail=answer,
        )
    else:
        transition(command, CommandStatus.TIMEOUT, f"no acknowledgement ({outcome})", evidence=evidence)
    if power_mode(command.device) != PowerMode.PSM:
        send_next_serial(command.device, reason="the previous command left the queue (DRX/eDRX)")


def on_device_response(device: Device, mid: Any, errcode: Any, body: Any) -> Command | None:
    """A decoded deviceRsp: the command with that mid becomes SUCCESSFUL (errcode 0) or FAILED."""
    command = (
        Command.objects.select_related("device", "application")
        .filter(device=device, mid=mid, status__in=[CommandStatus.SENT, CommandStatus.DELIVERED])
        .order_by("-sent_at")
        .first()
    )
    if command is None:
        logs.log(device, LogKind.COMMAND, f"a response with mid {mid} matches no command in flight")
        return None
    ok = errcode in (0, "0", None)
    to = CommandStatus.SUCCESSFUL if ok else CommandStatus.FAILED
    reason = f"the device answered mid {mid} with errcode {errcode}"
    transition(command, to, reason, evidence={"mid": mid, "errcode": errcode}, detail=body, result_detail=body)
    return command


def sweep_timers(now: dt.datetime | None = None) -> dict[str, int]:
    """EXPIRED for pending commands past expireTime (F-5.3); TIMEOUT for commands whose ACK or
    response never came (F-5.4). Rows with due times: restarts do not lose them."""
    now = now or timezone.now()
    counts = {"expired": 0, "ack_timeout": 0, "response_timeout": 0}
    related = ("device", "application")
    for command in Command.objects.select_related(*related).filter(status=CommandStatus.PENDING, expires_at__lte=now):
        counts["expired"] += transition(command, CommandStatus.EXPIRED, "not sent before its expireTime")
    for command in Command.objects.select_related(*related).filter(status=CommandStatus.SENT, ack_due_at__lte=now):
        counts["ack_timeout"] += transition(
            command, CommandStatus.TIMEOUT, "no acknowledgement after all retransmissions"
        )
    for command in Command.objects.select_related(*related).filter(
        status=CommandStatus.DELIVERED, response_due_at__lte=now
    ):
        counts["response_timeout"] += transition(
            command, CommandStatus.TIMEOUT, "delivered, but the device never answered"
        )
    return counts


# --- batch tasks --------------------------------------------------------------------------------

BATCH_TYPES = ("DeviceList", "DeviceType", "GroupList", "Broadcast")


def targets(application: Application, param: dict[str, Any]) -> Iterable[Device]:
    kind = param.get("type")
    devices = Device.objects.filter(application=application).select_related("product")
    if kind == "DeviceList":
        ids = param.get("deviceList")
        if not isinstance(ids, list) or not ids:
            raise _invalid("param.deviceList must be a non-empty list of deviceIds")
        return devices.filter(device_id__in=ids)
    if kind == "DeviceType":
        if not param.get("deviceType"):
            raise _invalid("param.deviceType is required for type DeviceType")
        devices = devices.filter(device_type=param["deviceType"])
        for field, column in (("manufacturerId", "manufacturer_id"), ("model", "model")):
            if param.get(field):
                devices = devices.filter(**{column: param[field]})
        return devices
    if kind == "GroupList":
        groups = param.get("groupList")
        if not isinstance(groups, list) or not groups:
            raise _invalid("param.groupList must be a non-empty list of group ids")
        return devices.filter(groups__dev_group_id__in=groups).distinct()
    if kind == "Broadcast":
        return devices
    raise _invalid(f"param.type must be one of {', '.join(BATCH_TYPES)}")


@transaction.atomic
def do_create_batch_task(application: Application, body: dict[str, Any]) -> BatchTask:
    """Create a batch task and one cached command per target device (F-5.8); errors per device are kept."""
    values = BatchTaskRequest(data=body).checked()
    name, timeout, param = values["taskName"], values["timeout"], values["param"]
    unfinished = BatchTask.objects.filter(application=application, status__in=["Pending", "Running"]).count()
    if unfinished >= settings.COMMAND_BATCH_TASK_LIMIT:
        raise NorthboundError("105001", http_status=200)
    if BatchTask.objects.filter(application=application, task_name=name).exists():
        raise NorthboundError("105002", http_status=200)
    devices = list(targets(application, param))
    now = timezone.now()
    task = BatchTask.objects.create(
        application=application, task_name=name, timeout_minutes=timeout, param=param, tags=body.get("tags") or [],
        status="Running", total=len(devices), created_at=now, deadline=now + dt.timedelta(minutes=timeout),
    )  # fmt: skip
    expire = min(timeout * 60, settings.COMMAND_DEFAULT_EXPIRE_TIME)
    for device in devices:
        detail = BatchTaskDetail(task=task, device=device, device_ref=device.device_id)
        try:
            with transaction.atomic():
                detail.command = do_create_command(
                    application, device, param.get("command"), expire_time=expire,
                    max_retransmit=param.get("maxRetransmit"), callback_url=param.get("callbackUrl"), batch_task=task,
                )  # fmt: skip
        except NorthboundError as error:
            detail.error = error.body()
        detail.save()
    audit.record(
        "batch_task.created",
        application=application,
        target=f"batch task {task.task_id}",
        detail={"taskName": name, "devices": len(devices)},
    )
    return task


def batch_counts(task: BatchTask) -> dict[str, int]:
    rows = Command.objects.filter(batch_task=task).values_list("status", flat=True)
    counts = {"success": 0, "fail": 0, "timeout": 0, "expired": 0, "pending": 0}
    for status in rows:
        if status == CommandStatus.SUCCESSFUL:
            counts["success"] += 1
        elif status in (CommandStatus.FAILED, CommandStatus.CANCELED):
            counts["fail"] += 1
        elif status == CommandStatus.TIMEOUT:
            counts["timeout"] += 1
        elif status == CommandStatus.EXPIRED:
            counts["expired"] += 1
        else:
            counts["pending"] += 1
    counts["fail"] += BatchTaskDetail.objects.filter(task=task, command__isnull=True).count()
    return counts
