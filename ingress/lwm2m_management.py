"""LwM2M device management through standard resources: Read, Write, Write-Attributes, Execute and
Discover on any path of a connected or queue-mode device (docs/lwm2m-objects.md).

`check_operation` validates a request against the object definitions (the registry's, or the device's
product's own); `do_request_operation` stores it as a ManagementOperation (PENDING) and, after commit,
hands `{"type": "lwm2m_manage", "operation": pk}` to the worker holding the device, or holds it in Redis
until a sleeping queue-mode device wakes (devices.downlink). `run` is the worker's side: one CoAP request,
the answer stored on the row and logged on the device. Reboot is Execute /3/0/4, factory reset /3/0/5.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import TYPE_CHECKING, Any

from aiocoap import Message
from aiocoap import error as aiocoap_error
from aiocoap.numbers import codes
from django.db import transaction
from django.utils import timezone

from devices import downlink, logs
from devices.models import Device, LogKind
from ingress import formats, lwm2m_values
from ingress.formats import FormatError
from ingress.models import ManagementOperation
from products import lwm2m_mapping, lwm2m_objects
from products.lwm2m_mapping import MappingInvalid, check_attributes

if TYPE_CHECKING:
    from ingress.worker import IngressWorker

MANAGE_MESSAGE = "lwm2m_manage"
OPERATIONS = ("read", "write", "write_attributes", "execute", "discover")


class OperationInvalid(ValueError):
    """`field` and the rule's words, for the 100022 answer."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _path(text: Any) -> tuple[int, ...]:
    if not isinstance(text, str):
        raise OperationInvalid("path", "must be a string like /3/0/9")
    try:
        if not text.startswith("/"):
            raise FormatError(text)
        path = lwm2m_values.parse_path(text)
    except FormatError:
        raise OperationInvalid("path", f"{text!r} must be /object[/instance[/resource[/resource instance]]]") from None
    if len(path) > 3:
        raise OperationInvalid("path", "resource instances are not managed here: give /object/instance/resource")
    return path


def check_operation(device: Device, body: Any) -> dict[str, Any]:
    """`{"operation": "read"|"write"|"write_attributes"|"execute"|"discover", "path": "/3/0/9", "value": ...}`
    checked against the object definition: the fields of a ManagementOperation, or OperationInvalid."""
    if not isinstance(body, dict):
        raise OperationInvalid("body", "must be a JSON object with operation and path")
    unknown = sorted(set(body) - {"operation", "path", "value"})
    if unknown:
        raise OperationInvalid(unknown[0], "is not a field (operation, path, value)")
    operation = body.get("operation")
    if operation not in OPERATIONS:
        raise OperationInvalid("operation", f"must be one of {', '.join(OPERATIONS)}")
    path = _path(body.get("path"))
    own = (device.product.lwm2m_mapping or {}).get("definitions") if device.product is not None else None
    definition = lwm2m_objects.definition(path[0], dict(own or {}))
    if definition is None:
        raise OperationInvalid("path", f"object {path[0]} is neither in the registry nor among the product's own")
    resource = definition["resources"].get(str(path[2])) if len(path) == 3 else None
    if len(path) == 3 and resource is None:
        raise OperationInvalid("path", f"object {path[0]} ({definition['name']}) has no resource {path[2]}")
    value = body.get("value")
    needs = {"write": "W", "execute": "E"}.get(operation)
    if needs is not None:
        if resource is None:
            raise OperationInvalid("path", f"{operation} needs a resource: /object/instance/resource")
        if needs not in resource["operations"]:
            raise OperationInvalid(
                "path",
                f"{resource['name']} ({body['path']}) does not allow {operation} (its operations: "
                f"{resource['operations'] or 'none'})",
            )
    if operation == "read" and resource is not None and "R" not in resource["operations"]:
        raise OperationInvalid("path", f"{resource['name']} ({body['path']}) is not readable")
    if operation == "write":
        encode_value(resource, value)  # refused here, not at the device
    elif operation == "write_attributes":
        value = check_attributes(value, "value", resource) if value is not None else None
        if not value:
            raise OperationInvalid("value", 'write_attributes needs attributes such as {"pmin": 60}')
    elif operation == "execute":
        if value is not None and not isinstance(value, str):
            raise OperationInvalid("value", "an Execute's argument is a string (e.g. 0='a',1)")
    elif value is not None:
        raise OperationInvalid("value", f"{operation} takes no value")
    return {"operation": operation, "path": lwm2m_values.path_text(path), "value": value}


def encode_value(resource: dict[str, Any], value: Any) -> tuple[int, bytes]:
    """A Write's content format and payload (products.lwm2m_mapping.encode_value), refusals as OperationInvalid."""
    try:
        return lwm2m_mapping.encode_value(resource, value)
    except MappingInvalid as problem:
        raise OperationInvalid(problem.field, problem.reason) from None


def do_request_operation(device: Device, fields: dict[str, Any]) -> ManagementOperation:
    """Store the operation and hand it to the device's worker after commit (held while a queue-mode
    device sleeps); with no live session it fails at once, saying so."""
    with transaction.atomic():
        operation = ManagementOperation.objects.create(operation_id=uuid.uuid4(), device=device, **fields)
        # Logged first: with no session the operation fails just below, and its log reads after the request.
        logs.log(
            device, LogKind.INFO, f"LwM2M {fields['operation']} {fields['path']} requested", detail=_shown(operation)
        )
        message = {"type": MANAGE_MESSAGE, "operation": operation.pk, "device": device.pk}
        channel = downlink.holder(device)
        if channel is None:
            _finish(operation.pk, "FAILED", detail="the device has no session: it is not registered now")
            operation.refresh_from_db()
        elif downlink.asleep(device):
            transaction.on_commit(lambda: downlink._hold(device.pk, message))
            operation.detail = "held until the device wakes (queue mode)"
            operation.save(update_fields=["detail"])
        else:
            transaction.on_commit(lambda: downlink.send_to_worker(channel, message))
    return operation


def _shown(operation: ManagementOperation) -> dict[str, Any]:
    return {"operationId": str(operation.operation_id), "value": operation.value}


@transaction.atomic
def _finish(
    pk: int, status: str, *, code: str = "", result: Any = None, detail: str = ""
) -> ManagementOperation | None:
    """The operation's outcome and its device-log line in one transaction: whoever sees the status sees
    the line."""
    updated = ManagementOperation.objects.filter(pk=pk, status=ManagementOperation.Status.PENDING).update(
        status=status, code=code, result=result, detail=detail[:300], completed_at=timezone.now()
    )
    if not updated:
        return None
    operation = ManagementOperation.objects.select_related("device").get(pk=pk)
    summary = f"LwM2M {operation.operation} {operation.path}: {status} {code}".rstrip()
    logs.log(operation.device, LogKind.INFO, summary, detail={**_shown(operation), "result": result, "detail": detail})
    return operation


def _load(pk: int) -> ManagementOperation | None:
    return ManagementOperation.objects.select_related("device__product").filter(pk=pk).first()


def _answer(operation: ManagementOperation, answer: Message) -> tuple[str, Any, str]:
    """(status, result, detail) of the device's answer."""
    code = answer.code
    if not code.is_successful():
        return "FAILED", None, answer.payload.decode("utf-8", errors="replace")[:200]
    if operation.operation == "discover":
        try:
            links = formats.parse_link_format(answer.payload)
        except FormatError as problem:
            return "DONE", {"raw": answer.payload.hex()}, f"the answer could not be read: {problem}"
        # The attributes are what the device holds (Write-Attributes, dim): Anjay lists them, e.g.
        # </3303/0/5700>;pmin=5;pmax=60;st=0.5, so keep them beside each path, as the device wrote them.
        return "DONE", [{"path": link.pop("path"), "attributes": link} for link in links], ""
    if operation.operation == "read":
        product = operation.device.product
        own = (product.lwm2m_mapping or {}).get("definitions") if product is not None else None
        try:
            values = lwm2m_values.read_values(answer.opt.content_format, answer.payload, operation.path, own)
        except FormatError as problem:
            return "DONE", {"raw": answer.payload.hex()}, f"the answer could not be read: {problem}"
        shown = {lwm2m_values.path_text(path): _json(value) for path, value in values.items()}
        return "DONE", shown, ""
    return "DONE", None, ""


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


async def run(worker: IngressWorker, message: dict[str, Any]) -> None:
    """The worker's side: one confirmable request to the device, its answer stored and logged."""
    from ingress import sessions
    from ingress.lwm2m_observe import query
    from ingress.worker import PlatformTuning, _retrieve

    operation = await worker.run_misc(_load, int(message["operation"]))
    if operation is None or operation.status != ManagementOperation.Status.PENDING:
        return
    view = worker.views.get(operation.device_id) or await worker.run_misc(sessions.by_device, operation.device_id)
    if view is None:
        await worker.run_misc(_finish, operation.pk, "FAILED", detail="the device has no session")
        return
    path = tuple(part for part in operation.path.split("/") if part)
    request = Message(code=codes.GET, transport_tuning=PlatformTuning())
    if operation.operation == "discover":
        request.opt.accept = formats.LINK_FORMAT
    elif operation.operation == "write":
        own = (operation.device.product.lwm2m_mapping or {}).get("definitions") if operation.device.product else None
        resource = lwm2m_objects.definition(int(path[0]), dict(own or {}))["resources"][path[2]]
        request.code = codes.PUT
        request.opt.content_format, request.payload = encode_value(resource, operation.value)
    elif operation.operation == "write_attributes":
        request.code = codes.PUT
        request.opt.uri_query = query(operation.value)
    elif operation.operation == "execute":
        request.code = codes.POST
        request.payload = (operation.value or "").encode()
    request.opt.uri_path = path
    request.remote = worker.remote(view)
    if request.remote is None:
        await worker.run_misc(_finish, operation.pk, "FAILED", detail="no DTLS session with the device")
        return
    pending = worker.context.request(request).response
    pending.add_done_callback(_retrieve)
    try:
        answer = await asyncio.wait_for(asyncio.shield(pending), request.transport_tuning.MAX_TRANSMIT_WAIT + 1)
    except TimeoutError:
        await worker.run_misc(_finish, operation.pk, "FAILED", detail="no answer")
        return
    except aiocoap_error.Error as problem:
        await worker.run_misc(_finish, operation.pk, "FAILED", detail=str(problem) or type(problem).__name__)
        return
    status, result, detail = _answer(operation, answer)
    await worker.run_misc(_finish, operation.pk, status, code=str(answer.code.dotted), result=result, detail=detail)


def body(operation: ManagementOperation) -> dict[str, Any]:
    """The operation as the API shows it."""
    from applications.formats import format_time

    return {
        "operationId": str(operation.operation_id),
        "operation": operation.operation,
        "path": operation.path,
        "value": operation.value,
        "status": operation.status,
        "code": operation.code or None,
        "result": operation.result,
        "detail": operation.detail or None,
        "createdAt": format_time(operation.created_at),
        "completedAt": format_time(operation.completed_at) if operation.completed_at else None,
    }


def do_set_bootstrap(device: Device, enabled: bool) -> None:
    """Let the bootstrap server (ingress.lwm2m_bootstrap) provision the device, or stop it; logged."""
    from ingress.models import BootstrapDevice

    if enabled:
        if not device.psk:
            raise OperationInvalid("enabled", "the device needs a psk: bootstrap writes it into the device")
        BootstrapDevice.objects.get_or_create(device=device)
    else:
        BootstrapDevice.objects.filter(device=device).delete()
    logs.log(device, LogKind.INFO, f"LwM2M bootstrap {'enabled' if enabled else 'disabled'}")


async def send_mapped(worker: IngressWorker, view: Any, message: dict[str, Any]) -> None:
    """A command mapped to a standard resource (commands.transport): PUT (Write) or POST (Execute) there;
    the outcome is reported like any downlink's, and a 2.xx answer completes the command as a deviceRsp
    with its mid and errcode 0 would (the device's refusal fails it through the outcome)."""
    from devices import hooks
    from ingress import threads

    method = codes.POST if message.get("method") == "execute" else codes.PUT
    path = tuple(part for part in message["path"].split("/") if part)
    payload = bytes.fromhex(message["payload"])
    outcome, code, detail = await worker._send_once(
        view,
        method,
        path,
        message.get("content_format") or formats.TEXT,
        payload,
        confirmable=message.get("confirmable", True),
        max_retransmit=message.get("max_retransmit"),
    )
    request_id = message.get("request_id")
    summary = f"downlink {request_id} to {message['path']}: {outcome}" + (f" ({detail})" if detail else "")
    report = hooks.DownlinkOutcome(request_id, view.device_pk, outcome, code, detail) if request_id else None
    await worker.run_misc(threads.after_downlink, view.device_pk, summary, payload, report)
    if outcome == "acked" and message.get("mid") is not None:
        answer = {"msgType": "deviceRsp", "mid": message["mid"], "errcode": 0, "body": {"code": code}}
        await worker.run_misc(hooks.response_received, view.device_pk, answer)
