"""The uplink pipeline: one plain, synchronous function from a device's message to stored data.

The network loops (ingress.worker for CoAP, ingress.mqtt.server for MQTT) only parse and call
`handle_uplinks` from a worker thread (the ORM cannot run in the event loop); tests call it
directly. For each uplink, in order:

1. deduplicate by (device, CoAP message id) in Redis: a retransmission of a stored uplink is only
   acknowledged again, one still in progress is left for the first copy to acknowledge;
2. identify the device and check how it came: a device registered as secure is refused on plain CoAP;
3. flow control (F-8.2): over the device's or the application's limit the message is dropped, logged
   on the device naming the limit, and the CoAP answer carries the time left as Max-Age;
4. bind the device if it never was (F-4.1);
5. take the resource's bytes out of the LwM2M content format; split off Huawei PCP messages (0xFFFE,
   the software (MCU) upgrade protocol) to devices.hooks.pcp_received;
6. decode with the product's codec, the batch's uplinks of one product in one call that also encodes
   their ACKs (`ingress.codec.decode_batch`; a JSON-mode uplink, MQTT's data/json, is its own
   deviceReq or deviceRsp: `read_json`); an application over its share of the codec's time
   (ingress.budget), or whose script ran out of its time limit lately (the sandbox's quarantine), has
   its uplinks stored raw, acknowledged and logged as not yet decoded; validate
   the deviceReq against the profile, store it (devices.actions.do_store_report: shadow, last-seen,
   history in storage mode, deviceDataChanged and deviceDatasChanged into the push outbox), log raw
   hex and the decoded result (or the reason it failed) on the device; a deviceRsp goes to
   devices.hooks (the commands layer);
7. build the codec's cloudRsp ACK, when it has one, for the loop to send back (F-3.7).

The outcome tells the loop whether to acknowledge the CoAP message now: only once the uplink is stored
(or was refused for a reason a retransmission would not change), never before.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from applications.guard import hostile
from commands.actions import delivery_settings
from devices import actions, hooks, logs
from devices.models import Device, LogKind
from devices.reports import ReportInvalid, service_reports
from ingress import codec, flow, lwm2m_values
from ingress.budget import budget
from ingress.formats import NAMES, FormatError, resource_bytes
from ingress.undecoded import STILL_SLOW, mark_over_budget
from products.codecs.ports import port_for
from products.models import Product
from products.undecoded import note_undecoded

log = logging.getLogger(__name__)

PCP_PREFIX = b"\xff\xfe"


@dataclass(frozen=True)
class Uplink:
    """One message from a device: the bytes as they came and what the transport knows."""

    device_pk: int
    payload: bytes
    content_format: int | None = None
    message_id: int | None = None  # the CoAP message id, for deduplication
    # A first copy's id (an MQTT QoS 1 packet id): never deduplicated (a device may reuse the id once
    # acknowledged), but marked done once stored, so that a DUP resend of it is recognised.
    settle_id: int | None = None
    secure: bool = False  # arrived over DTLS (or TLS)
    transport: str = "CoAP"
    json: bool = False  # the payload is the deviceReq/deviceRsp JSON itself (MQTT data/json): no codec
    gateway_pk: int | None = None  # came through this LwM2M gateway (ingress.lwm2m_gateway): it is seen too
    # What it came on, for the codec's fPort (products.codecs.ports): the observed resource path
    # (/19/0/0, /t/d, /{prefix}/19/0/0) or the MQTT topic suffix (data/binary); "" when unknown.
    channel: str = ""
    received_at: dt.datetime = field(default_factory=timezone.now)
    # Values of a standard object on a mapped path (or "/" for a composite notification or a Send): read
    # by the object's definition into service data (ingress.lwm2m_values), no codec.
    lwm2m_path: str = ""

    @property
    def direct(self) -> bool:
        """Its deviceReq needs no codec (and gets no codec ACK)."""
        return self.json or bool(self.lwm2m_path)


# Results: what happened, for the loop, the simulator page and the tests.
STORED = "stored"
RESPONSE = "response"  # a deviceRsp (command response), handed to the commands layer
PCP = "pcp"
DUPLICATE = "duplicate"  # stored before: acknowledge again, store nothing
IN_PROGRESS = "in_progress"  # the first copy is still being processed: it will be acknowledged
LIMITED = "limited"
REFUSED = "refused"
DECODE_ERROR = "decode_error"
NOT_DECODED = "not_decoded"  # stored raw and acknowledged: the application is over its codec budget
INVALID = "invalid"
UNKNOWN_DEVICE = "unknown_device"
FAILED = "failed"  # our fault (database down...): not acknowledged, the device retransmits


@dataclass
class Outcome:
    result: str
    acknowledge: bool = True
    reply: bytes | None = None  # the codec's cloudRsp ACK, sent to the device's downlink resource
    reply_method: str | None = None  # LwM2M: "write" or "execute" /19/1/0, the device's delivery policy
    retry_after: int | None = None  # Max-Age of a refusal
    detail: str = ""
    decoded: dict | None = None


def handle_uplink(uplink: Uplink) -> Outcome:
    return handle_uplinks([uplink])[0]


def handle_uplinks(uplinks: Sequence[Uplink]) -> list[Outcome]:
    """Run the pipeline for a batch of uplinks (from any devices); one outcome per uplink, in order."""
    try:
        return _handle(uplinks)
    finally:
        close_old_connections()


def _handle(uplinks: Sequence[Uplink]) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(uplinks)
    claims = flow.claim([(uplink.device_pk, uplink.message_id) for uplink in uplinks])
    fresh = []
    for index, claimed in enumerate(claims):
        if claimed == flow.DONE:
            outcomes[index] = Outcome(DUPLICATE, detail="retransmission of a stored uplink")
        elif claimed == flow.PENDING:
            outcomes[index] = Outcome(IN_PROGRESS, acknowledge=False, detail="first copy still in progress")
        else:
            fresh.append(index)

    pks = {uplinks[index].device_pk for index in fresh}
    # The gateway too: a sub-device's notifications carry its deviceId (devices.gateways).
    related = Device.objects.select_related("application", "gateway")
    devices = {device.pk: device for device in related.filter(pk__in=pks)}
    # Each product once per batch (not once per device row), without its zip archive.
    product_pks = {device.product_id for device in devices.values() if device.product_id}
    # With its codec row (the uplink ports), in the same query.
    chosen = Product.objects.filter(pk__in=product_pks).select_related("codec").defer("archive", "codec__draft")
    products = {product.pk: product for product in chosen}
    for device in devices.values():
        if device.product_id:
            device.product = products[device.product_id]
    counted = [index for index in fresh if uplinks[index].device_pk in devices]
    limits = flow.count([(uplinks[i].device_pk, devices[uplinks[i].device_pk].application) for i in counted])
    limited = dict(zip(counted, limits, strict=True))

    decoded = _decode_batches(uplinks, fresh, devices, limited)
    plans: dict[int, Plan] = {}
    for index in fresh:
        uplink = uplinks[index]
        device = devices.get(uplink.device_pk)
        if device is None:
            outcomes[index] = Outcome(UNKNOWN_DEVICE, detail="the device was deleted")
            continue
        try:
            plans[index] = _prepare(device, uplink, limited.get(index), decoded.get(index))
        except Exception:
            log.exception("uplink of device %s failed", uplink.device_pk)
            outcomes[index] = Outcome(FAILED, acknowledge=False, detail="internal error: the device will retransmit")
    marked: set[int] = set()  # acknowledged uplinks the commit marked done
    try:
        # Marked done right after the commit, before its hooks run: a process killed in between (a node's
        # death) leaves a retransmission to be stored twice only in the window of one Redis write.
        acknowledged = [index for index, plan in plans.items() if plan.outcome.acknowledge]
        marks = [_done_mark(uplinks[index]) for index in acknowledged]
        _commit(list(plans.values()), [mark for mark in marks if mark is not None])
        marked = set(acknowledged)
        for index, plan in plans.items():
            outcomes[index] = plan.outcome
    except Exception:
        # One uplink must not fail the others: process this batch one by one.
        log.exception("a batch of %d uplinks failed; processing them one by one", len(plans))
        for index in plans:
            uplink = uplinks[index]
            try:
                outcomes[index] = _one(devices[uplink.device_pk], uplink, limited.get(index))
            except Exception:
                log.exception("uplink of device %s failed", uplink.device_pk)
                outcomes[index] = Outcome(
                    FAILED, acknowledge=False, detail="internal error: the device will retransmit"
                )

    _gateways_seen(uplinks, outcomes, devices)
    replied = [index for index in plans if outcomes[index] is not None]
    _reply_methods([outcomes[index] for index in replied], [plans[index].device for index in replied])

    done, released = [], []
    for index in fresh:
        uplink, outcome = uplinks[index], outcomes[index]
        if outcome is None:
            continue
        if outcome.acknowledge:
            mark = _done_mark(uplink)
            if mark is not None and index not in marked:  # the one-by-one retry's, not the commit's again
                done.append(mark)
        elif uplink.message_id is not None:
            released.append((uplink.device_pk, uplink.message_id))
    flow.settle(done, released)
    return [outcome for outcome in outcomes if outcome is not None]


def _codec_payload(device: Device, uplink: Uplink, limited: flow.Limited | None) -> bytes | None:
    """The bytes the codec will get for this uplink, or None when it stops before the codec (step 6)."""
    if (device.is_secure and not uplink.secure) or limited is not None or uplink.direct:
        return None
    try:
        payload = resource_bytes(uplink.content_format, uplink.payload)
    except FormatError:
        return None
    return None if payload.startswith(PCP_PREFIX) else payload


def _decode_batches(
    uplinks: Sequence[Uplink], fresh: list[int], devices: dict[int, Device], limited: dict[int, flow.Limited]
) -> dict[int, codec.Decoded]:
    """Decode the batch's codec uplinks and encode their ACKs, one codec call per product (a product is
    one application's, so no call mixes tenants); the order of each device's uplinks is kept."""
    groups: dict[int | None, list[tuple[int, bytes]]] = {}
    for index in fresh:
        device = devices.get(uplinks[index].device_pk)
        if device is None:
            continue
        payload = _codec_payload(device, uplinks[index], limited.get(index))
        if payload is not None:
            groups.setdefault(device.product_id, []).append((index, payload))
    results: dict[int, codec.Decoded] = {}
    undecoded: dict[int, int] = {}
    over: list[list[tuple[int, bytes]]] = []
    for members in groups.values():
        device = devices[uplinks[members[0][0]].device_pk]
        # Over its budget, or a script that ran out of its time limit lately: kept for the later
        # decoding (ingress.undecoded), so that no other application's uplinks of this batch wait for it.
        reason = OVER_BUDGET if not budget.allows(device.application_id) else None
        if reason is None and codec.quarantined(device.product):
            reason = QUARANTINED
        if reason is not None:
            if reason is OVER_BUDGET:
                over.append(members)
            for index, _payload in members:
                results[index] = (NotDecoded(reason), None)
            undecoded[device.product_id] = undecoded.get(device.product_id, 0) + len(members)
            continue
        started, javascript = time.perf_counter(), codec.javascript_seconds()
        try:
            ports = _ports(device.product, [uplinks[index].channel for index, _payload in members])
            done = codec.decode_batch(device.product, [payload for _index, payload in members], ports=ports)
        except Exception:
            # Left out: _prepare decodes these one by one, so one failure stays with its uplink.
            log.exception("decoding a batch of %d uplinks failed", len(members))
            continue
        finally:
            # JavaScript: V8's own time (not the wait for another thread's crossing), time limits reached
            # counted CODEC_APP_TIMEOUT_PENALTY times; other codecs: the wall time.
            seconds, timed_out = (now - then for now, then in zip(codec.javascript_seconds(), javascript, strict=True))
            spent = seconds + timed_out * (settings.CODEC_APP_TIMEOUT_PENALTY - 1)
            budget.charge(device.application_id, spent if seconds > 0 else time.perf_counter() - started)
        for (index, _payload), result in zip(members, done, strict=True):
            if isinstance(result[0], codec.CodecError) and result[0].code in STILL_SLOW:
                # Ran out of its time limit: kept like the uplinks after it (the script is in quarantine).
                result = (NotDecoded(f"{TIMED_OUT}{result[0]}"), None)
                undecoded[device.product_id] = undecoded.get(device.product_id, 0) + 1
            results[index] = result
    if undecoded:
        try:
            note_undecoded(undecoded)  # the codec page's banner
            mark_over_budget(devices[uplinks[members[0][0]].device_pk].application_id for members in over)
        except Exception:  # the uplinks are kept and logged: a missed count is not worth failing them
            log.exception("counting undecoded uplinks failed")
    return results


def _ports(product: Product | None, channels: list[str]) -> list[int | None] | None:
    """Each uplink's fPort by the channel it came on (the codec's uplink_ports); None when the codec
    maps none, so the manifest's fPort applies."""
    mapping = getattr(getattr(product, "codec", None), "uplink_ports", None) if product is not None else None
    if not mapping:
        return None
    return [port_for(mapping, channel) for channel in channels]


OVER_BUDGET = (
    "not decoded yet: the application's codec used its share of the ingress's time (CODEC_APP_CPU_SHARE); "
    "the raw uplink is kept and decoded once the application is within its share again"
)
TIMED_OUT = "not decoded yet, kept and decoded later, outside the ingress: "  # + the codec's error
QUARANTINED = (
    "not decoded yet: the application's codec ran out of its time or memory limit in the last minutes "
    "(CODEC_JS_TIMEOUT_MS, CODEC_JS_MAX_MEMORY); the raw uplink is kept and decoded later, outside the ingress"
)


class NotDecoded(codec.CodecError):
    """The uplink was stored raw and acknowledged without decoding (its application is over budget)."""


def _gateways_seen(uplinks: Sequence[Uplink], outcomes: list[Outcome | None], devices: dict[int, Device]) -> None:
    """An LwM2M gateway that reports for its sub-devices is alive: seen once per batch (a Redis write
    while it is ONLINE), so the status sweep does not take it, and its sub-devices, OFFLINE."""
    seen: dict[int, Device] = {}
    for uplink, outcome in zip(uplinks, outcomes, strict=True):
        device = devices.get(uplink.device_pk)
        if uplink.gateway_pk is None or device is None or outcome is None or not outcome.acknowledge:
            continue
        if device.gateway is not None and device.gateway_id == uplink.gateway_pk:
            device.gateway.application = device.application
            seen[device.gateway_id] = device.gateway
    now = timezone.now()
    for gateway in seen.values():
        try:
            actions.record_seen(gateway, now)
        except Exception:  # the uplinks are stored: a missed last-seen is not worth failing them
            log.exception("recording gateway %s seen failed", gateway.pk)


@dataclass
class Plan:
    """What one uplink will change, worked out before the batch's transaction (decoding, checks)."""

    device: Device
    outcome: Outcome
    logs: list[tuple[Device, str, str, bytes | None, object]] = field(default_factory=list)
    reports: list | None = None
    after_commit: list = field(default_factory=list)


def _prepare(device: Device, uplink: Uplink, limited: flow.Limited | None, done: codec.Decoded | None = None) -> Plan:
    """Steps 2 to 7 of the pipeline without writing anything: what to store, log and answer.

    `done`: the uplink's decode and ACK from the batch's codec call (_decode_batches), when it made one.
    """
    raw = uplink.payload
    if device.is_secure and not uplink.secure:
        reason = "refused: the device is registered as secure and must use CoAPS (DTLS)"
        return Plan(device, Outcome(REFUSED, detail=reason), [(device, LogKind.INFO, reason, raw, None)])
    if limited is not None:
        reason = f"dropped by flow control: over the limit of {limited.limit}"
        entry = (device, LogKind.FLOW_CONTROL, reason, raw, {"retryAfter": limited.retry_after})
        return Plan(device, Outcome(LIMITED, retry_after=limited.retry_after, detail=reason), [entry])
    if uplink.direct:
        payload = raw
        try:
            decoded = _direct(device, uplink)
        except ValueError as error:
            reason = f"{_direct_name(uplink)} could not be read: {error}"
            entry = (device, LogKind.DECODE_ERROR, reason, raw, None)
            return Plan(device, Outcome(DECODE_ERROR, detail=reason), [entry])
    else:
        try:
            payload = resource_bytes(uplink.content_format, raw)
        except FormatError as error:
            name = NAMES.get(uplink.content_format, str(uplink.content_format))
            reason = f"{name} payload could not be read: {error}"
            entry = (device, LogKind.DECODE_ERROR, reason, raw, None)
            return Plan(device, Outcome(DECODE_ERROR, detail=reason), [entry])
        if payload.startswith(PCP_PREFIX):
            entry = (device, LogKind.UPLINK, "PCP message (software upgrade protocol)", payload, None)
            after = [(hooks.pcp_received, payload)]
            return Plan(device, Outcome(PCP, detail="PCP message"), [entry], after_commit=after)
        if done is None:
            done = codec.decode_batch(device.product, [payload], ports=_ports(device.product, [uplink.channel]))[0]
        if isinstance(done[0], NotDecoded):
            # ingress.undecoded decodes it later from this entry (the channel gives its fPort).
            detail = {"notDecoded": "budget", "channel": uplink.channel}
            entry = (device, LogKind.DECODE_ERROR, str(done[0]), payload, detail)
            return Plan(device, Outcome(NOT_DECODED, detail=str(done[0])), [entry])
        if isinstance(done[0], codec.CodecError):
            reason = f"decode failed: {done[0]}"
            entry = (device, LogKind.DECODE_ERROR, reason, payload, None)
            return Plan(device, Outcome(DECODE_ERROR, detail=reason), [entry])
        decoded = done[0]
    logs_: list = []
    if decoded.get("msgType") == "deviceRsp":
        logs_.append((device, LogKind.DECODED, f"command response mid {decoded.get('mid')}", payload, decoded))
        reply = None if uplink.direct else _ack_planned(device, payload, logs_, done)
        outcome = Outcome(RESPONSE, decoded=decoded, reply=reply)
        return Plan(device, outcome, logs_, after_commit=[(hooks.response_received, decoded)])
    try:
        reports = service_reports(device.product, decoded, uplink.received_at)
    except ReportInvalid as error:
        reason = f"does not match the profile: {error}"
        entry = (device, LogKind.DECODE_ERROR, reason, payload, decoded)
        return Plan(device, Outcome(INVALID, detail=reason, decoded=decoded), [entry])
    services = ", ".join(report.service_id for report in reports)
    logs_.append((device, LogKind.DECODED, f"{uplink.transport} uplink: {services}", payload, decoded))
    reply = None if uplink.direct else _ack_planned(device, payload, logs_, done)
    outcome = Outcome(STORED, decoded=decoded, reply=reply, detail=services)
    return Plan(device, outcome, logs_, reports=reports)


def _reply_methods(outcomes: list[Outcome], devices: list[Device]) -> None:
    """How each cloudRsp reaches /19/1/0 (write or execute, per product or device): one query a batch."""
    replying = {device.pk: device for outcome, device in zip(outcomes, devices, strict=True) if outcome.reply}
    if not replying:
        return
    methods = delivery_settings(replying.values())
    for outcome, device in zip(outcomes, devices, strict=True):
        if outcome.reply:
            outcome.reply_method = methods[device.pk][1]


def _ack_planned(device: Device, payload: bytes, entries: list, done: codec.Decoded | None) -> bytes | None:
    """The ACK the batch's codec call encoded with the decode; an encoding failure is logged, not fatal."""
    ack = done[1] if done is not None else None
    if isinstance(ack, codec.CodecError):
        entries.append((device, LogKind.ENCODE_ERROR, f"ACK (cloudRsp) could not be encoded: {ack}", payload, None))
        return None
    return ack


def _done_mark(uplink: Uplink) -> tuple[int, int] | None:
    """(device, id) under which a stored uplink is marked done for deduplication, if it has an id."""
    message_id = uplink.message_id if uplink.message_id is not None else uplink.settle_id
    return None if message_id is None else (uplink.device_pk, message_id)


def _commit(plans: list[Plan], done: list[tuple[int, int]] = ()) -> None:
    """Write a batch's plans in one transaction: binding, reports, logs; `done` marked first after the
    commit, then the hooks."""
    if not plans:
        return
    with transaction.atomic():
        if done:
            transaction.on_commit(lambda: flow.settle(done))  # the first callback: before any hook
        bound: dict[int, Device] = {}
        for plan in plans:
            if not plan.device.activated and plan.outcome.result not in (REFUSED, LIMITED):
                if plan.device.pk not in bound:
                    bound[plan.device.pk] = actions.do_bind_device(plan.device)
                plan.device = bound[plan.device.pk]
        actions.do_store_reports([(plan.device, plan.reports) for plan in plans if plan.reports])
        logs.log_many(
            (bound.get(device.pk, device), kind, summary, raw, detail)
            for plan in plans
            for device, kind, summary, raw, detail in plan.logs
        )
        for plan in plans:
            for hook, argument in plan.after_commit:
                transaction.on_commit(lambda hook=hook, device=plan.device, argument=argument: hook(device, argument))
        stored = [(plan.device, plan.reports) for plan in plans if plan.reports]
        transaction.on_commit(lambda: hooks.uplinks_stored(stored))


def _one(device: Device, uplink: Uplink, limited: flow.Limited | None) -> Outcome:
    raw = uplink.payload
    if device.is_secure and not uplink.secure:
        reason = "refused: the device is registered as secure and must use CoAPS (DTLS)"
        logs.log(device, LogKind.INFO, reason, raw=raw)
        return Outcome(REFUSED, detail=reason)
    if limited is not None:
        reason = f"dropped by flow control: over the limit of {limited.limit}"
        logs.log(device, LogKind.FLOW_CONTROL, reason, raw=raw, detail={"retryAfter": limited.retry_after})
        return Outcome(LIMITED, retry_after=limited.retry_after, detail=reason)

    with transaction.atomic():
        if not device.activated:
            device = actions.do_bind_device(device)
        if uplink.direct:
            payload = raw
            try:
                decoded = _direct(device, uplink)
            except ValueError as error:
                reason = f"{_direct_name(uplink)} could not be read: {error}"
                logs.log(device, LogKind.DECODE_ERROR, reason, raw=raw)
                return Outcome(DECODE_ERROR, detail=reason)
        else:
            try:
                payload = resource_bytes(uplink.content_format, raw)
            except FormatError as error:
                name = NAMES.get(uplink.content_format, str(uplink.content_format))
                reason = f"{name} payload could not be read: {error}"
                logs.log(device, LogKind.DECODE_ERROR, reason, raw=raw)
                return Outcome(DECODE_ERROR, detail=reason)
            if payload.startswith(PCP_PREFIX):
                logs.log(device, LogKind.UPLINK, "PCP message (software upgrade protocol)", raw=payload)
                transaction.on_commit(lambda: hooks.pcp_received(device, payload))
                return Outcome(PCP, detail="PCP message")
            try:
                decoded = codec.decode_uplink(device.product, payload)
            except codec.CodecError as error:
                reason = f"decode failed: {error}"
                logs.log(device, LogKind.DECODE_ERROR, reason, raw=payload)
                return Outcome(DECODE_ERROR, detail=reason)
        if decoded.get("msgType") == "deviceRsp":
            logs.log(device, LogKind.DECODED, f"command response mid {decoded.get('mid')}", raw=payload, detail=decoded)
            transaction.on_commit(lambda: hooks.response_received(device, decoded))
            return Outcome(RESPONSE, decoded=decoded, reply=None if uplink.direct else _ack(device, payload))
        try:
            reports = service_reports(device.product, decoded, uplink.received_at)
        except ReportInvalid as error:
            reason = f"does not match the profile: {error}"
            logs.log(device, LogKind.DECODE_ERROR, reason, raw=payload, detail=decoded)
            return Outcome(INVALID, detail=reason, decoded=decoded)
        actions.do_store_report(device, reports)
        services = ", ".join(report.service_id for report in reports)
        logs.log(device, LogKind.DECODED, f"{uplink.transport} uplink: {services}", raw=payload, detail=decoded)
        transaction.on_commit(lambda: hooks.uplink_stored(device, reports))
    return Outcome(STORED, decoded=decoded, reply=None if uplink.direct else _ack(device, payload), detail=services)


def _direct(device: Device, uplink: Uplink) -> dict:
    """The deviceReq of an uplink that needs no codec: a JSON-mode one as it came, or the values of a
    standard LwM2M object on the product's mapped paths (ingress.lwm2m_values)."""
    if uplink.lwm2m_path:
        return lwm2m_values.decode(device, uplink.content_format, uplink.payload, uplink.lwm2m_path)
    return read_json(uplink.payload)


def _direct_name(uplink: Uplink) -> str:
    if uplink.lwm2m_path:
        return f"LwM2M {NAMES.get(uplink.content_format, str(uplink.content_format))} on {uplink.lwm2m_path}"
    return "JSON payload"


def read_json(raw: bytes) -> dict:
    """A JSON-mode uplink (MQTT data/json, a product without codec): a deviceReq or a deviceRsp as it came.

    The deviceReq is then checked against the profile like a decoded one; a deviceRsp needs its mid
    (1..65535) and errcode, which the commands layer correlates."""
    try:
        message = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    if found := hostile(message):
        raise ValueError(f"cannot be stored: {found}")
    kind = message.get("msgType")
    if kind == "deviceRsp":
        mid, errcode = message.get("mid"), message.get("errcode", 0)
        if isinstance(mid, bool) or not isinstance(mid, int) or not 1 <= mid <= 65535:
            raise ValueError(f"deviceRsp: mid {mid!r} is not a whole number in 1..65535")
        if isinstance(errcode, bool) or not isinstance(errcode, int):
            raise ValueError(f"deviceRsp: errcode {errcode!r} is not a whole number")
        return {"msgType": "deviceRsp", "mid": mid, "errcode": errcode, "hasMore": 0, "body": message.get("body") or {}}
    if kind != "deviceReq":
        raise ValueError(f"msgType {kind!r}: deviceReq or deviceRsp expected")
    return message


def _ack(device: Device, payload: bytes) -> bytes | None:
    """The codec's cloudRsp for this uplink (F-3.7), or None; an encoding failure is logged, not fatal."""
    try:
        return codec.encode_ack(device.product, payload)
    except codec.CodecError as error:
        logs.log(device, LogKind.ENCODE_ERROR, f"ACK (cloudRsp) could not be encoded: {error}", raw=payload)
        return None
