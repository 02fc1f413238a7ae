"""Portal pages: command history, the ledger and its explanation, the application simulator, batch tasks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from applications.errors import NorthboundError
from applications.models import Application
from commands import actions
from commands.explain import explain
from commands.forms import CommandForm, DeliveryPolicyForm, command_choices, para_definitions
from commands.models import BatchTask, Command, CommandStatus
from devices.models import Device
from products.models import Product


def _visible(request: HttpRequest):
    return Command.objects.filter(application__in=Application.objects.visible_to(request.user)).select_related(
        "application", "device"
    )


@login_required
def command_list(request: HttpRequest) -> HttpResponse:
    commands = _visible(request)
    status = request.GET.get("status", "")
    if status in CommandStatus.values:
        commands = commands.filter(status=status)
    if device := request.GET.get("device", "").strip():
        commands = commands.filter(device__node_id=device) | commands.filter(device__device_id=device)
    if application := request.GET.get("application", "").strip():  # the dashboard's tiles link here
        commands = commands.filter(application__app_id=application)
    page = Paginator(commands.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "device": device,
        "application": application,
        "statuses": CommandStatus.choices,
    }
    template = "commands/partials/table.html" if request.htmx else "commands/list.html"
    return render(request, template, context)


@login_required
def command_detail(request: HttpRequest, command_id: str) -> HttpResponse:
    command = get_object_or_404(_visible(request), command_id=command_id)
    can_edit = Application.objects.editable_by(request.user).filter(pk=command.application_id).exists()
    context = {"command": command, "events": command.events.all(), "why": explain(command), "can_edit": can_edit}
    template = "commands/partials/ledger.html" if request.htmx else "commands/detail.html"
    return render(request, template, context)


@login_required
@require_POST
def command_cancel(request: HttpRequest, command_id: str) -> HttpResponse:
    command = get_object_or_404(
        Command.objects.filter(application__in=Application.objects.editable_by(request.user)).select_related(
            "application", "device"
        ),
        command_id=command_id,
    )
    try:
        actions.do_cancel(command)
    except NorthboundError as error:
        messages.error(request, error.error_desc)
    return redirect("commands:detail", command_id=command.command_id)


@login_required
def simulator(request: HttpRequest) -> HttpResponse:
    """Send a command from a form generated from the device's profile: no code needed to try a device."""
    devices = Device.objects.filter(application__in=Application.objects.editable_by(request.user)).select_related(
        "product", "application"
    )
    device = devices.filter(device_id=request.GET.get("device") or request.POST.get("device") or "").first()
    choices = command_choices(device.product) if device else []
    choice = request.GET.get("command") or request.POST.get("command") or (choices[0][0] if choices else "")
    form = None
    if device and choice in dict(choices):
        form = CommandForm(request.POST or None, paras=para_definitions(device.product, choice))
        if request.method == "POST" and form.is_valid():
            service_id, _sep, method = choice.partition("|")
            try:
                body = {"serviceId": service_id, "method": method, "paras": form.command_paras()}
                command = actions.do_create_command(
                    device.application, device, body, expire_time=form.cleaned_data["expire_time"]
                )
            except NorthboundError as error:
                form.add_error(None, f"{error.error_desc} ({error.error_code})")
            else:
                return redirect("commands:detail", command_id=command.command_id)
    context = {
        "device": device,
        "choices": choices,
        "choice": choice,
        "form": form,
    }
    template = "commands/partials/simulator_form.html" if request.htmx else "commands/simulator.html"
    return render(request, template, context)


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    tasks = list(
        BatchTask.objects.filter(application__in=Application.objects.visible_to(request.user))
        .select_related("application")
        .order_by("-created_at")[:100]
    )
    rows = []
    for task in tasks:
        counts = actions.batch_counts(task)
        rows.append((task, counts, task.total - counts["pending"]))
    template = "commands/partials/tasks.html" if request.htmx else "commands/tasks.html"
    return render(request, template, {"rows": rows})


def forbidden() -> HttpResponse:
    return HttpResponseForbidden(_("Only owners, developers and operators send commands."))


@login_required
def product_delivery(request: HttpRequest, product_id: str) -> HttpResponse:
    """A product's delivery policy: power mode (F-5.2) and how LwM2M downlinks reach /19/1/0."""
    product = get_object_or_404(Product.objects.visible_to(request.user), product_id=product_id)
    can_edit = Product.objects.changeable_by(request.user).filter(pk=product.pk).exists()
    return _delivery_page(request, can_edit, product=product)


@login_required
def device_delivery(request: HttpRequest, device_id: str) -> HttpResponse:
    """A device's own delivery policy, over its product's."""
    visible = Device.objects.filter(application__in=Application.objects.visible_to(request.user))
    device = get_object_or_404(visible.select_related("product", "application"), device_id=device_id)
    can_edit = Application.objects.editable_by(request.user).filter(pk=device.application_id).exists()
    return _delivery_page(request, can_edit, device=device)


def _delivery_page(request: HttpRequest, can_edit: bool, **owner) -> HttpResponse:
    policy = actions.policy_of(**owner)
    form = DeliveryPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST":
        if not can_edit:
            return HttpResponseForbidden(_("You may not change this."))
        if form.is_valid():
            actions.do_set_delivery_policy(**owner, **form.cleaned_data)
            messages.success(request, _("Delivery policy saved."))
            return redirect(request.path)
    device = owner.get("device")
    inherited = actions.delivery_settings([device])[device.pk] if device is not None else None
    context = {**owner, "form": form, "can_edit": can_edit, "inherited": inherited}
    return render(request, "commands/delivery.html", context)
