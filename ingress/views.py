"""The Developer Center's device simulator: send a payload as a registered device, through the real
ingress over loopback CoAP, and see what the pipeline made of it."""

from __future__ import annotations

import asyncio
import time

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
