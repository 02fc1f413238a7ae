"""Portal pages of the Management Portal's devices area."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from applications.errors import NorthboundError
from applications.models import Application
from devices import actions, bulk, charts, gateways, last_seen, replay
from devices.forms import (
    NOT_ACTIVATED,
    BulkUploadForm,
    EditForm,
    FilterForm,
    GroupForm,
    RegisterForm,
    node_id_taken,
    quota_reached,
)
from devices.models import BulkRegistration, Device, DeviceGroup, DeviceLog, ProductSecret
from products.models import Product

PAGE = 50
SUB_DEVICES_SHOWN = 500


def _visible_devices(request: HttpRequest):
    return Device.objects.filter(application__in=Application.objects.visible_to(request.user))


def _device(request: HttpRequest, device_id: str) -> Device:
    return get_object_or_404(
        _visible_devices(request).select_related("application", "product", "gateway"), device_id=device_id
    )


def _can_edit(request: HttpRequest, device: Device) -> bool:
    return Application.objects.editable_by(request.user).filter(pk=device.application_id).exists()


def listed_devices(user, applications: list[Application]):
    """The devices the list shows an account: all for operators, else those of its applications, by id."""
    devices = Device.objects.select_related("application", "product")
    if user.is_staff:
        return devices
    return devices.filter(application_id__in=[application.pk for application in applications])


@login_required
def device_list(request: HttpRequest) -> HttpResponse:
    """Keyset paging on (created_at, id): the page after the cursor, fast at any depth.

    A member's devices are filtered by the ids of their applications, not by a subquery over
    memberships: with the subquery the planner walks every application's newest devices (device_recent)
    and filters them, a million rows for a small application beside a big one (260 ms); with the ids it
    reads that application's own index range (0.2 ms). docs/performance.md, Devices.
    """
    filters = FilterForm(request.GET or None)
    applications = list(Application.objects.visible_to(request.user))  # the application filter lists them too
    devices = listed_devices(request.user, applications)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            devices = devices.filter(node_id__startswith=data["q"]) | devices.filter(name__icontains=data["q"])
        if data["status"] == NOT_ACTIVATED:
            devices = devices.filter(activated=False)
        elif data["status"]:
            devices = devices.filter(status=data["status"])
        if data["application"]:
            devices = devices.filter(application__app_id=data["application"])
        if data["product"]:
            try:
                devices = devices.filter(product__product_id=uuid.UUID(data["product"]))
            except ValueError:  # a mistyped link: no product has that id, and no 500 either
                devices = devices.none()
        if data["group"]:
            devices = devices.filter(groups__dev_group_id=data["group"])
    after = request.GET.get("after", "")
    if "|" in after:
        stamp, _, pk = after.partition("|")
        when = parse_datetime(stamp)
        if when is not None and pk.isdigit():
            devices = devices.filter(created_at__lt=when) | devices.filter(created_at=when, pk__lt=int(pk))
    page = list(devices.order_by("-created_at", "-id")[: PAGE + 1])
    has_next = len(page) > PAGE
    page = page[:PAGE]
    last_seen.attach(page)  # one HMGET for the page's pending last-seen times
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "devices": page,
        "filters": filters,
        "applications": applications,
        "next_cursor": f"{page[-1].created_at.isoformat()}|{page[-1].pk}" if has_next else "",
        "query": query.urlencode(),
        "paged": bool(after),
    }
    if not request.htmx:  # the filters' choices, for the full page only
        visible = [application.pk for application in applications]
        context["products"] = Product.objects.filter(application_id__in=visible).order_by("device_type", "model")[:500]
        context["groups"] = DeviceGroup.objects.filter(application_id__in=visible).order_by("name")[:500]
    template = "devices/partials/table.html" if request.htmx else "devices/list.html"
    return render(request, template, context)


@login_required
def device_detail(request: HttpRequest, device_id: str) -> HttpResponse:
    device = _device(request, device_id)
    # A gateway lists the devices behind it with their latest data (devices.gateways).
    sub_devices = gateways.sub_device_rows(device, limit=SUB_DEVICES_SHOWN)
    last_seen.attach([device, *sub_devices])  # exact to the second: the pending time if newer (one HMGET)
    return render(
        request,
        "devices/detail.html",
        {
            "device": device,
            "can_edit": _can_edit(request, device),
            "logs": DeviceLog.objects.filter(device=device).order_by("-created_at", "-id")[:100],
            "groups": device.groups.all(),
            "ranges": list(charts.RANGES),
            "sub_devices": sub_devices,
            "sub_device_count": Device.objects.filter(gateway=device).count(),
        },
    )


@login_required
def device_live(request: HttpRequest, device_id: str) -> HttpResponse:
    """The device page's live parts (status, last seen, latest data, desired against reported, location),
    fetched again by the page when its websocket says the device changed (devices.live)."""
    device = _device(request, device_id)
    last_seen.attach([device])
    return render(request, "devices/partials/live.html", {"device": device})


def _history(request: HttpRequest, device_id: str):
    device = _device(request, device_id)
    try:
        name, start, end = charts.parse_range(request.GET, timezone.now())
    except charts.RangeError as error:
        return device, None, JsonResponse({"field": error.field, "error": f"{error.field} {error}"}, status=400)
    width, series = charts.history_series(device, start, end)
    return device, (name, start, end, width, series), None


@login_required
def device_history(request: HttpRequest, device_id: str) -> HttpResponse:
    """The chart's data: one downsampled series per numeric property over the range (devices.charts)."""
    _, found, refused = _history(request, device_id)
    if refused is not None:
        return refused
    return JsonResponse(charts.as_json(*found))


@login_required
def device_history_csv(request: HttpRequest, device_id: str) -> HttpResponse:
    """The chart's data as CSV: the same points, one row each."""
    device, found, refused = _history(request, device_id)
    if refused is not None:
        return refused
    _, start, end, _, series = found
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(charts.CSV_HEADER)
    writer.writerows(charts.csv_rows(series))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = f"{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{end.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    response["Content-Disposition"] = f'attachment; filename="{device.node_id}-{stamp}.csv"'
    return response


@login_required
def device_register(request: HttpRequest) -> HttpResponse:
    applications = Application.objects.editable_by(request.user)
    form = RegisterForm(request.POST or None, applications=applications)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        product = data["product"]
        info = {"name": data["name"]}
        if product is not None:
            info.update(manufacturerId=product.manufacturer_id, deviceType=product.device_type, model=product.model,
                        manufacturerName=product.manufacturer_name, protocolType=product.protocol_type)  # fmt: skip
        try:
            registered = actions.do_register_device(
                data["application"], node_id=data["node_id"], psk=data["psk"] or None, timeout=data["timeout"] or 0,
                is_secure=data["is_secure"], info=info,
            )  # fmt: skip
        except NorthboundError as error:  # a race past the form's checks: the same plain words
            if error.error_code == "100416":
                form.add_error("node_id", node_id_taken(data["node_id"]))
            elif error.error_code == "100412":
                form.add_error("application", quota_reached(data["application"]))
            else:
                form.add_error("psk" if "psk" in error.error_desc else "node_id", error.error_desc)
        else:
            return render(request, "devices/registered.html", {"device": registered.device, "psk": registered.psk})
    return render(request, "devices/register.html", {"form": form})


@login_required
def device_edit(request: HttpRequest, device_id: str) -> HttpResponse:
    device = _device(request, device_id)
    if not _can_edit(request, device):
        return HttpResponseForbidden(_("Only owners, developers and operators change devices."))
    initial = {
        "name": device.name,
        "product": device.product.product_id if device.product else None,
        "location": device.location,
        "mute": device.mute,
        "data_aging_days": device.data_aging_days,
    }
    form = EditForm(request.POST or None, initial=initial, application=device.application)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {
            "name": data["name"],
            "location": data["location"],
            "mute": data["mute"],
            "data_aging_days": data["data_aging_days"],
        }
        product = data["product"]
        changes.update(
            manufacturer_id=product.manufacturer_id if product else "",
            device_type=product.device_type if product else "",
            model=product.model if product else "",
            manufacturer_name=product.manufacturer_name if product else device.manufacturer_name,
        )
        actions.do_modify_device(device, changes)
        messages.success(request, _("Device saved."))
        return redirect("devices:detail", device_id=device.device_id)
    return render(request, "devices/edit.html", {"form": form, "device": device})


@login_required
@require_POST
def device_delete(request: HttpRequest, device_id: str) -> HttpResponse:
    device = _device(request, device_id)
    if not _can_edit(request, device):
        return HttpResponseForbidden(_("Only owners, developers and operators delete devices."))
    try:
        actions.do_delete_device(device, cascade=request.POST.get("cascade") == "on")
    except NorthboundError as error:
        messages.error(request, error.error_desc)
        return redirect("devices:detail", device_id=device.device_id)
    messages.success(request, _("Device %(node)s deleted.") % {"node": device.node_id})
    return redirect("devices:list")


@login_required
def codec_replay(request: HttpRequest, product_id: str, number: int) -> HttpResponse:
    """What codec version `number` would decode differently from the active one, on stored uplinks."""
    from products.models import CodecVersion, Product

    product = get_object_or_404(Product.objects.visible_to(request.user), product_id=product_id)
    version = get_object_or_404(CodecVersion, codec__product=product, number=number)
    limit = request.GET.get("limit", "200")
    rows = replay.replay(product, number, limit=min(int(limit), 1000) if limit.isdigit() else 200)
    if request.GET.get("save") == "vectors":
        # "Save as vectors": the stored uplinks this version decodes, as its plugin's vectors.json.
        body = json.dumps(replay.as_vectors(product, number, rows), indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="vectors.json"'
        return response
    return render(
        request,
        "devices/replay.html",
        {"product": product, "version": version, "rows": rows, "counts": replay.summary(rows)},
    )


@login_required
def product_secret(request: HttpRequest, product_id: str) -> HttpResponse:
    """The product's MQTT secret for the dynamic connection: generated here and shown once."""
    product = get_object_or_404(Product.objects.visible_to(request.user), product_id=product_id)
    can_edit = Product.objects.changeable_by(request.user).filter(pk=product.pk).exists()
    secret = ""
    if request.method == "POST":
        if not can_edit:
            return HttpResponseForbidden(_("You may not change this product."))
        secret = actions.do_set_product_secret(product)
    current = ProductSecret.objects.filter(product=product).only("set_at").first()
    context = {"product": product, "secret": secret, "current": current, "can_edit": can_edit}
    return render(request, "devices/product_secret.html", context)


@login_required
def group_list(request: HttpRequest) -> HttpResponse:
    editable = Application.objects.editable_by(request.user)
    form = GroupForm(request.POST or None, applications=editable)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_create_group(
                data["application"],
                data["name"],
                data["description"],
                data["max_devices"],
                [],
                creator=request.user.get_username(),
            )
        except NorthboundError as error:
            form.add_error("name", error.error_desc)
        else:
            messages.success(request, _("Group created."))
            return redirect("devices:groups")
    from django.db.models import Count

    groups = (
        DeviceGroup.objects.filter(application__in=Application.objects.visible_to(request.user))
        .select_related("application")
        .annotate(members=Count("devices"))
        .order_by("application__name", "name")
    )
    return render(request, "devices/groups.html", {"groups": groups, "form": form})


@login_required
@require_POST
def group_members(request: HttpRequest, group_id: str) -> HttpResponse:
    group = get_object_or_404(
        DeviceGroup.objects.filter(application__in=Application.objects.editable_by(request.user)), dev_group_id=group_id
    )
    node_ids = [line.strip() for line in request.POST.get("node_ids", "").split() if line.strip()]
    devices = Device.objects.filter(application=group.application_id, node_id__in=node_ids)
    if request.POST.get("action") == "remove":
        group.devices.remove(*devices)
    else:
        try:
            actions.do_add_to_group(group, [device.device_id for device in devices])
        except NorthboundError as error:
            messages.error(request, error.error_desc)
    missing = set(node_ids) - {device.node_id for device in devices}
    if missing:
        messages.error(request, _("Not devices of this application: %(ids)s") % {"ids": ", ".join(sorted(missing))})
    return redirect("devices:groups")


# --- Bulk registration (F-4.4) -----------------------------------------------------------------

PROBLEMS_SHOWN = 200


def _bulk_job(request: HttpRequest, job_id: str) -> BulkRegistration:
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        raise Http404 from None
    jobs = BulkRegistration.objects.filter(application__in=Application.objects.visible_to(request.user))
    return get_object_or_404(jobs.select_related("application", "created_by"), job_id=key)


def _can_edit_job(request: HttpRequest, job: BulkRegistration) -> bool:
    return Application.objects.editable_by(request.user).filter(pk=job.application_id).exists()


@login_required
def bulk_list(request: HttpRequest) -> HttpResponse:
    """Upload a file (checked in full: a dry run), and the bulk registrations of the visible applications."""
    editable = Application.objects.editable_by(request.user)
    form = BulkUploadForm(request.POST or None, request.FILES or None, applications=editable)
    file_problems: list[bulk.Problem] = []
    if request.method == "POST":
        if not editable.exists():
            return HttpResponseForbidden(_("Only owners, developers and operators register devices."))
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = bulk.do_create_bulk_registration(
                    form.cleaned_data["application"], upload.name, bulk.read_upload(upload, upload.size),
                    mode=form.cleaned_data["mode"], dry_run=True, created_by=request.user,
                )  # fmt: skip
            except bulk.BulkFileInvalid as error:
                file_problems = error.problems
            else:
                return redirect("devices:bulk-detail", job_id=job.job_id)
    jobs = (
        BulkRegistration.objects.filter(application__in=Application.objects.visible_to(request.user))
        .select_related("application", "created_by")
        .order_by("-created_at", "-id")[:50]
    )
    context = {"form": form, "can_upload": editable.exists(), "jobs": jobs, "file_problems": file_problems}
    return render(request, "devices/bulk.html", context)


def _progress_context(request: HttpRequest, job: BulkRegistration) -> dict:
    processed = bulk.processed_rows(job)
    return {
        "job": job,
        "processed": processed,
        "percent": job.percent(processed),
        "can_edit": _can_edit_job(request, job),
    }


@login_required
def bulk_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _bulk_job(request, job_id)
    problems, problem_rows = bulk.problems_of(job, PROBLEMS_SHOWN)
    context = {
        **_progress_context(request, job),
        "problems": problems,
        "problem_rows": problem_rows,
        "more_problems": max(0, problem_rows - PROBLEMS_SHOWN),
    }
    return render(request, "devices/bulk_detail.html", context)


@login_required
def bulk_progress(request: HttpRequest, job_id: str) -> HttpResponse:
    """The job's state and progress bar: htmx polls it while the job runs."""
    job = _bulk_job(request, job_id)
    return render(request, "devices/partials/bulk_progress.html", _progress_context(request, job))


@login_required
@require_POST
def bulk_start(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _bulk_job(request, job_id)
    if not _can_edit_job(request, job):
        return HttpResponseForbidden(_("Only owners, developers and operators register devices."))
    try:
        bulk.do_start_bulk_registration(job)
    except bulk.BulkNotStartable:
        messages.error(request, _("This file cannot be registered: it has bad rows, or has run already."))
    return redirect("devices:bulk-detail", job_id=job.job_id)


@login_required
def bulk_report(request: HttpRequest, job_id: str) -> StreamingHttpResponse:
    """Every row's outcome as CSV; generated psks only for those who may change the devices."""
    job = _bulk_job(request, job_id)
    response = StreamingHttpResponse(
        bulk.report_csv(job, with_psk=_can_edit_job(request, job)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{bulk.report_file_name(job)}"'
    return response


@login_required
def bulk_template(request: HttpRequest) -> HttpResponse:
    """A CSV to fill in: the header, and an example row naming a product the account may use."""
    product = (
        Product.objects.filter(application__in=Application.objects.editable_by(request.user))
        .order_by("device_type", "model")
        .first()
    )
    example = ["490154203237518", "", _("meter in the basement"), str(product.product_id) if product else "", "", "180"]
    lines = ["nodeId,verifyCode,name,product,psk,timeout", ",".join(f'"{cell}"' for cell in example)]
    response = HttpResponse("\ufeff" + "\r\n".join(lines) + "\r\n", content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="devices-template.csv"'
    return response
