"""Portal pages: the rules list, the rule editor, a rule's last runs and its test against history, the
alarm console (filters, live updates, bulk acknowledge) and the dashboard's alarm tile."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from applications.errors import NorthboundError
from applications.models import Application
from devices.models import Device
from products.models import Product
from rules import actions, evaluations, spec
from rules.api.views import filter_alarms
from rules.forms import CONDITION_ROWS, RuleForm
from rules.models import Alarm, Rule, RuleStatus, Severity


def _rules(request: HttpRequest):
    return Rule.objects.filter(application__in=Application.objects.visible_to(request.user)).select_related(
        "application"
    )


def _editable_rule(request: HttpRequest, rule_id: str) -> Rule:
    return get_object_or_404(
        Rule.objects.filter(application__in=Application.objects.editable_by(request.user)).select_related(
            "application"
        ),
        rule_id=rule_id,
    )


@login_required
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = _rules(request).order_by("-created_at", "-id")
    products = Product.objects.filter(application__in=Application.objects.editable_by(request.user)).order_by("model")
    page = Paginator(rules, 50).get_page(request.GET.get("page"))
    return render(request, "rules/list.html", {"page": page, "products": products})


def editor_fits(rule: Rule) -> bool:
    """Whether the editor can show the rule without losing any of it (the API can hold more)."""
    if len(rule.conditions) > CONDITION_ROWS:
        return False
    if any(c["type"] not in (*spec.DATA_TYPES, spec.STATUS, spec.NO_DATA) for c in rule.conditions):
        return False
    # one target for every condition: a device, a group, or the whole product
    targets = {
        ("device", c["deviceInfo"]["deviceId"])
        if c.get("deviceInfo")
        else ("group", c["deviceGroupInfo"]["devGroupId"])
        if c.get("deviceGroupInfo")
        else ("product",)
        for c in rule.conditions
    }
    kinds = [a["type"] for a in rule.actions]
    return len(targets) <= 1 and len(kinds) == len(set(kinds)) and set(kinds) <= {spec.ALARM, spec.CMD, spec.WEBHOOK}


def _product_of(rule: Rule) -> Product | None:
    """The product whose profile the editor shows: the one a condition names, else the named device's,
    else that of the first device of the named group (a group names no product)."""
    products = Product.objects.filter(application=rule.application_id)
    for condition in rule.conditions:
        if condition.get("_product"):
            return products.filter(pk=condition["_product"]).first()
    for condition in rule.conditions:
        if condition.get("_device"):
            return products.filter(devices__pk=condition["_device"]).first()
        if condition.get("_group"):
            return products.filter(devices__groups__pk=condition["_group"]).order_by("pk").first()
    return None


@login_required
def rule_editor(request: HttpRequest, rule_id: str | None = None) -> HttpResponse:
    """New rule for a product (?product=...), or an existing rule's editor."""
    rule = _editable_rule(request, rule_id) if rule_id else None
    if rule is not None:
        product = _product_of(rule)
        if product is None or not editor_fits(rule):
            messages.info(request, _("This rule uses conditions the editor cannot show; change it through the API."))
            return redirect("rules:detail", rule_id=rule.rule_id)
    else:
        products = Product.objects.filter(application__in=Application.objects.editable_by(request.user))
        product = (
            products.filter(product_id=request.GET.get("product") or request.POST.get("product")).first()
            if (request.GET.get("product") or request.POST.get("product"))
            else None
        )
        if product is None:
            raise Http404("Choose a product of an application you may change.")
    initial = RuleForm.initial_from(rule) if rule else {}
    form = RuleForm(request.POST or None, product=product, initial=initial)
    if request.method == "POST" and form.is_valid():
        body = form.body()
        try:
            if rule is None:
                saved = actions.do_create_rule(product.application, body)
            else:
                saved = actions.do_update_rule(product.application, {**body, "ruleId": rule.rule_id})
        except NorthboundError as error:
            form.add_error(None, error.error_desc)
        else:
            messages.success(request, _("Rule saved."))
            return redirect("rules:detail", rule_id=saved.rule_id)
    return render(request, "rules/editor.html", {"form": form, "product": product, "rule": rule})


@login_required
def rule_detail(request: HttpRequest, rule_id: str) -> HttpResponse:
    """A rule, its last runs (why it fired, what its actions did) and a test against a device's history."""
    rule = get_object_or_404(_rules(request), rule_id=rule_id)
    can_edit = Application.objects.editable_by(request.user).filter(pk=rule.application_id).exists()
    runs = rule.runs.select_related("device").order_by("-triggered_at", "-id")[:20]
    devices = Device.objects.filter(application=rule.application_id).order_by("node_id")
    product = _product_of(rule)
    if product is not None:
        devices = devices.filter(product=product)
    tested, device = None, None
    if device_id := request.GET.get("test"):
        device = devices.filter(device_id=device_id).first()
        if device is not None:
            tested = actions.test_against_history(rule, device)
    context = {
        "rule": rule,
        "runs": runs,
        "can_edit": can_edit,
        "tested": tested,
        "tested_device": device,
        "conditions": spec.public(rule.conditions),
        "fits": editor_fits(rule) and product is not None,
        **_evaluations_context(rule),
    }
    return render(request, "rules/detail.html", context)


OUTCOMES = {
    evaluations.FIRED: _lazy("fired"),
    evaluations.HELD: _lazy("held already: a reverse trigger fires when the rule starts to hold"),
    evaluations.NOT_MET: _lazy("conditions not met"),
    evaluations.RECOVERED: _lazy("stopped holding: its alarms clear"),
    evaluations.DISABLED: _lazy("not run: the rule was disabled"),
    evaluations.OUTSIDE_WINDOW: _lazy("not run: outside the rule's active time window"),
}


def _evaluations_context(rule: Rule) -> dict:
    rows = evaluations.recent(rule.pk)
    for row in rows:
        row["outcome_label"] = OUTCOMES.get(row["outcome"], row["outcome"])
    return {"evaluations": rows, "evaluations_kept": settings.RULES_EVALUATIONS_KEPT}


@login_required
def rule_evaluations(request: HttpRequest, rule_id: str) -> HttpResponse:
    """The rule's last evaluations (the detail page's table, which reloads itself every few seconds)."""
    rule = get_object_or_404(_rules(request), rule_id=rule_id)
    return render(request, "rules/partials/evaluations.html", {"rule": rule, **_evaluations_context(rule)})


@login_required
@require_POST
def rule_status(request: HttpRequest, rule_id: str) -> HttpResponse:
    rule = _editable_rule(request, rule_id)
    wanted = RuleStatus.INACTIVE if rule.is_active else RuleStatus.ACTIVE
    actions.do_set_statuses(rule.application, [(rule.rule_id, wanted)])
    return redirect(request.POST.get("next") or "rules:list")


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: str) -> HttpResponse:
    rule = _editable_rule(request, rule_id)
    actions.do_delete_rule(rule.application, rule.rule_id)
    messages.success(request, _("Rule deleted."))
    return redirect("rules:list")


def _alarms(request: HttpRequest):
    return Alarm.objects.filter(application__in=Application.objects.visible_to(request.user))


@login_required
def alarm_console(request: HttpRequest) -> HttpResponse:
    """Alarms, newest first; the table refreshes itself with the filters kept when its application's
    alarms change (the `alarms.changed` live event, at most once a second; every 30 s besides)."""
    state = request.GET.get("state", "OPEN")
    severity = request.GET.get("severity", "")
    device = request.GET.get("device", "").strip()
    try:
        alarms = filter_alarms(_alarms(request), state=state or None, severity=severity or None)
    except NorthboundError:
        alarms, state = filter_alarms(_alarms(request), state="OPEN"), "OPEN"
    if device:
        alarms = alarms.filter(device__node_id=device) | alarms.filter(device__device_id=device)
    alarms = alarms.select_related("device", "rule", "application").order_by("-last_raised_at", "-id")
    page = Paginator(alarms, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "state": state,
        "severity": severity,
        "device": device,
        "severities": Severity.choices,
        "states": [
            ("OPEN", _("open")),
            ("ACTIVE", _("not acknowledged")),
            ("ACKNOWLEDGED", _("acknowledged")),
            ("CLEARED", _("cleared")),
            ("", _("all")),
        ],
    }
    template = "rules/partials/alarm_table.html" if request.htmx else "rules/alarms.html"
    return render(request, template, context)


@login_required
@require_POST
def alarm_bulk(request: HttpRequest) -> HttpResponse:
    """Acknowledge or clear the ticked alarms (only those of applications the account may change)."""
    ids = request.POST.getlist("alarm")
    operation = request.POST.get("operation")
    if not ids:
        messages.error(request, _("Tick the alarms first."))
        return redirect("rules:alarms")
    who = request.user.get_username()
    done = 0
    with transaction.atomic():
        for application in Application.objects.editable_by(request.user).filter(alarms__alarm_id__in=ids).distinct():
            if operation == "clear":
                done += actions.do_clear_alarms(application, ids, who)
            else:
                done += actions.do_acknowledge_alarms(application, ids, who)
    messages.success(request, _("%(count)s alarms updated.") % {"count": done})
    return redirect(request.POST.get("next") or "rules:alarms")


@login_required
def alarm_tile(request: HttpRequest) -> HttpResponse:
    """The dashboard's tile: open alarms by severity (rules/partials/alarm_tile_loader.html loads it)."""
    counts = {value: 0 for value in Severity.values}
    counts.update(_alarms(request).open().values_list("severity").annotate(count=Count("id")).order_by())
    return render(request, "rules/partials/alarm_tile.html", {"counts": counts, "total": sum(counts.values())})
