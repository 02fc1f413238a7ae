"""Portal pages of the Developer Center's codecs: the list, a product's codec and versions, the online
builder with its live byte layout, the offline plugin upload with the checker's report, and the online
debugging page (decode a payload, encode a command or an ACK with any version).

Every page sees only the codecs of the account's applications (404 for the others). Owners,
developers and operators build, upload, activate and delete; viewers read and debug, which changes
nothing. Changes go through products.codec_actions, the API's rules exactly.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from products import codec_actions
from products.codec_actions import CodecLocked
from products.codec_forms import CodecUploadForm, DecodeForm, EncodeForm, apply_action, builder_document
from products.codecs import online, runtime, shapes
from products.codecs.errors import CodecError, CodecIssue, Raw, fail
from products.codecs.fields import FIELD_TYPES
from products.codecs.ports import as_lines, parse_lines
from products.codecs.profile import ProfileIndex, check_uplink, index_for
from products.models import Codec, CodecVersion, Product
from products.undecoded import recent_undecoded

PAGE_SIZE = 50
KIND_LABELS = {
    "dataReport": gettext_noop("Data report"),
    "command": gettext_noop("Command"),
    "commandResponse": gettext_noop("Command response"),
    "reportAck": gettext_noop("Report ACK"),
}


def _visible(request: HttpRequest, product_id: UUID) -> Product:
    return get_object_or_404(
        Product.objects.visible_to(request.user).select_related("application"), product_id=product_id
    )


def _can_change(request: HttpRequest, product: Product) -> bool:
    return Product.objects.changeable_by(request.user).filter(pk=product.pk).exists()


def _forbidden() -> HttpResponse:
    return HttpResponseForbidden(_("Only the application's owners and developers, and operators, change its codecs."))


def _codec_url(product: Product) -> str:
    return reverse("products:codec", args=[product.product_id])


def _codec(product: Product) -> Codec | None:
    return Codec.objects.filter(product=product).first()


# --- The list -------------------------------------------------------------------------------------


@login_required
def codec_list(request: HttpRequest) -> HttpResponse:
    """Every visible product with its codec's state: active version, format, versions, draft."""
    query = request.GET.get("q", "").strip()
    active = CodecVersion.objects.filter(codec__product=OuterRef("pk"), active=True)
    counted = (
        CodecVersion.objects.filter(codec__product=OuterRef("pk")).values("codec").annotate(n=Count("pk")).values("n")
    )
    products = (
        Product.objects.visible_to(request.user)
        .for_list()
        .annotate(
            active_number=Subquery(active.values("number")[:1]),
            active_kind=Subquery(active.values("kind")[:1]),
            version_count=Subquery(counted[:1]),
        )
    )
    if query:
        products = products.search(query)
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "query": query}
    if request.htmx:
        return render(request, "products/codecs/partials/list_table.html", context)
    return render(request, "products/codecs/list.html", context)


# --- A product's codec ------------------------------------------------------------------------------


@login_required
def codec_detail(request: HttpRequest, product_id: UUID) -> HttpResponse:
    product = _visible(request, product_id)
    codec = _codec(product)
    versions = list(codec.versions.all()) if codec else []
    device_count = product.device_count()
    return render(
        request,
        "products/codecs/detail.html",
        {
            "product": product,
            "codec": codec,
            "versions": versions,
            "device_count": device_count,
            "can_change": _can_change(request, product),
            "undecoded": recent_undecoded(product.pk),
            "active_number": next((version.number for version in versions if version.active), None),
            "uplink_ports": as_lines(codec.uplink_ports) if codec else "",
        },
    )


@login_required
def codec_version(request: HttpRequest, product_id: UUID, number: int) -> HttpResponse:
    product = _visible(request, product_id)
    version = get_object_or_404(CodecVersion, codec__product=product, number=number)
    return render(
        request,
        "products/codecs/version.html",
        {
            "product": product,
            "version": version,
            "definition": json.dumps(version.definition, indent=2, ensure_ascii=False),
            "vectors": json.dumps(version.vectors, indent=2, ensure_ascii=False) if version.vectors else "",
        },
    )


@login_required
@require_POST
def codec_activate(request: HttpRequest, product_id: UUID, number: int) -> HttpResponse:
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    codec = get_object_or_404(Codec, product=product)
    try:
        codec_actions.do_activate_version(codec, number)
    except CodecError as error:
        messages.error(request, error.issue.message)
    else:
        messages.success(request, _("Version %(number)s is active.") % {"number": number})
    return redirect(_codec_url(product))


@login_required
@require_POST
def codec_ports(request: HttpRequest, product_id: UUID) -> HttpResponse:
    """The codec page's uplink ports form: one `channel = port` per line (products.codecs.ports)."""
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    codec = get_object_or_404(Codec, product=product)
    try:
        codec_actions.do_set_uplink_ports(codec, parse_lines(request.POST.get("uplink_ports", "")))
    except CodecError as error:
        for found in error.issues:
            messages.error(request, f"{found.message} {found.fix}")
    else:
        messages.success(request, _("Uplink ports saved."))
    return redirect(_codec_url(product))


@login_required
@require_POST
def codec_version_delete(request: HttpRequest, product_id: UUID, number: int) -> HttpResponse:
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    codec = get_object_or_404(Codec, product=product)
    try:
        codec_actions.do_delete_version(codec, number)
    except CodecError as error:
        messages.error(request, error.issue.message)
    else:
        messages.success(request, _("Version %(number)s deleted.") % {"number": number})
    return redirect(_codec_url(product))


@login_required
def codec_delete(request: HttpRequest, product_id: UUID) -> HttpResponse:
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    codec = get_object_or_404(Codec, product=product)
    error = None
    if request.method == "POST":
        try:
            codec_actions.do_delete_codec(codec)
        except CodecLocked as locked:
            error = locked.issue.message
        else:
            messages.success(request, _("The codec of %(name)s is deleted.") % {"name": product.archive_stem})
            return redirect(_codec_url(product))
    return render(
        request,
        "products/codecs/delete.html",
        {"product": product, "codec": codec, "error": error, "device_count": product.device_count()},
    )


# --- Upload -----------------------------------------------------------------------------------------


@login_required
def codec_upload(request: HttpRequest, product_id: UUID) -> HttpResponse:
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    posted = request.method == "POST"
    form = CodecUploadForm(
        request.POST if posted else None, request.FILES if posted else None, locked=product.is_locked()
    )
    issues: list[CodecIssue] = []
    report = None
    if posted and form.is_valid():
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise fail("CODEC_FILE_MISSING")
            limit = settings.CODEC_MAX_UPLOAD_BYTES
            if upload.size > limit:
                raise fail("CODEC_UPLOAD_TOO_LARGE", file=upload.name, size=Raw(upload.size), limit=Raw(limit))
            version = codec_actions.do_upload_codec(
                product.application,
                upload.name,
                upload.read(limit + 1),
                product=product,
                activate=form.activate_choice(),
            )
        except CodecError as error:
            issues = error.issues
            report = getattr(error, "report", None)
        else:
            if version.active:
                text = _("Version %(number)s uploaded and active.")
            else:
                text = _(
                    "Version %(number)s uploaded and kept aside: try it on stored uplinks (replay), then activate it."
                )
            messages.success(request, text % {"number": version.number})
            for warning in version.report.warnings:
                messages.warning(request, f"{warning.message} {warning.fix}")
            return redirect(_codec_url(product))
    return render(
        request, "products/codecs/upload.html", {"form": form, "issues": issues, "report": report, "product": product}
    )


# --- The online builder -----------------------------------------------------------------------------


def _starting_document(product: Product, codec: Codec | None) -> dict[str, Any]:
    """The draft, else the active online version, else an empty plugin."""
    if codec is not None and codec.draft:
        return codec.draft
    if codec is not None:
        active = codec.versions.filter(active=True, kind="online").first()
        if active is not None:
            return active.definition
    return {"messages": []}


def _issues_by_place(
    issues: list[CodecIssue],
) -> tuple[dict[int, list[CodecIssue]], dict[tuple[int, int], list[CodecIssue]], list[CodecIssue]]:
    """Issues by message, by field, and those about the whole plugin, from their JSON paths."""
    by_message: dict[int, list[CodecIssue]] = {}
    by_field: dict[tuple[int, int], list[CodecIssue]] = {}
    general: list[CodecIssue] = []
    for found in issues:
        path = found.path
        if path.startswith("$.messages["):
            message_part, _sep, rest = path[len("$.messages[") :].partition("]")
            number = int(message_part)
            if rest.startswith(".fields["):
                field_part, _sep, _tail = rest[len(".fields[") :].partition("]")
                by_field.setdefault((number, int(field_part)), []).append(found)
                continue
            by_message.setdefault(number, []).append(found)
            continue
        general.append(found)
    return by_message, by_field, general


def _choices(index: ProfileIndex) -> dict[str, Any]:
    """What the builder's selects offer, from the profile."""
    services = list(index.services)
    commands = [(service.service_id, name) for service in index.services.values() for name in service.commands]
    targets = []
    for service in index.services.values():
        targets.append((_("Properties of %(service)s") % {"service": service.service_id}, list(service.properties)))
        for command in service.commands.values():
            if command.paras:
                targets.append((_("Parameters of %(command)s") % {"command": command.name}, list(command.paras)))
            if command.response_paras:
                label = _("Response parameters of %(command)s") % {"command": command.name}
                targets.append((label, list(command.response_paras)))
    return {"services": services, "commands": commands, "targets": targets}


def _builder_context(product: Product, document: dict[str, Any]) -> dict[str, Any]:
    index = index_for(product)
    parsed, issues = online.parse(document)
    issues = issues + online.check(parsed, index, max_payload=settings.CODEC_MAX_PAYLOAD_BYTES)
    by_message, by_field, general = _issues_by_place(issues)
    rows = []
    layouts = online.layout(parsed)
    for number, message in enumerate(document.get("messages", [])):
        fields = [
            {"number": field_number, "values": field, "issues": by_field.get((number, field_number), [])}
            for field_number, field in enumerate(message.get("fields", []))
        ]
        rows.append(
            {
                "number": number,
                "values": message,
                "fields": fields,
                "issues": by_message.get(number, []),
                "layout": layouts[number] if number < len(layouts) else None,
            }
        )
    return {
        "product": product,
        "builder_messages": rows,
        "issues": issues,
        "general_issues": general,
        "locked": product.is_locked(),
        "kinds": [(kind, _(KIND_LABELS[kind])) for kind in online.KINDS],
        "field_types": [(name, field_type.label) for name, field_type in FIELD_TYPES.items()],
        **_choices(index),
    }


def _deploy_choice(request: HttpRequest, product: Product) -> bool | None:
    """The builder's activate choice, asked like the upload's while devices use the product: "now", or
    else keep the current version (the safe default, also when the choice is missing); None without
    devices (active at once)."""
    if not product.is_locked():
        return None
    return request.POST.get("activate") == "now"


@login_required
def codec_builder(request: HttpRequest, product_id: UUID) -> HttpResponse:
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    codec = _codec(product)
    if request.method != "POST":
        document = _starting_document(product, codec)
        return render(request, "products/codecs/builder.html", _builder_context(product, document))
    document = builder_document(request.POST)
    action = request.POST.get("_action", "preview")
    if action == "preview":
        # Live: only the layout and the error slots, so nothing the developer is typing is replaced.
        return render(request, "products/codecs/partials/preview.html", _builder_context(product, document))
    if action == "save":
        codec_actions.do_save_draft(product, document)
        messages.success(request, _("Draft saved."))
        return redirect("products:codec-builder", product.product_id)
    if action == "deploy":
        codec_actions.do_save_draft(product, document)
        try:
            version = codec_actions.do_deploy_online(product, document, activate=_deploy_choice(request, product))
        except CodecError as error:
            context = _builder_context(product, document)
            context["deploy_failed"] = error.issues
            return render(request, "products/codecs/builder.html", context)
        if version.active:
            text = _("Version %(number)s deployed and active.")
        else:
            text = _("Version %(number)s deployed. Devices are registered with the product: activate it when ready.")
        messages.success(request, text % {"number": version.number})
        return redirect(_codec_url(product))
    document = apply_action(document, action)
    return render(request, "products/codecs/builder.html", _builder_context(product, document))


# --- Online debugging ---------------------------------------------------------------------------------


def _example_command(index: ProfileIndex) -> dict[str, Any]:
    for service in index.services.values():
        for command in service.commands.values():
            paras = {
                name: (0 if datum.data_type in ("int", "decimal", "double") else "")
                for name, datum in command.paras.items()
            }
            return {
                "msgType": "cloudReq",
                "serviceId": service.service_id,
                "cmd": command.name,
                "paras": paras,
                "mid": 1,
            }
    return {"msgType": "cloudRsp", "request": "", "errcode": 0, "hasMore": 0}


@login_required
def codec_debug(request: HttpRequest, product_id: UUID) -> HttpResponse:
    """Decode a payload or encode a message with any version: a simulated device and application."""
    product = _visible(request, product_id)
    codec = _codec(product)
    versions = list(codec.versions.all()) if codec else []
    choices = [(version.number, _debug_label(version)) for version in versions]
    active = next((version.number for version in versions if version.active), None)
    initial = {"version": active}
    decode_form = DecodeForm(initial=initial, versions=choices)
    encode_form = EncodeForm(
        initial={**initial, "message": json.dumps(_example_command(index_for(product)), indent=2)}, versions=choices
    )
    result: dict[str, Any] = {}
    operation = request.POST.get("operation") if request.method == "POST" else None
    if operation == "decode":
        decode_form = DecodeForm(request.POST, versions=choices)
        if decode_form.is_valid():
            data = decode_form.cleaned_data
            result = _decode(product, data["payload"], data["version"], _options(data))
    elif operation == "encode":
        encode_form = EncodeForm(request.POST, versions=choices)
        if encode_form.is_valid():
            data = encode_form.cleaned_data
            result = _encode(product, data["message"], data["version"], _options(data))
    context = {
        "product": product,
        "codec": codec,
        "versions": versions,
        "decode_form": decode_form,
        "encode_form": encode_form,
        "operation": operation,
        "result": result,
    }
    if request.htmx and operation:
        return render(request, "products/codecs/partials/debug_result.html", context)
    return render(request, "products/codecs/debug.html", context)


def _debug_label(version: CodecVersion) -> str:
    label = _("Version %(number)s (%(kind)s)") % {"number": version.number, "kind": version.get_kind_display()}
    return f"{label} · {_('active')}" if version.active else label


def _options(data: dict[str, Any]) -> dict[str, Any]:
    """The debugger's fPort and variables fields as typed in, for shapes.call_options."""
    options: dict[str, Any] = {"fPort": data.get("fPort", "").strip()}
    text = data.get("variables", "").strip()
    if text:
        try:
            options["variables"] = json.loads(text)
        except json.JSONDecodeError:
            options["variables"] = text  # not an object: call_options names the rule
    return options


def _decode(product: Product, text: str, version: int, options: dict[str, Any]) -> dict[str, Any]:
    try:
        payload = bytes.fromhex("".join(text.split()))
    except ValueError:
        return {"errors": [fail("CODEC_PAYLOAD_HEX", value=text[:80]).issue], "logs": []}
    try:
        port, variables = shapes.call_options(options)
        _number, outcomes = runtime.decode_outcomes(
            product, [payload], version=version, check=False, ports=[port], variables=variables
        )
    except CodecError as error:
        return {"errors": error.issues, "logs": []}
    outcome = outcomes[0]
    if outcome.error is not None:
        return {"errors": outcome.error.issues, "logs": outcome.logs}
    return {
        "json": json.dumps(outcome.value, indent=2, ensure_ascii=False),
        "issues": check_uplink(index_for(product), outcome.value),
        "logs": outcome.logs,
    }


def _encode(product: Product, text: str, version: int, options: dict[str, Any]) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        detail = f"{error.msg} at line {error.lineno}, column {error.colno}"
        return {
            "errors": [fail("CODEC_INPUT_SHAPE", problem=Raw(f"The message is not valid JSON: {detail}")).issue],
            "logs": [],
        }
    try:
        port, variables = shapes.call_options(options)
        _number, outcome = runtime.encode_outcome(product, message, version=version, fport=port, variables=variables)
    except CodecError as error:
        return {"errors": error.issues, "logs": []}
    if outcome.error is not None:
        return {"errors": outcome.error.issues, "logs": outcome.logs}
    value = outcome.value
    return {"hex": value.hex(" ").upper() if value is not None else None, "no_ack": value is None, "logs": outcome.logs}
