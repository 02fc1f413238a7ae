"""The Developer Center's device simulator: send a payload as a registered device, through the real
ingress over loopback CoAP, and see what the pipeline made of it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from applications.models import Application
from devices.models import Device, DeviceLog
from ingress.forms import SimulatorForm
from ingress.simulator import try_uplink
from products.lwm2m_mapping import MappingInvalid


@login_required
def simulator(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: register as the device, send the uplink, show the outcome."""
    devices = Device.objects.filter(application__in=Application.objects.editable_by(request.user))
    form = SimulatorForm(request.POST or None, initial={"node_id": request.GET.get("node_id", "")})
    context = {"form": form, "choices": devices.order_by("node_id").values_list("node_id", flat=True)[:200]}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        device = devices.select_related("product").filter(node_id=data["node_id"]).first()
        if device is None:
            form.add_error("node_id", _("No device with this nodeId that you may send as."))
        else:
            started = timezone.now()
            began = time.monotonic()
            trial = asyncio.run(
                try_uplink(
                    device.node_id,
                    settings.COAP_PORT,
                    data["payload"],
                    host=settings.INGRESS_SIMULATOR_HOST,
                    confirmable=data["confirmable"],
                    wait=data["wait"],
                    client=data["client"] or "huawei",
                )
            )
            logs = DeviceLog.objects.filter(device=device, created_at__gte=started).order_by("id")
            context.update(
                device=device,
                trial=trial,
                seconds=time.monotonic() - began,
                sent=data["payload"].hex().upper(),
                logs=list(logs),
                downlinks=[(item.path, item.payload.hex().upper()) for item in trial.downlinks],
            )
    return render(request, "ingress/simulator.html", context)


# The device page's one-click management operations (docs/lwm2m-objects.md): Execute on these resources.
DEVICE_ACTIONS = {"reboot": "/3/0/4", "factory-reset": "/3/0/5"}


@login_required
@require_POST
def lwm2m_execute(request: HttpRequest, device_id: str, action: str) -> HttpResponse:
    """Reboot (/3/0/4) or factory reset (/3/0/5) an LwM2M device, for those who change its application's
    devices; the page asked for confirmation first (data-confirm). Logged on the device like the API's."""
    from ingress import lwm2m_management

    path = DEVICE_ACTIONS.get(action)
    visible = Device.objects.filter(application__in=Application.objects.visible_to(request.user))
    device = get_object_or_404(visible.select_related("product"), device_id=device_id)
    if path is None:
        raise Http404
    if not Application.objects.editable_by(request.user).filter(pk=device.application_id).exists():
        return HttpResponseForbidden(_("Only owners, developers and operators manage devices."))
    try:
        fields = lwm2m_management.check_operation(device, {"operation": "execute", "path": path})
    except lwm2m_management.OperationInvalid as problem:
        messages.error(request, str(problem))
        return redirect("devices:detail", device_id=device.device_id)
    operation = lwm2m_management.do_request_operation(device, fields)
    if operation.status == operation.Status.FAILED:
        messages.error(request, _("Not sent: %(detail)s") % {"detail": operation.detail})
    elif operation.detail:
        messages.success(request, _("Held until the device wakes (queue mode): %(path)s") % {"path": path})
    else:
        messages.success(
            request, _("Sent to the device: %(path)s; its answer appears in the device log.") % {"path": path}
        )
    return redirect("devices:detail", device_id=device.device_id)


def _managed_device(request: HttpRequest, device_id: str) -> Device | HttpResponse:
    visible = Device.objects.filter(application__in=Application.objects.visible_to(request.user))
    device = get_object_or_404(visible.select_related("product"), device_id=device_id)
    if not Application.objects.editable_by(request.user).filter(pk=device.application_id).exists():
        return HttpResponseForbidden(_("Only owners, developers and operators manage devices."))
    return device


def _values(operation: str, text: str) -> list[Any]:
    """What the form's value field may mean, in the order tried: none; an Execute's argument as typed;
    attributes as `pmin=60&st=2` or JSON; a Write's value as JSON where the resource takes it (42, true,
    1.5), else as typed (a String's "42")."""
    if not text:
        return [None]
    if operation == "execute":
        return [text]
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if operation == "write_attributes" and not isinstance(parsed, dict):
        parsed = {name: _number(value) for name, value in parse_qsl(text, keep_blank_values=True)} or text
    return [parsed, text] if parsed is not None and parsed != text else [text]


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@login_required
@require_POST
def lwm2m_operate(request: HttpRequest, device_id: str) -> HttpResponse:
    """The device page's management form: Read, Write, Write-Attributes, Execute or Discover any path
    (ingress.lwm2m_management, the action `POST /api/v1/devices/{id}/lwm2m` calls). Answers the
    operation's panel (htmx; it polls until the device answers) or its page; a refusal names the field."""
    device = _managed_device(request, device_id)
    if isinstance(device, HttpResponse):
        return device
    from ingress import lwm2m_management

    form = {name: request.POST.get(name, "").strip() for name in ("operation", "path", "value")}
    refusal = None
    for value in _values(form["operation"], form["value"]):
        try:
            fields = lwm2m_management.check_operation(
                device, {"operation": form["operation"], "path": form["path"], "value": value}
            )
        except (lwm2m_management.OperationInvalid, MappingInvalid) as problem:  # as the API catches them
            refusal = refusal or problem
        else:
            break
    else:
        context = {"device": device, "refusal": refusal, "form": form}
        if request.htmx:  # htmx swaps 2xx answers only: the refusal is the panel's content
            return render(request, "ingress/partials/lwm2m_operation.html", context)
        return render(request, "ingress/lwm2m_operation.html", context, status=400)
    operation = lwm2m_management.do_request_operation(device, fields)
    if request.htmx:
        return render(request, "ingress/partials/lwm2m_operation.html", {"device": device, "operation": operation})
    return redirect("ingress:lwm2m-operation", device_id=device.device_id, operation_id=operation.operation_id)


@login_required
def lwm2m_operation(request: HttpRequest, device_id: str, operation_id: str) -> HttpResponse:
    """One management operation and the device's answer, for those who see the device."""
    from ingress.models import ManagementOperation

    visible = Device.objects.filter(application__in=Application.objects.visible_to(request.user))
    device = get_object_or_404(visible, device_id=device_id)
    try:
        operation = get_object_or_404(ManagementOperation, device=device, operation_id=uuid.UUID(operation_id))
    except ValueError:
        raise Http404 from None
    template = "ingress/partials/lwm2m_operation.html" if request.htmx else "ingress/lwm2m_operation.html"
    return render(request, template, {"device": device, "operation": operation})
