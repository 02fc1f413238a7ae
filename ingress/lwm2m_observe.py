"""Standard LwM2M objects on a live session: what the ingress observes for a mapped product, the
Write-Attributes it sets first, and LwM2M 1.1 Send (`POST /dp`) (docs/lwm2m-objects.md).

After a registration of a device whose product maps properties (products.lwm2m_mapping), for the mapped
paths whose object the registration lists (start):

1. Write-Attributes: `PUT /3303/0/5700?pmin=60&pmax=3600&st=0.5` per path (the platform's defaults,
   then the product's, then the path's own);
2. observe: a 1.1 (or later) client gets one composite observe (`FETCH /` with Observe, the paths as
   SenML-ETCH JSON names, answers asked in SenML JSON); a client that refuses it, and a 1.0 client,
   one `GET` with Observe per path;
3. each answer's value and each notification goes to the pipeline as an uplink with `lwm2m_path`
   (ingress.lwm2m_values reads it by the object's definition into service data).

The observations the device accepted are stored with its session (`DeviceSession.observations`: token,
path; sessions.record_observations) as object 19's token is, and kept in the worker's token table
(ingress.worker `_remember`), so notifications take the same road (store, then acknowledge) and a
restarted worker that does not know a token finds it in the database (sessions.by_token).

A registration Update (refresh) observes again when its links add or remove objects, or when a mapped path
the links list has no observation (never answered, or lost): observations still wanted are kept,
Write-Attributes go only to the newly listed objects' paths; an Update that changes nothing costs one query.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from typing import TYPE_CHECKING, Any

from aiocoap import ACK, CON, Message
from aiocoap import error as aiocoap_error
from aiocoap.numbers import codes
from django.conf import settings

from devices import logs
from devices.models import LogKind
from ingress import formats, pipeline, sessions
from ingress.models import DeviceSession
from ingress.sessions import COMPOSITE, MappedObservation, SessionView, has_object
from products.lwm2m_mapping import effective_attributes

if TYPE_CHECKING:
    from ingress.worker import IngressWorker

SENML_ETCH_JSON = 320  # RFC 8790: the composite observe's request body (JSON: Wakaama's default build has no CBOR)


@dataclasses.dataclass(frozen=True)
class Target:
    path: str
    attributes: dict[str, Any]

    @property
    def object_id(self) -> int:
        return int(self.path.strip("/").split("/")[0])


def targets(device_pk: int) -> list[Target]:
    """The mapped paths to observe for the device (one query): those whose object its session's links list."""
    row = (
        DeviceSession.objects.filter(device_id=device_pk)
        .values_list("device__product__lwm2m_mapping", "object_links")
        .first()
    )
    mapping, links = row if row is not None else (None, None)
    if not mapping:
        return []
    chosen: dict[str, Target] = {}
    for entry in mapping.get("properties", []):
        target = Target(entry["path"], effective_attributes(mapping, entry))
        if links and not has_object(links, target.object_id):
            continue
        chosen.setdefault(entry["path"], target)
    return list(chosen.values())


def query(attributes: dict[str, Any]) -> tuple[str, ...]:
    """`pmin=60`, `st=0.5`...: Write-Attributes as URI query options (TS 1.1, 5.4.4)."""
    return tuple(
        f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}" for name, value in attributes.items()
    )


def _parts(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


def supports_composite(view: SessionView) -> bool:
    try:
        return float(view.lwm2m_version or "1.0") >= 1.1 and settings.INGRESS_LWM2M_COMPOSITE_OBSERVE
    except ValueError:
        return False


async def start(worker: IngressWorker, view: SessionView) -> None:
    """After a registration: Write-Attributes then observe the device's mapped paths (composite where it can)."""
    chosen = await worker.run_misc(targets, view.device_pk)
    # A mapping change takes effect at the next registration: until then an Update of a device with nothing
    # to observe asks nothing (refresh).
    if chosen:
        worker.without_mapping.discard(view.device_pk)
    else:
        worker.without_mapping.add(view.device_pk)
    await _observe_targets(worker, view, chosen, kept=(), write=chosen, why="")


async def refresh(worker: IngressWorker, view: SessionView) -> None:
    """After a registration Update: observe again when its links added or removed objects, or when the session
    holds no observation (the device never answered, the worker died before storing them, or the session is
    older than this storage). Observations whose paths are all still wanted are kept; Write-Attributes go only
    to the paths of newly listed objects. An Update that changes neither costs nothing (no query; nor, once
    the worker knows it, one of a device whose product maps nothing)."""
    changed = bool(view.objects_added or view.objects_removed)
    if not changed and view.observations:
        return
    if view.device_pk in worker.observing_devices:
        # Its observe is under way: this Update is looked at once it is done (with every object it added).
        waiting = worker.refresh_waiting.get(view.device_pk)
        added = view.objects_added | (waiting.objects_added if waiting is not None else frozenset())
        removed = view.objects_removed | (waiting.objects_removed if waiting is not None else frozenset())
        worker.refresh_waiting[view.device_pk] = dataclasses.replace(
            view, objects_added=added - removed, objects_removed=removed - added
        )
        return
    if view.device_pk in worker.without_mapping and not changed:
        return  # nothing mapped to observe at its registration (start)
    chosen = await worker.run_misc(targets, view.device_pk)
    if not chosen:
        worker.without_mapping.add(view.device_pk)
    wanted = {target.path for target in chosen}
    kept = tuple(observation for observation in view.observations if set(observation.covers) <= wanted)
    covered = {path for observation in kept for path in observation.covers}
    missing = [target for target in chosen if target.path not in covered]
    if not missing and len(kept) == len(view.observations):
        return  # nothing to observe, nothing to forget
    write = [target for target in missing if target.object_id in view.objects_added]
    if changed:
        why = "objects " + ", ".join(
            [f"+{object_id}" for object_id in sorted(view.objects_added)]
            + [f"-{object_id}" for object_id in sorted(view.objects_removed)]
        )
    else:
        why = "no observation held"
    await _observe_targets(worker, view, missing, kept=kept, write=write, why=why)


async def _observe_targets(
    worker: IngressWorker,
    view: SessionView,
    chosen: list[Target],
    *,
    kept: tuple[MappedObservation, ...],
    write: list[Target],
    why: str,
) -> None:
    """Write-Attributes on `write`, observe `chosen`; the observations the device took, with those `kept`,
    become the session's (a token left out is forgotten: its next notification is reset, which ends it)."""
    if not chosen and len(kept) == len(view.observations):
        return
    worker.observing_devices.add(view.device_pk)
    written: list[str] = []
    observed: list[str] = []
    taken: list[MappedObservation] = []
    try:
        for target in write:
            answer = await _request(worker, view, codes.PUT, target.path, uri_query=query(target.attributes))
            written.append(f"{target.path}?{'&'.join(query(target.attributes))} {_code(answer)}")
        if chosen and supports_composite(view):
            body = json.dumps([{"n": target.path} for target in chosen], separators=(",", ":")).encode()
            code, token = await _observe(worker, view, COMPOSITE, codes.FETCH, body)
            if token is not None:
                taken.append(MappedObservation(token, COMPOSITE, tuple(target.path for target in chosen)))
                observed.append(f"composite {', '.join(target.path for target in chosen)} {code}")
            else:
                observed.append(f"composite refused ({code or 'no answer'}), per path:")
        if not taken:
            for target in chosen:
                code, token = await _observe(worker, view, target.path, codes.GET, b"")
                if token is not None:
                    taken.append(MappedObservation(token, target.path, (target.path,)))
                observed.append(f"{target.path} {code or 'no answer'}")
        stored = await worker.run_misc(
            sessions.record_observations, view.device_pk, view.registration_id, (*kept, *taken)
        )
    finally:
        worker.observing.difference_update(observation.token for observation in taken)
        worker.observing_devices.discard(view.device_pk)
    current = worker.views.get(view.device_pk)
    waiting = worker.refresh_waiting.pop(view.device_pk, None)
    if stored is not None and current is not None and current.registration_id == view.registration_id:
        current = dataclasses.replace(current, observations=stored)
        worker._remember(current, None, established=True)
        if waiting is not None and waiting.registration_id == view.registration_id:
            worker._spawn(refresh(worker, dataclasses.replace(waiting, observations=stored)))
    else:
        worker.forget_tokens(view.device_pk, [observation.token for observation in taken])
    summary = "standard objects: " + (f"{why}: " if why else "")
    if written:
        summary += f"Write-Attributes {'; '.join(written)}; "
    summary += f"observing {'; '.join(observed)}" if observed else "observing nothing new"
    if kept:
        summary += f" (kept: {', '.join(path for observation in kept for path in observation.covers)})"
    await worker.run_misc(logs.log_device, view.device_pk, LogKind.INFO, summary)


def _code(answer: Message | str) -> str:
    return answer if isinstance(answer, str) else str(answer.code.dotted)


async def _request(
    worker: IngressWorker, view: SessionView, method: Any, path: str, *, uri_query: tuple[str, ...] = ()
) -> Message | str:
    """One confirmable request and its answer, or a word saying why there is none."""
    from ingress.worker import PlatformTuning, _retrieve

    request = Message(code=method, transport_tuning=PlatformTuning())
    request.opt.uri_path = _parts(path)
    request.opt.uri_query = uri_query
    request.remote = worker.remote(view)
    if request.remote is None:
        return "no DTLS session"
    pending = worker.context.request(request).response
    pending.add_done_callback(_retrieve)
    try:
        return await asyncio.wait_for(asyncio.shield(pending), request.transport_tuning.MAX_TRANSMIT_WAIT + 1)
    except TimeoutError:
        return "no answer"
    except aiocoap_error.Error as problem:
        return type(problem).__name__


async def _observe(
    worker: IngressWorker, view: SessionView, path: str, method: Any, body: bytes
) -> tuple[str | None, bytes | None]:
    """Observe `path` (GET) or the paths in `body` (FETCH) on a token of our own in the worker's table, so
    notifications reach the pipeline like object 19's; the answer's value is stored. The answer's code, and the
    token if the device took the observation (kept in `worker.observing` until it is stored with the session)."""
    from ingress.worker import PlatformTuning, TokenState

    token = secrets.token_bytes(8)
    request = Message(code=method, observe=0, payload=body, transport_tuning=PlatformTuning())
    request.opt.uri_path = _parts(path)
    if method == codes.FETCH:
        request.opt.content_format = SENML_ETCH_JSON
        request.opt.accept = formats.SENML_JSON
    request.token, request.mtype, request.remote = token, CON, worker.remote(view)
    if request.remote is None:
        return None, None
    worker.observing.add(token)
    worker.device_tokens[view.device_pk].add(token)
    worker.tokens[token] = TokenState(view, established=False, lwm2m_path=path)
    waiter = worker.loop.create_future()
    worker.pending_observes[token] = waiter
    worker.pending_remotes[token] = request.remote

    def on_reset() -> None:
        if not waiter.done():
            waiter.set_exception(aiocoap_error.MessageError("reset"))

    try:
        worker._manager(request.remote).send_message(request, on_reset)
        tuning = request.transport_tuning
        # A composite FETCH some clients acknowledge empty and never answer (Wakaama's example client):
        # waited for 4 ACK timeouts, not CoAP's whole MAX_TRANSMIT_WAIT, before observing per path.
        limit = (
            min(tuning.MAX_TRANSMIT_WAIT, 4 * tuning.ACK_TIMEOUT) if method == codes.FETCH else tuning.MAX_TRANSMIT_WAIT
        )
        answer = await asyncio.wait_for(waiter, limit)
    except (TimeoutError, aiocoap_error.Error):
        worker.forget_tokens(view.device_pk, [token])
        return None, None
    finally:
        worker.pending_observes.pop(token, None)
        worker.pending_remotes.pop(token, None)
    if not answer.code.is_successful():
        worker.forget_tokens(view.device_pk, [token])
        return str(answer.code.dotted), None
    if answer.mtype is ACK and answer.payload:
        worker.enqueue(
            _pending(view, answer, path, message_id=None)  # the ACK's id is the platform's own: no deduplication
        )
    return str(answer.code.dotted), token


def _pending(view: SessionView, message: Message, path: str, *, message_id: int | None) -> Any:
    from ingress.worker import DTLSAddress, Pending

    uplink = pipeline.Uplink(
        device_pk=view.device_pk,
        payload=message.payload,
        content_format=message.opt.content_format,
        message_id=message_id,
        secure=isinstance(message.remote, DTLSAddress) and message.remote.identity == view.dtls_identity,
        transport="LwM2M",
        channel=path,
        lwm2m_path=path,
    )
    return Pending(uplink, message.remote, message.mid, message.mtype, view)


def sender(worker: IngressWorker, request: Message) -> SessionView | None:
    """The registered device a Send comes from: the one whose session has its address (the worker's index,
    O(1) whatever the number of sessions), over CoAPS with the session's DTLS identity."""
    device_pk = worker.addresses.get(worker._where(request))
    view = worker.views.get(device_pk) if device_pk is not None else None
    if view is None or view.gateway_pk is not None:
        return None
    identity = getattr(request.remote, "identity", None)
    if identity is None and view.secure:
        return None  # a CoAPS session's device sends over CoAPS
    if identity is not None and identity not in (view.dtls_identity, view.node_id):
        return None
    return view


async def send(worker: IngressWorker, request: Message) -> Message:
    """LwM2M 1.1 Send (`POST /dp`, SenML or LwM2M CBOR): stored through the pipeline before the answer."""
    view = sender(worker, request)
    if view is None:
        return Message(code=codes.FORBIDDEN, payload=b"Send from an address with no registration: register first")
    uplink = _pending(view, request, COMPOSITE, message_id=request.mid).uplink
    [outcome] = await worker.loop.run_in_executor(worker.db, pipeline.handle_uplinks, [uplink])
    worker.stats[f"send_{outcome.result}"] += 1
    if outcome.result in (pipeline.STORED, pipeline.DUPLICATE):
        return Message(code=codes.CHANGED)
    if outcome.acknowledge:
        return Message(code=codes.BAD_REQUEST, payload=outcome.detail.encode()[:200])
    return Message(code=codes.SERVICE_UNAVAILABLE, payload=b"not stored, send again")
