"""The profile editor's LwM2M mapping page (docs/lwm2m-objects.md "The editor"): each property read from
an object/instance/resource path, each command written to or executed on a resource, Write-Attributes
per path and the product's defaults, the product's own DDF objects; and the picker's options.

Saving calls products.actions.do_set_lwm2m_mapping, the action `PUT /api/v1/profiles/{id}/lwm2m` calls:
one set of rules, refused with the rule named beside the field it concerns. Everyone who sees the
product sees its mapping; those who change its products change it, locked or not (the mapping is not
part of the profile).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from applications.picking import PICK_LIMIT, picker_text, render_options
from products import actions, lwm2m_forms, lwm2m_objects
from products.lwm2m_mapping import FITS, MappingInvalid, fits
from products.views import _can_change, _forbidden, _visible

MAX_DDF_UPLOAD = lwm2m_objects.MAX_DDF_BYTES + 1  # read one byte more, so the mapping's rule sees "too large"
# Which resources the picker offers for a row: a property reads, a command writes or executes.
PICK_OPERATIONS = {"property": "R", "write": "W", "execute": "E", "command": "WE"}


def _objects(request: HttpRequest, stored: dict[str, Any]) -> list[str]:
    """The product's own DDF documents after the form: those not ticked for removal, plus an uploaded one."""
    kept = [
        text
        for index, text in enumerate(stored.get("objects", []))
        if request.POST.get(f"remove-object-{index}") != "on"
    ]
    upload = request.FILES.get("ddf")
    if upload is not None:
        # Undecodable bytes become U+FFFD: the DDF parser then names the XML rule they break.
        kept.append(upload.read(MAX_DDF_UPLOAD).decode("utf-8", errors="replace"))
    return kept


@login_required
def lwm2m_mapping(request: HttpRequest, product_id: UUID) -> HttpResponse:
    """GET: the mapping form. POST: validate and store it as a whole, or show the refusal beside its field."""
    product = _visible(request, product_id)
    can_change = _can_change(request, product)
    stored = product.lwm2m_mapping or {}
    rows = lwm2m_forms.rows(product.profile, stored)
    product_values = lwm2m_forms.product_values(stored)
    problem: dict[str, str] = {}
    if request.method == "POST":
        if not can_change:
            return _forbidden()
        submitted = lwm2m_forms.document(request.POST, rows, stored, _objects(request, stored))
        product_values = {name: request.POST.get(name, "").strip() for name in lwm2m_forms.PRODUCT_ATTRIBUTES}
        try:
            actions.do_set_lwm2m_mapping(product, submitted.document)
        except MappingInvalid as refusal:
            message = f"{refusal.reason} ({refusal.code})"
            row, name = lwm2m_forms.place(submitted, refusal.field, message)
            problem = {"field": name if row is None else "", "message": message, "code": refusal.code}
        else:
            messages.success(request, _("LwM2M mapping saved: devices follow it from their next registration."))
            return redirect(reverse("products:lwm2m", args=[product.product_id]))
    own = stored.get("definitions") or {}
    shown = [(row, row.resource(own)) for row in rows]
    context = {
        "product": product,
        "can_change": can_change,
        "properties": [item for item in shown if item[0].kind == "property"],
        "commands": [item for item in shown if item[0].kind == "command"],
        "product_values": product_values,
        "defaults": lwm2m_forms.default_attributes(),
        "own_objects": sorted(own.values(), key=lambda item: item["id"]),
        "problem": problem,
        "status": 400 if problem else 200,
    }
    return render(request, "products/lwm2m_mapping.html", context, status=context["status"])


@login_required
def lwm2m_pick(request: HttpRequest, product_id: UUID) -> HttpResponse:
    """The mapping picker's options: resources whose path starts like the text or whose object and
    resource names hold its words, with their types, units and ranges; `for` (property, command, write,
    execute) keeps those the row can use; `datatype` (a property's) flags those whose type does not fit it."""
    product = _visible(request, product_id)
    text = picker_text(request)
    own = (product.lwm2m_mapping or {}).get("definitions") or {}
    operations = PICK_OPERATIONS.get(request.GET.get("for", ""), "RWE")
    data_type = request.GET.get("datatype", "")
    options = []
    for path, definition, resource in lwm2m_objects.search_resources(text, own, operations, limit=PICK_LIMIT):
        kind = resource["type"] or "Execute"
        if resource["multiple"]:
            kind = _("multiple-instance %(type)s") % {"type": kind}
        parts = [kind, resource["units"], resource["range"], resource["operations"]]
        if data_type in FITS and not fits(resource, data_type):
            parts.append(_("does not fit %(data_type)s") % {"data_type": data_type})
        options.append(
            {
                "value": path,
                "label": path,
                "code": path,
                "detail": f"{definition['name']} · {resource['name']}",
                "muted": " · ".join(part for part in parts if part),
            }
        )
    return render_options(
        request,
        options,
        text,
        empty=_("No object or resource matches “%(text)s”.") % {"text": text},
        hint=_("Type an object's id (3303), a path (/3303/0/5700) or words of its name (temperature value)."),
    )
