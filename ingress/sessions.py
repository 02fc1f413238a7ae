"""Registration of devices with the ingress (LwM2M register/update/de-register, Huawei t/r): plain
synchronous functions the network loop calls from a thread, and tests call directly.

A registration identifies the device by its endpoint name (= nodeId, the IMEI), refuses unknown
endpoints and secure devices on plain CoAP, binds the device on its first contact (F-4.1), and
records the session (address, lifetime, binding, observe token, owning worker) in `DeviceSession`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from applications.redis import get_redis
from devices import actions, downlink, hooks, logs
from devices.downlink import owner_key
from devices.models import Device, LogKind
from ingress import endpoints, flow, formats, object19
from ingress.models import Channel, DeviceSession, LearnedDownlink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MappedObservation:
    """A standard-object observation of a mapped product (ingress.lwm2m_observe) the device accepted: its token,
    the path its notifications carry (`/` for a composite observe) and the mapped paths it covers."""

    token: bytes
    path: str
    covers: tuple[str, ...]


COMPOSITE = "/"  # a composite observe's path: its notifications name their paths


def observations_of(stored: Any) -> tuple[MappedObservation, ...]:
    """DeviceSession.observations ({token hex: path, or the list of a composite's paths}) as the loop keeps them."""
    if not isinstance(stored, dict):
        return ()
    found = []
    for token, value in stored.items():
        if isinstance(value, str):
            found.append(MappedObservation(bytes.fromhex(token), value, (value,)))
        else:
            found.append(MappedObservation(bytes.fromhex(token), COMPOSITE, tuple(value)))
    return tuple(found)


def object_ids(links: list[dict[str, Any]] | None) -> frozenset[int]:
    """The objects a registration's links list (`</3303/0>` -> 3303), unprefixed; not the root `</>`."""
    found = set()
    for link in links or []:
        first = str(link.get("path", "")).strip("/").split("/")[0]
        if first.isdigit():
            found.add(int(first))
    return frozenset(found)


class Refused(Exception):
    """The registration is refused: `code` is the CoAP answer ("4.03"...), the message says why."""

    def __init__(self, code: str, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class SessionView:
    """What the network loop keeps of a session in memory (no ORM objects cross into the loop)."""

    device_pk: int
    node_id: str
    channel: str
    registration_id: str
    host: str
    port: int
    secure: bool
    binding: str
    observed_path: str
    observe_token: bytes | None
    previous_token: bytes | None
    observed: bool
    lifetime: int
    lwm2m_gateway: bool = False  # an LwM2M gateway: its object 25 lists sub-devices (ingress.lwm2m_gateway)
    gateway_pk: int | None = None  # a gateway's sub-device: its gateway, whose address it shares
    prefix: str = ""  # ... and the prefix its paths carry on the gateway: /{prefix}/19/0/0
    listed: bool = True  # ... False once the gateway no longer lists it: its notifications are refused
    gateway_node_id: str = ""  # ... and the gateway's nodeId: the DTLS identity of the session it shares
    links_changed: bool = False  # an Update whose object 19 links differ from the session's
    identity: str = ""  # the DTLS (PSK) identity of a CoAPS session: the nodeId or the endpoint name
    downlink_forms: tuple[str, ...] = ("opaque",)  # object 19 downlink forms to try, in order (ingress.object19)
    downlink_instance: int = 1  # object 19's downlink instance: /19/{downlink_instance}/0
    lwm2m_version: str = ""
    # The mapped paths' observations the device accepted (ingress.lwm2m_observe), stored with the session.
    observations: tuple[MappedObservation, ...] = ()
    # An Update: the objects its links added to, or removed from, the session's (ingress.lwm2m_observe.refresh).
    objects_added: frozenset[int] = frozenset()
    objects_removed: frozenset[int] = frozenset()

    @property
    def queue_mode(self) -> bool:
        """LwM2M queue mode (binding UQ or Q, or 1.1's `Q` parameter): it sleeps between its messages."""
        return self.channel == Channel.LWM2M and "Q" in self.binding

    @property
    def dtls_identity(self) -> str:
        """Whose DTLS session carries the device's messages: a sub-device shares its gateway's."""
        return self.gateway_node_id or self.identity or self.node_id

    @property
    def downlink_path(self) -> tuple[str, ...]:
        """Where downlinks go: /19/1/0 (prefixed for a gateway's sub-device), or Huawei's /t/d."""
        if self.channel != Channel.LWM2M:
            return ("t", "d")
        resource = ("19", str(self.downlink_instance), "0")
        return (self.prefix, *resource) if self.prefix else resource

    @classmethod
    def of(cls, session: DeviceSession, node_id: str) -> SessionView:
        return cls(
            device_pk=session.device_id,
            node_id=node_id,
            channel=session.channel,
            registration_id=session.registration_id,
            host=session.host,
            port=session.port,
            secure=session.secure,
            binding=session.binding,
            observed_path=session.observed_path,
            observe_token=bytes(session.observe_token) if session.observe_token is not None else None,
            previous_token=bytes(session.previous_token) if session.previous_token is not None else None,
            observed=session.observed,
            lifetime=session.lifetime,
            lwm2m_gateway=session.lwm2m_gateway,
            gateway_pk=session.gateway_session.device_id if session.gateway_session_id is not None else None,
            prefix=session.prefix,
            listed=session.listed,
            gateway_node_id=session.gateway_session.device.node_id if session.gateway_session_id is not None else "",
            identity=session.identity,
            downlink_forms=tuple(session.downlink_forms.split(",")),
            downlink_instance=session.downlink_instance,
            lwm2m_version=session.lwm2m_version,
            observations=observations_of(session.observations),
        )


def new_token() -> bytes:
    """An 8-byte observe token, random, so every worker's tokens are unique without coordination."""
    token = secrets.token_bytes(8)
    return token if token[0] else b"\x01" + token[1:]


def _owner_ttl(lifetime: int) -> int:
    return lifetime + settings.INGRESS_SESSION_GRACE


def find_device(endpoint: endpoints.Endpoint, devices: Any = None) -> Device | None:
    """The device an endpoint name names (ingress.endpoints): the whole name first, then the nodeId in it
    (one query; `devices`: the queryset to look in, with its own select_related or only())."""
    candidates = endpoint.candidates
    if devices is None:
        devices = Device.objects.select_related("application", "product")
    found = {device.node_id: device for device in devices.filter(node_id__in=candidates)}
    return next((found[name] for name in candidates if name in found), None)


def _check_device(node_id: str, *, secure: bool, identity: str | None, host: str) -> Device:
    endpoint = endpoints.parse(node_id)
    device = find_device(endpoint)
    if device is None:
        log.warning("registration of unknown endpoint %r from %s refused", node_id, host)
        raise Refused("4.03", f"unknown endpoint {node_id!r}: register the device (nodeId) first")
    # A standard stack's PSK identity is often its endpoint name (urn:imei:...), a Huawei module's its IMEI.
    if secure and identity not in (device.node_id, node_id):
        reason = f"refused: DTLS identity {identity!r} is not the endpoint name"
        logs.log(device, LogKind.INFO, reason)
        raise Refused("4.03", reason)
    if device.is_secure and not secure:
        reason = "registration refused: the device is registered as secure and must use CoAPS (DTLS)"
        logs.log(device, LogKind.INFO, reason)
        raise Refused("4.03", reason)
    (limited,) = flow.count([(device.pk, device.application)])
    if limited is not None:
        reason = f"registration dropped by flow control: over the limit of {limited.limit}"
        logs.log(device, LogKind.FLOW_CONTROL, reason, detail={"retryAfter": limited.retry_after})
        raise Refused("4.29", reason, retry_after=limited.retry_after)
    return device


def register(
    *,
    channel: str,
    node_id: str,
    host: str,
    port: int,
    worker: str,
    secure: bool = False,
    identity: str | None = None,
    lifetime: int | None = None,
    binding: str = "U",
    version: str = "",
    objects: list[dict[str, Any]] | None = None,
) -> SessionView:
    """Register (or re-register) a device; returns its session, whose observe token is new and not
    yet answered: the loop observes the uplink resource with it next."""
    try:
        device = _check_device(node_id, secure=secure, identity=identity, host=host)
        lifetime = max(settings.INGRESS_MIN_LIFETIME, lifetime or settings.INGRESS_DEFAULT_LIFETIME)
        now = timezone.now()
        lists_gateway = channel == Channel.LWM2M and has_object(objects or [], GATEWAY_OBJECT)
        acts_as_gateway = lists_gateway and device.product is not None and device.product.lwm2m_gateway
        with transaction.atomic():
            first = not device.activated
            if first:
                device = actions.do_bind_device(device)
            old = DeviceSession.objects.select_for_update().filter(device=device).first()
            token = new_token()
            product = device.product
            uplink_instance = product.lwm2m_uplink_instance if product is not None else 0
            learned = LearnedDownlink.objects.filter(device=device).values_list("form", flat=True).first()
            setting = product.lwm2m_object19 if product else "auto"
            declared = object19.declares_standard(objects or []) if channel == Channel.LWM2M else ""
            forms = object19.forms_for(setting, version, learned or "", declared=bool(declared))
            # A Huawei module may keep notifying on its previous registration's token for a while: accepted.
            # A conformant client observed anew has no use for its old observation (RFC 7641 3.6): the
            # token is forgotten, so a notification on it is answered with a reset, which cancels it.
            keeps_previous = channel == Channel.HUAWEI or object19.huawei_form(forms)
            cancelled = old is not None and old.observe_token is not None and not keeps_previous
            told = bool(declared) and setting == "auto" and not learned
            values = {
                "channel": channel,
                "secure": secure,
                "host": host,
                "port": port,
                "registration_id": secrets.token_hex(6),
                "lifetime": lifetime,
                "binding": binding or "U",
                "lwm2m_version": version[:8],
                "object_links": objects or [],
                "observed_path": f"/19/{uplink_instance}/0" if channel == Channel.LWM2M else "/t/d",
                "identity": (identity or "")[:128] if secure else "",
                "downlink_forms": ",".join(forms),
                "downlink_instance": product.lwm2m_downlink_instance if product is not None else 1,
                "observe_token": token,
                "previous_token": old.observe_token if old is not None and keeps_previous else None,
                "observed": False,
                "observations": {},  # observed again by the worker after this registration
                "worker": worker,
                "heard_at": now,
                "registered_at": now,
                "updated_at": now,
                "expires_at": now + dt.timedelta(seconds=lifetime),
                "lwm2m_gateway": acts_as_gateway,
                "gateway_session": None,
                "prefix": "",
                "listed": True,
            }
            session, _ = DeviceSession.objects.update_or_create(device=device, defaults=values)
            if lists_gateway and not acts_as_gateway:
                product = device.product.archive_stem if device.product is not None else "none"
                logs.log(
                    device,
                    LogKind.INFO,
                    f"object 25 (LwM2M Gateway) ignored: its product ({product}) is not an LwM2M gateway product",
                )
            if not acts_as_gateway and old is not None and old.lwm2m_gateway:
                _stop_gateway(device, "its gateway registered again without acting as an LwM2M gateway")
            kind = "LwM2M" if channel == Channel.LWM2M else "Huawei CoAP (t/r)"
            logs.log(
                device,
                LogKind.INFO,
                f"{'first ' if first else ''}{kind} registration over {'CoAPS' if secure else 'CoAP'} "
                f"from {host}:{port}, lifetime {lifetime} s, binding {session.binding}"
                + (f", LwM2M {version}" if version else "")
                + _endpoint_note(node_id, device.node_id)
                + (f"; object 19 downlinks in the {forms[0]} form first: {declared}" if told else "")
                + ("; the previous registration's observation is cancelled" if cancelled else ""),
            )
        get_redis().set(owner_key(device.pk), worker, ex=_owner_ttl(lifetime))
        _record_queue_mode(session)
        return SessionView.of(session, device.node_id)
    finally:
        close_old_connections()


def _endpoint_note(name: str, node_id: str) -> str:
    """How the registration named the device, when not by its nodeId (ingress.endpoints)."""
    if name == node_id:
        return ""
    return f", endpoint name {name!r} ({endpoints.parse(name).form} form)"


def _object19_links(links: list[dict[str, Any]]) -> set[str]:
    return {str(link.get("path", "")) for link in links if str(link.get("path", "")).strip("/").split("/")[0] == "19"}


def lists_path(links: list[dict[str, Any]], path: str) -> bool:
    """Whether links list `path` (/19/0/0) or an object or instance above it (</19>, </19/0>)."""
    wanted = [part for part in path.split("/") if part]
    for link in links:
        listed = [part for part in str(link.get("path", "")).split("/") if part]
        if listed and listed == wanted[: len(listed)]:
            return True
    return False


GATEWAY_OBJECT = 25  # OMA LwM2M Gateway object


def has_object(links: list[dict[str, Any]], object_id: int) -> bool:
    """Whether a registration's links list the object (`</25>`, `</25/0>`...), unprefixed."""
    wanted = str(object_id)
    return any(str(link.get("path", "")).strip("/").split("/")[0] == wanted for link in links)


def _stop_gateway(device: Device, why: str) -> None:
    """The device no longer acts as an LwM2M gateway: its sub-devices' sessions go, they go OFFLINE."""
    from devices import gateways

    DeviceSession.objects.filter(gateway_session__device=device).delete()
    gateways.follow_gateways([device.pk], why=why)


def update(
    registration_id: str,
    *,
    host: str,
    port: int,
    worker: str,
    secure: bool = False,
    lifetime: int | None = None,
    binding: str | None = None,
    objects: list[dict[str, Any]] | None = None,
) -> SessionView:
    """LwM2M registration update: new address (lwm2m-node-lib updates from a new port), lifetime,
    binding or objects. Unknown registrations answer 4.04 (the client then registers again)."""
    try:
        now = timezone.now()
        with transaction.atomic():
            session = (
                DeviceSession.objects.select_for_update(of=("self",))
                .select_related("device", "gateway_session__device")
                .defer("gateway_session__object_links")
                .filter(registration_id=registration_id)
                .first()
            )
            if session is None:
                raise Refused("4.04", f"no registration {registration_id}")
            if session.secure and not secure:
                raise Refused("4.03", "a registration made over CoAPS is updated over CoAPS only")
            moved = (session.host, session.port) != (host, port)
            session.host, session.port, session.worker, session.updated_at = host, port, worker, now
            session.heard_at = now
            if lifetime:
                session.lifetime = max(settings.INGRESS_MIN_LIFETIME, lifetime)
            if binding:
                session.binding = binding
            stopped = False
            # Only object 19's links matter to the observation (a gateway's links change with its end devices).
            links_changed = bool(objects) and _object19_links(objects) != _object19_links(session.object_links)
            added = object_ids(objects) - object_ids(session.object_links) if objects else frozenset()
            removed = object_ids(session.object_links) - object_ids(objects) if objects else frozenset()
            if objects:
                session.object_links = objects
                if session.channel == Channel.LWM2M and session.gateway_session_id is None:
                    product = session.device.product
                    acts = has_object(objects, GATEWAY_OBJECT) and product is not None and product.lwm2m_gateway
                    stopped = session.lwm2m_gateway and not acts
                    session.lwm2m_gateway = acts
            session.expires_at = now + dt.timedelta(seconds=session.lifetime)
            session.save()
            if session.lwm2m_gateway:
                # Its sub-devices share its address, worker and lifetime (ingress.lwm2m_gateway).
                DeviceSession.objects.filter(gateway_session=session).update(
                    host=host,
                    port=port,
                    worker=worker,
                    secure=session.secure,
                    lifetime=session.lifetime,
                    binding=session.binding,
                    heard_at=now,
                    updated_at=now,
                    expires_at=session.expires_at,
                )
            if moved:
                logs.log(session.device, LogKind.INFO, f"registration update from a new address {host}:{port}")
            if stopped:
                _stop_gateway(session.device, "its gateway no longer lists object 25")
        get_redis().set(owner_key(session.device_id), worker, ex=_owner_ttl(session.lifetime))
        _record_queue_mode(session)
        return dataclasses.replace(
            SessionView.of(session, session.device.node_id),
            links_changed=links_changed,
            objects_added=added,
            objects_removed=removed,
        )
    finally:
        close_old_connections()


def deregister(registration_id: str, *, secure: bool = False) -> None:
    try:
        session = with_gateway().filter(registration_id=registration_id).first()
        if session is None:
            raise Refused("4.04", f"no registration {registration_id}")
        if session.secure and not secure:
            raise Refused("4.03", "a registration made over CoAPS is ended over CoAPS only")
        session.delete()  # a gateway's sub-devices' sessions with it
        get_redis().delete(owner_key(session.device_id))
        logs.log(session.device, LogKind.INFO, "LwM2M de-registration")
        if session.lwm2m_gateway:
            from devices import gateways

            gateways.do_gateway_offline(
                session.device_id, why="its gateway de-registered", because="LwM2M de-registration"
            )
        else:
            actions.do_set_offline(session.device_id, because="LwM2M de-registration")
    finally:
        close_old_connections()


def with_gateway():
    """Sessions with their device and, for a gateway's sub-device, the gateway's session and device,
    but not the gateway's parsed links: an LwM2M gateway's list every end device's objects (1,000 of
    them: decoding that JSON for each sub-device's notification cost more than the notification)."""
    return DeviceSession.objects.select_related("device", "gateway_session__device").defer(
        "gateway_session__object_links"
    )


def observed(device_pk: int, token: bytes, *, worker: str, host: str, port: int, code: str, at: dt.datetime) -> bool:
    """The device answered the observe request made with `token` (the answer reached `worker` at
    `at`): record it. False if the device refused (an error code), which is logged on the device."""
    try:
        session = with_gateway().filter(device_id=device_pk).first()
        if session is None:
            return False
        if not code.startswith("2."):
            logs.log(
                session.device, LogKind.INFO, f"the device refused to be observed on {session.observed_path}: {code}"
            )
            return False
        DeviceSession.objects.filter(pk=session.pk, observe_token=token).update(observed=True)
        heard(device_pk, worker=worker, host=host, port=port, lifetime=session.lifetime, at=at)
        return True
    finally:
        close_old_connections()


def _record_queue_mode(session: DeviceSession) -> None:
    """A registration or its update: a queue-mode device is awake for INGRESS_QUEUE_AWAKE_SECONDS."""
    awake_until = time.time() + settings.INGRESS_QUEUE_AWAKE_SECONDS
    downlink.set_queue_mode(
        session.device_id, session.queue_mode, ttl=_owner_ttl(session.lifetime), awake_until=awake_until
    )


def wake(device_pks: list[int], *, registered: bool) -> dict[int, list[dict[str, Any]]]:
    """Queue-mode devices are awake (they just sent an uplink, or `registered`: a registration or its
    update, after which what waited for them goes: devices.hooks.device_awake). Returns the downlinks
    held for them (devices.downlink), for the worker to send now."""
    try:
        redis = get_redis()
        awake_until = time.time() + settings.INGRESS_QUEUE_AWAKE_SECONDS
        pipe = redis.pipeline(transaction=False)
        for device_pk in device_pks:
            pipe.set(downlink.queue_key(device_pk), awake_until, xx=True, keepttl=True)
        pipe.execute()
        if registered:
            hooks.device_awake(list(Device.objects.select_related("application", "product").filter(pk__in=device_pks)))
        return {device_pk: held for device_pk in device_pks if (held := downlink.take_held(device_pk))}
    finally:
        close_old_connections()


def learn_form(device_pk: int, form: str, *, why: str = "") -> tuple[str, ...] | None:
    """The device took object 19 downlinks in `form` after refusing the other (or told it: `why`): first
    from now on, in its session and its next registrations (ingress.object19). Returns the session's forms."""
    try:
        forms = None
        with transaction.atomic():
            session = DeviceSession.objects.select_for_update().filter(device_id=device_pk).first()
            if session is not None:
                others = [other for other in session.downlink_forms.split(",") if other != form]
                session.downlink_forms = ",".join([form, *others])
                session.save(update_fields=["downlink_forms"])
                forms = tuple(session.downlink_forms.split(","))
            LearnedDownlink.objects.update_or_create(
                device_id=device_pk, defaults={"form": form, "learned_at": timezone.now()}
            )
            summary = f"object 19 downlinks: the device takes the {form} form" + (f" ({why})" if why else "")
            logs.log_device(device_pk, LogKind.INFO, summary)
        return forms
    finally:
        close_old_connections()


def learn_from_format(device_pk: int, content_format: int) -> tuple[str, ...] | None:
    """The device notified object 19 in a format that carries resource instances (object19.MULTIPLE_VALUE_FORMATS):
    it treats resource 0 as the specification does. On an `auto` product, with nothing learned yet and the
    opaque write first, its version's standard form is learned (as a refusal teaches it, learn_form), so
    that the first downlink, a NON cloudRsp included, goes in a form it takes. Returns the session's new
    forms, or None when nothing changed."""
    try:
        session = (
            DeviceSession.objects.select_related("device__product")
            .filter(device_id=device_pk, channel=Channel.LWM2M, gateway_session__isnull=True)
            .only("downlink_forms", "lwm2m_version", "device__product__lwm2m_object19")
            .first()
        )
        if session is None or not object19.huawei_form(session.downlink_forms.split(",")):
            return None
        product = session.device.product
        if (product.lwm2m_object19 if product else "auto") != "auto":
            return None
        if LearnedDownlink.objects.filter(device_id=device_pk).exists():
            return None  # it refused a form before: what it took stands
        form = object19.standard_form(session.lwm2m_version)
        why = f"its notifications are {formats.NAMES.get(content_format, content_format)}"
        return learn_form(device_pk, form, why=why)
    finally:
        close_old_connections()


def by_token(token: bytes) -> SessionView | None:
    """The session a notification's token belongs to: its current or its previous object 19 token, or one of
    its mapped paths' observations (the view's `observations` say which path)."""
    try:
        session = (
            with_gateway().filter(observe_token=token).first()
            or with_gateway().filter(previous_token=token).first()
            or with_gateway().filter(observations__has_key=token.hex()).first()
        )
        return SessionView.of(session, session.device.node_id) if session is not None else None
    finally:
        close_old_connections()


def by_device(device_pk: int) -> SessionView | None:
    try:
        session = with_gateway().filter(device_id=device_pk).first()
        return SessionView.of(session, session.device.node_id) if session is not None else None
    finally:
        close_old_connections()


def record_observations(
    device_pk: int, registration_id: str, observations: tuple[MappedObservation, ...]
) -> tuple[MappedObservation, ...] | None:
    """The mapped paths' observations the device now holds (ingress.lwm2m_observe), replacing the session's,
    if the device is still on that registration (a newer one observes anew). Returns what was stored."""
    try:
        stored = {
            observation.token.hex(): observation.path if observation.path != COMPOSITE else list(observation.covers)
            for observation in observations
        }
        updated = DeviceSession.objects.filter(device_id=device_pk, registration_id=registration_id).update(
            observations=stored
        )
        return observations_of(stored) if updated else None
    finally:
        close_old_connections()


def heard(device_pk: int, *, worker: str, host: str, port: int, lifetime: int, at: dt.datetime) -> bool:
    """`worker` heard the device at `at` (first time, or from a new address): downlinks go there.
    Workers may report out of order; the latest hearing wins."""
    try:
        updated = (
            DeviceSession.objects.filter(device_id=device_pk)
            .filter(Q(heard_at__isnull=True) | Q(heard_at__lt=at))
            .update(worker=worker, host=host, port=port, heard_at=at)
        )
        if updated:
            get_redis().set(owner_key(device_pk), worker, ex=_owner_ttl(lifetime))
        return bool(updated)
    finally:
        close_old_connections()


def claim_orphans(worker: str, live_workers: set[str], limit: int) -> list[SessionView]:
    """Sessions whose worker is gone (a restart): take them over, to observe them again with the token
    they have (current and previous tokens both stay accepted)."""
    try:
        with transaction.atomic():
            sessions = list(
                DeviceSession.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("device", "gateway_session__device")
                .defer("gateway_session__object_links")
                .exclude(worker__in=live_workers)
                # Not a sub-device its gateway no longer lists: its observation is not wanted.
                .filter(expires_at__gt=timezone.now(), observe_token__isnull=False, listed=True)[:limit]
            )
            DeviceSession.objects.filter(pk__in=[session.pk for session in sessions]).update(worker=worker)
            return [SessionView.of(session, session.device.node_id) for session in sessions]
    finally:
        close_old_connections()


def expire_sessions(now: dt.datetime | None = None) -> int:
    """Forget registrations past their lifetime and grace: the device must register again."""
    try:
        cutoff = (now or timezone.now()) - dt.timedelta(seconds=settings.INGRESS_SESSION_GRACE)
        expired = DeviceSession.objects.filter(expires_at__lt=cutoff)
        gateway_pks = list(expired.filter(lwm2m_gateway=True).values_list("device_id", flat=True))
        deleted, _ = expired.delete()
        if gateway_pks:
            from devices import gateways

            for gateway_pk in gateway_pks:  # their sub-devices follow them (devices.gateways)
                gateways.do_gateway_offline(
                    gateway_pk, why="its gateway's registration expired", because="its LwM2M registration expired"
                )
        return deleted
    finally:
        close_old_connections()
