"""Portal pages: packages, upgrade tasks with live progress, each device's steps, controls."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from applications.errors import NorthboundError
from applications.models import Application
from devices.models import Device
from firmware import actions, errors
from firmware.forms import OperationForm, PackageForm
from firmware.models import Operation, OperationStatus, Package, SubOperation


def _visible_apps(request: HttpRequest):
    return Application.objects.visible_to(request.user)


@login_required
def package_list(request: HttpRequest) -> HttpResponse:
    editable = Application.objects.editable_by(request.user)
    form = PackageForm(request.POST or None, request.FILES or None, applications=editable)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        names = {
            "fileType": "file_type", "version": "version", "deviceType": "device_type",
            "manufacturerName": "manufacturer_name", "model": "model", "protocolType": "protocol_type",
            "sourceVersions": "source_versions", "description": "description",
        }  # fmt: skip
        fields = {api_name: data[form_name] for api_name, form_name in names.items()}
        try:
            actions.do_upload_package(data["application"], fields, upload.name, upload.read())
        except NorthboundError as error:
            form.add_error("file", error.error_desc)
        else:
            messages.success(request, _("Package uploaded."))
            return redirect("firmware:packages")
    packages = (
        Package.objects.filter(application__in=_visible_apps(request)).select_related("application").defer("data")
    )
    return render(request, "firmware/packages.html", {"packages": packages.order_by("-uploaded_at"), "form": form})


@login_required
def operation_list(request: HttpRequest) -> HttpResponse:
    editable = Application.objects.editable_by(request.user)
    form = OperationForm(request.POST or None, applications=editable)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        package = data["package"]
        targets = {
            "deviceType": package.device_type,
            "model": package.model,
            "manufacturerName": package.manufacturer_name,
        }
        if data["group"]:
            targets["deviceGroups"] = [data["group"].dev_group_id]
        node_ids = data["node_ids"].split()
        if node_ids:
            found = dict(
                Device.objects.filter(application=package.application, node_id__in=node_ids).values_list(
                    "node_id", "device_id"
                )
            )
            targets["devices"] = list(found.values())
            unknown = [node_id for node_id in dict.fromkeys(node_ids) if node_id not in found]
            if unknown:  # said, not dropped: the task would silently upgrade fewer devices than listed
                form.add_error("node_ids", unknown_targets(unknown, package.application))
        if form.errors:
            return _operation_list_page(request, form)
        body = {
            "fileId": package.file_id,
            "targets": targets,
            "policy": {
                "executeType": data["execute_type"],
                "retryType": bool(data["retry_times"]),
                "retryTimes": data["retry_times"],
            },
            "rollout": {
                "ratePerMinute": data["rate_per_minute"],
                "maxConcurrent": data["max_concurrent"],
                "abortFailureRatio": data["abort_failure_ratio"] / 100 if data["abort_failure_ratio"] else None,
            },
        }
        operate_type = "firmware_upgrade" if package.file_type == "firmwarePackage" else "software_upgrade"
        try:
            operation = actions.do_create_operation(package.application, body, operate_type)
        except NorthboundError as error:
            form.add_error(None, f"{error.error_desc} ({error.error_code})")
        else:
            return redirect("firmware:operation", operation_id=operation.operation_id)
    return _operation_list_page(request, form)


def unknown_targets(node_ids: list[str], application: Application) -> str:
    shown = ", ".join(node_ids[:20]) + (" …" if len(node_ids) > 20 else "")
    return ngettext(
        "No device with nodeId %(node_ids)s in %(application)s: correct or remove it.",
        "No devices with nodeIds %(node_ids)s in %(application)s: correct or remove them.",
        len(node_ids),
    ) % {"node_ids": shown, "application": application.name}


def _operation_list_page(request: HttpRequest, form: OperationForm) -> HttpResponse:
    operations = Operation.objects.filter(application__in=_visible_apps(request)).select_related(
        "package", "application"
    )
    rows = [(operation, actions.progress(operation)) for operation in operations.order_by("-created_at")[:50]]
    template = "firmware/partials/operations.html" if request.htmx else "firmware/operations.html"
    return render(request, template, {"rows": rows, "form": form})


@login_required
def operation_detail(request: HttpRequest, operation_id: str) -> HttpResponse:
    operation = get_object_or_404(
        Operation.objects.filter(application__in=_visible_apps(request)).select_related("package", "application"),
        operation_id=operation_id,
    )
    subs = (
        SubOperation.objects.filter(operation=operation)
        .select_related("device")
        .prefetch_related("steps")
        .order_by("id")
    )
    counts = actions.progress(operation)
    shown = list(subs[:500])
    for sub in shown:  # the fix beside the reason, in the words of firmware.errors
        sub.advice = errors.SUB_ERRORS.get(sub.error_code, ("", ""))[1] if sub.error_code else ""
    finished = operation.status in (OperationStatus.SUCCESS, OperationStatus.FAILED, OperationStatus.STOP)
    total = counts["total"] or 1
    context = {
        "operation": operation,
        "counts": counts,
        "finished": finished,
        "bar": {name: counts[name] * 100 / total for name in ("success", "fail", "stop")},
        "subs": shown,
        "can_edit": Application.objects.editable_by(request.user).filter(pk=operation.application_id).exists(),
    }
    template = "firmware/partials/operation_live.html" if request.htmx else "firmware/operation.html"
    return render(request, template, context)


@login_required
@require_POST
def operation_control(request: HttpRequest, operation_id: str, control: str) -> HttpResponse:
    operation = get_object_or_404(
        Operation.objects.filter(application__in=Application.objects.editable_by(request.user)),
        operation_id=operation_id,
    )
    handler = {
        "retry": actions.do_retry_failed,
        "pause": actions.do_pause,
        "resume": actions.do_resume,
        "abort": actions.do_abort,
    }.get(control)
    if handler is None:
        return redirect("firmware:operation", operation_id=operation_id)
    handler(operation)
    return redirect("firmware:operation", operation_id=operation_id)
