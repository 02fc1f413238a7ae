"""LwM2M gateways in the ingress worker: OMA LwM2M Gateway object 25 (OMA-TS-LWM2M_Gateway-V1_1).

A device of a product marked `lwm2m_gateway` that registers with object 25 in its links acts for the
end devices behind it (docs/gateways.md, "LwM2M gateways"). After each registration, and each
registration update that carries links, the worker holding it:

1. reads /25 (TLV or SenML JSON): one instance per end device, with resource 0 Device ID (= the
   sub-device's nodeId), 1 Prefix (how its paths start on the gateway) and 3 IoT Device Objects (its
   objects, CoRE link format);
2. for nodeIds no device has yet, reads /{prefix}/3/0 (resources 0 Manufacturer and 1 Model Number),
   which name the application's product;
3. hands the list to devices.gateways.do_list_sub_devices (add, adopt, refuse, ONLINE / OFFLINE) and
   records a session per accepted sub-device under the gateway's (ingress.models.DeviceSession:
   `gateway_session`, `prefix`), so the existing observe and downlink machinery serves it: the worker
   observes /{prefix}/19/0/0 with a token of the sub-device's own, a notification on it is an uplink
   of the sub-device (its product's codec, gatewayId = the gateway), and its downlinks go to
   /{prefix}/19/1/0 at the gateway's address.

A sub-device the gateway stops listing keeps its session marked `listed = False`: a notification on its
token is refused (reset, which ends the observation) and logged on the gateway.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from aiocoap import Message, error
from aiocoap.numbers import codes
from django.db import transaction
from django.utils import timezone

from devices import gateways, logs
from devices.models import Device, LogKind
from ingress.formats import (
    MULTIPLE_RESOURCE,
    OBJECT_INSTANCE,
    OLD_TLV,
    SENML_JSON,
    TLV,
    FormatError,
    parse_link_format,
    parse_tlv,
)
from ingress.models import Channel, DeviceSession
from ingress.sessions import SessionView, new_token, with_gateway

if TYPE_CHECKING:
    from ingress.worker import IngressWorker

log = logging.getLogger("ingress.lwm2m_gateway")

GATEWAY_OBJECT = "25"
DEVICE_ID, PREFIX, OBJECTS = 0, 1, 3  # object 25's resources
MANUFACTURER, MODEL = 0, 1  # object 3's resources
# A prefix is one path segment. Not a number (it would read as an object id) and short enough for
# DeviceSession.observed_path; letters, digits, "-", "_" and "." as the spec's examples use.
PREFIX_RULE = re.compile(r"^(?![0-9]+$)[A-Za-z0-9._-]{1,32}$")
MAX_NODE_ID = gateways.MAX_NODE_ID
MAX_SUB_DEVICES = 1000  # per gateway, as a MQTT gateway's topo/add
READ_CONCURRENCY = 8  # /3/0 reads in flight at once


@dataclass(frozen=True)
class Instance:
    """One instance of object 25: an end device behind the gateway."""

    instance: int
    node_id: str
    prefix: str
    objects: list[dict[str, str]]


class Unreadable(ValueError):
    """An answer that is not a readable object 25 or /3/0."""


# --- content: object 25 and /3/0 out of TLV or SenML JSON ----------------------------------------------


def resources(content_format: int | None, payload: bytes) -> dict[tuple[int, int], bytes]:
    """(instance, resource) -> value of an object or object instance read. An instance read (TLV
    without instance wrappers) comes as instance -1. Multiple-instance resources join their values."""
    if content_format in (TLV, OLD_TLV):
        try:
            entries = parse_tlv(payload)
        except FormatError as problem:
            raise Unreadable(str(problem)) from None
        found: dict[tuple[int, int], bytes] = {}

        def put(instance: int, entries: list) -> None:
            for kind, identifier, value in entries:
                if kind == MULTIPLE_RESOURCE:
                    found[(instance, identifier)] = b"".join(inner for _, _, inner in value)
                elif kind != OBJECT_INSTANCE:
                    found[(instance, identifier)] = value

        for kind, identifier, value in entries:
            if kind == OBJECT_INSTANCE:
                put(identifier, value)
        put(-1, [entry for entry in entries if entry[0] != OBJECT_INSTANCE])
        return found
    if content_format == SENML_JSON:
        return _senml(payload)
    raise Unreadable(f"content format {content_format}: TLV (11542) or SenML JSON (110) expected")


def _senml(payload: bytes) -> dict[tuple[int, int], bytes]:
    try:
        records = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise Unreadable(f"SenML JSON payload is not JSON: {problem}") from None
    if not isinstance(records, list):
        raise Unreadable("SenML JSON payload is not an array of records")
    found: dict[tuple[int, int], bytes] = {}
    base = ""
    for record in records:
        if not isinstance(record, dict):
            raise Unreadable("SenML JSON record is not an object")
        base = str(record.get("bn", base))
        parts = [part for part in (base + str(record.get("n", ""))).split("/") if part]
        if parts and not parts[0].isdigit():
            parts = parts[1:]  # an end device's prefix: /{prefix}/3/0/0
        value = record.get("vs", record.get("v"))
        if len(parts) < 3 or value is None:
            continue
        try:
            # /object/instance/resource, or /object/instance/resource/instance of a multiple resource
            key = (int(parts[1]), int(parts[2]))
        except ValueError:
            continue
        found[key] = found.get(key, b"") + str(value).encode()
    return found


def gateway_instances(content_format: int | None, payload: bytes) -> tuple[list[Instance], list[str]]:
    """Object 25's instances, and the problems of the instances that cannot be used."""
    values = resources(content_format, payload)
    numbers = sorted({instance for instance, _ in values if instance >= 0})
    instances, problems, prefixes, node_ids = [], [], set(), set()
    for number in numbers:
        node_id = values.get((number, DEVICE_ID), b"").decode("utf-8", errors="replace").strip()
        prefix = values.get((number, PREFIX), b"").decode("utf-8", errors="replace").strip()
        where = f"/25/{number}"
        if not node_id or len(node_id) > MAX_NODE_ID:
            problems.append(f"{where}: Device ID (resource 0) must be 1 to {MAX_NODE_ID} characters")
            continue
        if not PREFIX_RULE.match(prefix):
            problems.append(
                f"{where} (nodeId {node_id}): Prefix (resource 1) {prefix!r} must be 1 to 32 letters, digits, "
                "'.', '-' or '_', and not a number"
            )
            continue
        if prefix in prefixes or node_id in node_ids:
            problems.append(f"{where} (nodeId {node_id}): its Device ID or Prefix is listed twice")
            continue
        try:
            objects = parse_link_format(values.get((number, OBJECTS), b""))
        except FormatError as problem:
            problems.append(f"{where} (nodeId {node_id}): IoT Device Objects (resource 3): {problem}")
            continue
        prefixes.add(prefix)
        node_ids.add(node_id)
        instances.append(Instance(number, node_id, prefix, objects))
    if len(instances) > MAX_SUB_DEVICES:
        problems.append(f"{len(instances)} instances: only the first {MAX_SUB_DEVICES} are used")
        instances = instances[:MAX_SUB_DEVICES]
    return instances, problems


def lists_object(objects: list[dict[str, str]], object_id: str) -> bool:
    return any(str(link.get("path", "")).strip("/").split("/")[0] == object_id for link in objects)


# --- the database side (threads) -------------------------------------------------------------------


def apply(
    gateway_pk: int,
    instances: list[Instance],
    identities: dict[str, tuple[str, str] | str],
    problems: list[str],
    *,
    fresh: bool,
) -> list[tuple[SessionView, bool]]:
    """The gateway's sub-devices are those it lists now: registry changes (devices.gateways), then one
    session per sub-device under the gateway's. Returns each sub-device's session view, and whether it
    is to be observed now (new, or `fresh`: a registration, where the gateway's observations are gone)."""
    gateway = gateways.get_gateway(gateway_pk)
    own = DeviceSession.objects.select_related("device").filter(device_id=gateway_pk, lwm2m_gateway=True).first()
    if gateway is None or own is None:
        return []
    gateways.record_gateway_seen(gateway_pk)  # it registered: seen (ONLINE again if it was not)
    for problem in problems:
        logs.log(gateway, LogKind.INFO, f"LwM2M gateway object 25: {problem}")
    listed = []
    for instance in instances:
        identity = identities.get(instance.node_id)
        if isinstance(identity, str):
            listed.append(gateways.ListedSubDevice(instance.node_id, unreadable=identity))
        elif identity is not None:
            listed.append(gateways.ListedSubDevice(instance.node_id, identity[0], identity[1]))
        else:
            listed.append(gateways.ListedSubDevice(instance.node_id))
    try:
        listing = gateways.do_list_sub_devices(gateway, listed)
    except gateways.GatewayRefused as refusal:
        logs.log(gateway, LogKind.INFO, f"LwM2M gateway object 25 refused: {refusal}")
        return []
    views = _sessions(own, instances, listing.accepted, fresh=fresh)
    logs.log(
        gateway,
        LogKind.INFO,
        f"LwM2M gateway object 25: {len(instances)} sub-devices listed, {listing.added} added, "
        f"{listing.adopted} adopted, {len(listing.refused)} refused, {listing.unlisted} no longer listed (OFFLINE)",
    )
    return views


def _sessions(
    own: DeviceSession, instances: list[Instance], accepted: dict[str, Device], *, fresh: bool
) -> list[tuple[SessionView, bool]]:
    now = timezone.now()
    by_node = {instance.node_id: instance for instance in instances if instance.node_id in accepted}
    with transaction.atomic():
        current = {
            session.device_id: session
            for session in DeviceSession.objects.select_for_update().filter(
                device_id__in=[device.pk for device in accepted.values()]
            )
        }
        views = []
        for node_id, instance in by_node.items():
            device = accepted[node_id]
            old = current.get(device.pk)
            same = old is not None and old.gateway_session_id == own.pk and old.prefix == instance.prefix
            observe = fresh or not (same and old.listed and old.observed)
            values = {
                "channel": Channel.LWM2M,
                "secure": own.secure,
                "host": own.host,
                "port": own.port,
                "lifetime": own.lifetime,
                "binding": own.binding,
                "lwm2m_version": own.lwm2m_version,
                "object_links": instance.objects,
                "observed_path": f"/{instance.prefix}/19/0/0",
                "worker": own.worker,
                "heard_at": now,
                "updated_at": now,
                "expires_at": own.expires_at,
                "lwm2m_gateway": False,
                "gateway_session": own,
                "prefix": instance.prefix,
                "listed": True,
            }
            reports = lists_object(instance.objects, "19")  # no /19: nothing to observe, no token
            if observe:
                values.update(
                    observe_token=new_token() if reports else None,
                    previous_token=old.observe_token if same else None,
                    observed=False,
                )
            if old is None or not same:
                values.update(registration_id=secrets.token_hex(6), registered_at=now)
            session, _ = DeviceSession.objects.update_or_create(device=device, defaults=values)
            session.gateway_session = own  # with its device: SessionView.of reads the gateway's nodeId
            views.append((SessionView.of(session, node_id), observe and reports))
        kept = [device.pk for node_id, device in accepted.items() if node_id in by_node]
        unlisted = DeviceSession.objects.filter(gateway_session=own, listed=True).exclude(device_id__in=kept)
        unlisted.update(listed=False, updated_at=now)
        for session in with_gateway().filter(gateway_session=own, listed=False):
            views.append((SessionView.of(session, session.device.node_id), False))
    return views


def sub_views(gateway_pk: int) -> list[SessionView]:
    """The sessions of a gateway's sub-devices (listed or no longer), for a worker that hears its update."""
    sessions = with_gateway().filter(gateway_session__device_id=gateway_pk)
    return [SessionView.of(session, session.device.node_id) for session in sessions]


async def refresh(worker: IngressWorker, view: SessionView) -> None:
    """A registration update without links: the sub-devices' sessions moved with the gateway's; observe
    again those that never answered (asleep then)."""
    for sub_view in await worker.run_misc(sub_views, view.device_pk):
        token = sub_view.observe_token
        worker._remember(sub_view, token, established=sub_view.observed)
        worker.owned.add(sub_view.device_pk)
        if sub_view.listed and not sub_view.observed and token is not None and token not in worker.pending_observes:
            worker._spawn(worker.observe(sub_view, token))


def stop_unlisted(worker: IngressWorker, gateway_pk: int, prefixes: set[str]) -> None:
    """Mark in the worker's memory the sub-devices of a gateway whose prefix it no longer lists."""
    for state in worker.tokens.values():
        sub_view = state.view
        if sub_view.gateway_pk == gateway_pk and sub_view.listed and sub_view.prefix not in prefixes:
            state.view = replace(sub_view, listed=False)
            worker.views[sub_view.device_pk] = state.view


def refuse_unlisted(view: SessionView) -> None:
    """A notification on the token of a sub-device the gateway no longer lists: logged on the gateway."""
    if view.gateway_pk is not None:
        logs.log_device(
            view.gateway_pk,
            LogKind.INFO,
            f"LwM2M gateway: notification for prefix {view.prefix!r} refused: it is not one of its sub-devices "
            f"now (nodeId {view.node_id} is no longer listed in its object 25)",
        )


# --- the exchange with the gateway ---------------------------------------------------------------------


async def sync(worker: IngressWorker, view: SessionView, *, fresh: bool) -> int:
    """Read the gateway's object 25, record its sub-devices and observe them. Returns how many are observed."""
    try:
        answer = await _get(worker, view, (GATEWAY_OBJECT,))
        if not answer.code.is_successful():
            raise Unreadable(f"the gateway answered {answer.code.dotted}")
        instances, problems = gateway_instances(answer.opt.content_format, answer.payload)
    except (Unreadable, error.Error, TimeoutError) as problem:
        await worker.run_misc(
            logs.log_device, view.device_pk, LogKind.INFO, f"LwM2M gateway: reading /25 failed: {problem}"
        )
        return 0
    # The gateway's own answer is what counts: a prefix it no longer lists is refused from now on, not from
    # when the registry has recorded it (a notification in between would otherwise be stored).
    stop_unlisted(worker, view.device_pk, {instance.prefix for instance in instances})
    unknown = await worker.run_misc(gateways.unknown_node_ids, view.device_pk, [one.node_id for one in instances])
    identities: dict[str, tuple[str, str] | str] = {}
    limit = asyncio.Semaphore(READ_CONCURRENCY)

    async def identify(instance: Instance) -> None:
        async with limit:
            identities[instance.node_id] = await _identity(worker, view, instance.prefix)

    await asyncio.gather(*(identify(instance) for instance in instances if instance.node_id in unknown))
    views = await worker.run_misc(apply, view.device_pk, instances, identities, problems, fresh=fresh)
    observed = 0
    for sub_view, observe in views:
        worker._remember(sub_view, sub_view.observe_token, established=sub_view.observed and not observe)
        worker.owned.add(sub_view.device_pk)
        if observe and sub_view.observe_token is not None:
            worker._spawn(worker.observe(sub_view, sub_view.observe_token))
            observed += 1
    worker.stats["gateway_syncs"] += 1
    return observed


async def _identity(worker: IngressWorker, view: SessionView, prefix: str) -> tuple[str, str] | str:
    """(manufacturer, model) of the end device at `prefix`, from its /3/0; or why it could not be read."""
    try:
        answer = await _get(worker, view, (prefix, "3", "0"))
        if not answer.code.is_successful():
            return f"/{prefix}/3/0 answered {answer.code.dotted}"
        values = resources(answer.opt.content_format, answer.payload)
    except (Unreadable, error.Error, TimeoutError) as problem:
        return f"/{prefix}/3/0: {problem or type(problem).__name__}"

    def value(resource: int) -> str:
        raw = values.get((-1, resource)) or values.get((0, resource)) or b""
        return raw.decode("utf-8", errors="replace").strip()

    manufacturer, model = value(MANUFACTURER), value(MODEL)
    if not manufacturer or not model:
        return f"/{prefix}/3/0 has no Manufacturer (0) or Model Number (1)"
    return manufacturer, model


async def _get(worker: IngressWorker, view: SessionView, path: tuple[str, ...]) -> Message:
    from ingress.worker import PlatformTuning

    request = Message(code=codes.GET, transport_tuning=PlatformTuning())
    request.opt.uri_path = path
    request.opt.accept = TLV
    request.remote = worker.remote(view)
    if request.remote is None:
        raise Unreadable("no DTLS session with the gateway")
    timeout = request.transport_tuning.MAX_TRANSMIT_WAIT + 1
    pending = worker.context.request(request).response
    pending.add_done_callback(_retrieve)
    return await asyncio.wait_for(asyncio.shield(pending), timeout=timeout)


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
