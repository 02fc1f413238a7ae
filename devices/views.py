"""Portal pages of the Management Portal's devices area."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
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
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from applications.errors import NorthboundError
from applications.models import Application
from applications.picking import picker_applications, picker_text, render_options, select_choices
from devices import actions, bulk, charts, gateways, last_seen, listing, replay
from devices.forms import (
    BulkUploadForm,
    EditForm,
    FilterForm,
    GroupEditForm,
    GroupForm,
    RegisterForm,
    node_id_taken,
    quota_reached,
)
from devices.models import (
    BulkRegistration,
    Device,
    DeviceGroup,
    DeviceLog,
    DeviceTag,
    ProductSecret,
)
from devices.querysets import pick_devices
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
    """Filters, a total, sorts and keyset paging that stay fast at a million devices (devices.listing).

    A member's devices are filtered by the ids of their applications, not by a subquery over
    memberships: with the subquery the planner walks every application's newest devices (device_recent)
    and filters them, a million rows for a small application beside a big one (260 ms); with the ids it
    reads that application's own index range (0.2 ms). docs/performance.md, Devices.
    """
    filters = FilterForm(request.GET or None)
    applications = list(Application.objects.visible_to(request.user))  # the application filter lists them too
    data = filters.cleaned_data if filters.is_valid() else {}
    sort = data.get("sort") or listing.DEFAULT_SORT
    devices = listing.filtered(listed_devices(request.user, applications), data)
    cursor = request.GET.get("after", "")
    page, next_cursor = listing.page(devices, sort, cursor, PAGE)
    last_seen.attach(page)  # one HMGET for the page's pending last-seen times
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "devices": page,
        "filters": filters,
        "applications": applications,
        "total": listing.total(devices, data, applications),
        "sort": sort,
        "sorts": [(name, label) for name, (label, _columns) in listing.SORTS.items()],
        "next_cursor": next_cursor,
        "query": query.urlencode(),
        "paged": bool(cursor),
    }
    if not request.htmx:  # the filters' choices, for the full page only
        visible = [application.pk for application in applications]
        products = Product.objects.filter(application_id__in=visible)
        # Many products: a picker (applications.picking.fits_a_select, the forms' rule; the application
        # filter follows it in the template tag application_filter).
        context["products"] = select_choices(products.order_by("device_type", "model"))
        if context["products"] is None:
            context["product_picker"] = True
            context["chosen_product"] = _chosen_product(products, data.get("product") or "")
        context["groups"] = DeviceGroup.objects.filter(application_id__in=visible).order_by("name")[:500]
        tags = DeviceTag.objects.filter(application_id__in=visible).order_by("name")
        context["tags"] = tags.values_list("name", flat=True).distinct()[:500]
    template = "devices/partials/table.html" if request.htmx else "devices/list.html"
    return render(request, template, context)


def _chosen_product(products, product_id: str) -> Product | None:
    """The filter's product, to show its label in the picker (None for none or a mistyped id)."""
    try:
        return products.filter(product_id=uuid.UUID(product_id)).first() if product_id else None
    except ValueError:
        return None


@login_required
def device_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered list as CSV, every row (not one page), streamed in the list's order."""
    filters = FilterForm(request.GET or None)
    applications = list(Application.objects.visible_to(request.user))
    data = filters.cleaned_data if filters.is_valid() else {}
    devices = listing.filtered(listed_devices(request.user, applications), data)
    response = StreamingHttpResponse(
        bulk.csv_text(listing.csv_lines(devices, data.get("sort") or listing.DEFAULT_SORT)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="devices.csv"'
    return response


@login_required
def device_pick(request: HttpRequest) -> HttpResponse:
    """A picker's options: the first devices whose nodeId, deviceId or name starts with `q`, of the
    account's applications (those it may change with `editable=1`), or of the one named by `application`."""
    text = picker_text(request)
    application_ids = list(picker_applications(request).order_by("pk").values_list("pk", flat=True))
    options = [
        {"value": device.device_id, "label": device.node_id, "code": device.node_id, "detail": device.name,
         "muted": device.application.name}
        for device in pick_devices(application_ids, text)
    ]  # fmt: skip
    return render_options(
        request,
        options,
        text,
        empty=_("No device's nodeId, deviceId or name starts with “%(text)s”.") % {"text": text},
        hint=_("Type the start of a nodeId, deviceId or name."),
    )


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
        "tags": ", ".join(device.tags.order_by("name").values_list("name", flat=True)),
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
        with transaction.atomic():
            actions.do_modify_device(device, changes)
            actions.do_set_device_tags(device, data["tags"])
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

    groups = (
        DeviceGroup.objects.filter(application__in=Application.objects.visible_to(request.user))
        .select_related("application")
        .annotate(members=Count("devices"))
        .order_by("application__name", "name")
    )
    return render(request, "devices/groups.html", {"groups": groups, "form": form})


def _group(request: HttpRequest, group_id: str, *, editable: bool) -> DeviceGroup:
    applications = (Application.objects.editable_by if editable else Application.objects.visible_to)(request.user)
    groups = DeviceGroup.objects.filter(application__in=applications).select_related("application")
    return get_object_or_404(groups, dev_group_id=group_id)


GROUP_MEMBERS_SHOWN = 100


@login_required
def group_detail(request: HttpRequest, group_id: str) -> HttpResponse:
    """One group: rename it or change its limit, add devices (picked, or nodeIds pasted), remove them,
    delete it; the northbound group operations' own actions do each change."""
    group = _group(request, group_id, editable=False)
    can_edit = Application.objects.editable_by(request.user).filter(pk=group.application_id).exists()
    initial = {"name": group.name, "description": group.description, "max_devices": group.max_devices}
    form = GroupEditForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not can_edit:
            return HttpResponseForbidden(_("Only owners, developers and operators change groups."))
        if form.is_valid():
            try:
                actions.do_modify_group(group, form.cleaned_data)
            except NorthboundError:
                form.add_error("name", _("Another group of this application is called %(name)s.") % form.cleaned_data)
            else:
                messages.success(request, _("Group saved."))
                return redirect("devices:group", group_id=group.dev_group_id)
    members = group.devices.order_by("node_id").only("device_id", "node_id", "name", "status")
    context = {
        "group": group,
        "form": form,
        "can_edit": can_edit,
        # its membership rows (an index-only count), not a join through the devices
        "member_count": DeviceGroup.devices.through.objects.filter(devicegroup_id=group.pk).count(),
        "members": members[:GROUP_MEMBERS_SHOWN],
        "shown": GROUP_MEMBERS_SHOWN,
    }
    return render(request, "devices/group.html", context)


@login_required
@require_POST
def group_delete(request: HttpRequest, group_id: str) -> HttpResponse:
    group = _group(request, group_id, editable=True)
    actions.do_delete_group(group)
    messages.success(request, _("Group %(name)s deleted; its devices stay.") % {"name": group.name})
    return redirect("devices:groups")


@login_required
@require_POST
def group_members(request: HttpRequest, group_id: str) -> HttpResponse:
    """Add or remove devices by nodeId (one per line, as pasted or picked)."""
    group = _group(request, group_id, editable=True)
    node_ids = list(dict.fromkeys(line.strip() for line in request.POST.get("node_ids", "").split() if line.strip()))
    found = dict(
        Device.objects.filter(application=group.application_id, node_id__in=node_ids).values_list(
            "node_id", "device_id"
        )
    )
    if request.POST.get("action") == "remove":
        removed = actions.do_remove_from_group(group, found.values())
        if removed:
            message = ngettext(
                "%(count)s device removed from the group.", "%(count)s devices removed from the group.", len(removed)
            )
            messages.success(request, message % {"count": len(removed)})
    elif found:
        try:
            added = actions.do_add_to_group(group, found.values())
        except NorthboundError as error:
            if error.error_code == "100601":
                message = _("The group holds at most %(most)s devices: these would make it %(count)s.")
                messages.error(
                    request, message % {"most": group.max_devices, "count": group.devices.count() + len(found)}
                )
            else:
                messages.error(request, error.error_desc)
        else:
            message = ngettext(
                "%(count)s device added to the group.", "%(count)s devices added to the group.", len(added)
            )
            messages.success(request, message % {"count": len(added)})
    missing = [node_id for node_id in node_ids if node_id not in found]
    if missing:
        messages.error(request, _("Not devices of this application: %(ids)s") % {"ids": ", ".join(sorted(missing))})
    if request.POST.get("next") == "groups":
        return redirect("devices:groups")
    return redirect("devices:group", group_id=group.dev_group_id)


@login_required
def tag_list(request: HttpRequest) -> HttpResponse:
    """The tags of the visible applications with their device counts; rename one (POST tag, name)."""
    tags = DeviceTag.objects.filter(application__in=Application.objects.visible_to(request.user))
    editable = set(Application.objects.editable_by(request.user).values_list("pk", flat=True))
    if request.method == "POST":
        tag = get_object_or_404(tags.filter(application_id__in=editable), pk=request.POST.get("tag", "0"))
        name = request.POST.get("name", "").strip()
        if not name or len(name) > 64:
            messages.error(request, _("A tag's name is 1 to 64 characters."))
        elif not actions.do_rename_tag(tag, name):
            messages.error(request, _("Another tag of this application is called %(name)s.") % {"name": name})
        else:
            messages.success(request, _("Tag renamed."))
        return redirect("devices:tags")
    rows = tags.select_related("application").annotate(members=Count("devices")).order_by("application__name", "name")
    return render(request, "devices/tags.html", {"tags": rows, "editable": editable})


@login_required
@require_POST
def tag_delete(request: HttpRequest, tag_id: int) -> HttpResponse:
    tags = DeviceTag.objects.filter(application__in=Application.objects.editable_by(request.user))
    tag = get_object_or_404(tags, pk=tag_id)
    actions.do_delete_tag(tag)
    messages.success(request, _("Tag %(name)s deleted; its devices stay.") % {"name": tag.name})
    return redirect("devices:tags")


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
