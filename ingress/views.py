"""The Developer Center's device simulator: send a payload as a registered device, through the real
ingress over loopback CoAP, and see what the pipeline made of it."""

from __future__ import annotations

import asyncio
import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

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
