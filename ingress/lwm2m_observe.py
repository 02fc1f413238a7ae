"""Standard LwM2M objects on a live session: what the ingress observes for a mapped product, the
Write-Attributes it sets first, and LwM2M 1.1 Send (`POST /dp`) (docs/lwm2m-objects.md).

After a registration of a device whose product maps properties (products.lwm2m_mapping), for the mapped
paths whose object the registration lists:

1. Write-Attributes: `PUT /3303/0/5700?pmin=60&pmax=3600&st=0.5` per path (the platform's defaults,
   then the product's, then the path's own);
2. observe: a 1.1 (or later) client gets one composite observe (`FETCH /` with Observe, the paths as
   SenML-ETCH JSON names, answers asked in SenML JSON); a client that refuses it, and a 1.0 client,
   one `GET` with Observe per path;
3. each answer's value and each notification goes to the pipeline as an uplink with `lwm2m_path`
   (ingress.lwm2m_values reads it by the object's definition into service data).

The tokens live in the worker's token table (ingress.worker) beside the object 19 observation's, with the
path they observe, so notifications take the same road (store, then acknowledge). They are not stored in
the session row: after an ingress restart they are unknown and answered with a reset, which ends the
observation until the device registers again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import weakref
from typing import TYPE_CHECKING, Any

from aiocoap import ACK, CON, Message
from aiocoap import error as aiocoap_error
from aiocoap.numbers import codes
from django.conf import settings

from devices import logs
from devices.models import Device, LogKind
from ingress import formats, pipeline
from ingress.sessions import SessionView, has_object
from products.lwm2m_mapping import effective_attributes

if TYPE_CHECKING:
    from ingress.worker import IngressWorker

SENML_ETCH_JSON = 320  # RFC 8790: the composite observe's request body (JSON: Wakaama's default build has no CBOR)
COMPOSITE = "/"  # the lwm2m_path of a composite notification or a Send: names carry the paths

# Each worker's mapped-path tokens by device, so a new registration forgets the previous ones.
_tokens: weakref.WeakKeyDictionary[Any, dict[int, list[bytes]]] = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class Target:
    path: str
    attributes: dict[str, Any]


def targets(device_pk: int, links: list[dict[str, Any]] | None) -> list[Target]:
    """The mapped paths to observe for the device (one query), those whose object its links list."""
    mapping = Device.objects.filter(pk=device_pk).values_list("product__lwm2m_mapping", flat=True).first()
    if not mapping:
        return []
    chosen: dict[str, Target] = {}
    for entry in mapping.get("properties", []):
        object_id = int(entry["path"].strip("/").split("/")[0])
        if links and not has_object(links, object_id):
            continue
        chosen.setdefault(entry["path"], Target(entry["path"], effective_attributes(mapping, entry)))
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


async def start(worker: IngressWorker, view: SessionView, links: list[dict[str, Any]] | None) -> None:
    """Write-Attributes then observe the device's mapped paths (composite where it can); log what happened."""
    chosen = await worker.run_misc(targets, view.device_pk, links)
    forget(worker, view.device_pk)
    if not chosen:
        return
    written = []
    for target in chosen:
        answer = await _request(worker, view, codes.PUT, target.path, uri_query=query(target.attributes))
        written.append(f"{target.path}?{'&'.join(query(target.attributes))} {_code(answer)}")
    observed: list[str] = []
    if supports_composite(view):
        body = json.dumps([{"n": target.path} for target in chosen], separators=(",", ":")).encode()
        code = await _observe(worker, view, COMPOSITE, codes.FETCH, body)
        if code is not None and code.startswith("2."):
            observed.append(f"composite {', '.join(target.path for target in chosen)} {code}")
        else:
            observed.append(f"composite refused ({code or 'no answer'}), per path:")
    if not observed or not observed[0].startswith("composite /"):
        for target in chosen:
            code = await _observe(worker, view, target.path, codes.GET, b"")
            observed.append(f"{target.path} {code or 'no answer'}")
    summary = f"standard objects: Write-Attributes {'; '.join(written)}; observing {'; '.join(observed)}"
    await worker.run_misc(logs.log_device, view.device_pk, LogKind.INFO, summary)


def forget(worker: IngressWorker, device_pk: int) -> None:
    """The device's previous mapped-path tokens (a new registration observes again)."""
    for token in _tokens.setdefault(worker, {}).pop(device_pk, []):
        worker.tokens.pop(token, None)


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


async def _observe(worker: IngressWorker, view: SessionView, path: str, method: Any, body: bytes) -> str | None:
    """Observe `path` (GET) or the paths in `body` (FETCH) on a token of our own in the worker's table, so
    notifications reach the pipeline like object 19's; the answer's value is stored. The answer's code."""
    from ingress.worker import PlatformTuning, TokenState

    token = secrets.token_bytes(8)
    request = Message(code=method, observe=0, payload=body, transport_tuning=PlatformTuning())
    request.opt.uri_path = _parts(path)
    if method == codes.FETCH:
        request.opt.content_format = SENML_ETCH_JSON
        request.opt.accept = formats.SENML_JSON
    request.token, request.mtype, request.remote = token, CON, worker.remote(view)
    if request.remote is None:
        return None
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
        worker.tokens.pop(token, None)
        return None
    finally:
        worker.pending_observes.pop(token, None)
        worker.pending_remotes.pop(token, None)
    if not answer.code.is_successful():
        worker.tokens.pop(token, None)
        return str(answer.code.dotted)
    _tokens.setdefault(worker, {}).setdefault(view.device_pk, []).append(token)
    if answer.mtype is ACK and answer.payload:
        worker.enqueue(
            _pending(view, answer, path, message_id=None)  # the ACK's id is the platform's own: no deduplication
        )
    return str(answer.code.dotted)


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
    """The registered device a Send comes from: its session's address (and DTLS identity)."""
    host, port = worker._where(request)
    identity = getattr(request.remote, "identity", None)
    for view in worker.views.values():
        same_identity = identity is None or identity in (view.dtls_identity, view.node_id)
        if (view.host, view.port) == (host, port) and view.gateway_pk is None and same_identity:
            return view
    return None


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
