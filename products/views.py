"""Portal pages of the Developer Center's products: list, detail, upload, the online editor, export, delete.

Every page sees only the products of the account's applications (404 for the others); owners,
developers and operators change them, viewers only read (403). Changes go through products.actions,
so the editor and the upload apply exactly the rules of the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from applications.picking import picker_applications, picker_text, render_options
from products import actions, documents
from products.actions import ProductLocked
from products.forms import (
    CommandForm,
    ParaForm,
    ProductForm,
    ProfileForm,
    PropertyForm,
    ResponseForm,
    ServiceForm,
    UploadForm,
)
from products.models import Product
from products.querysets import applications_developed_by, pick_products
from products.validation import ProfileInvalid, ProfileIssue, read_upload

PAGE_SIZE = 50


def _visible(request: HttpRequest, product_id: UUID) -> Product:
    return get_object_or_404(
        Product.objects.visible_to(request.user).select_related("application"), product_id=product_id
    )


def _can_change(request: HttpRequest, product: Product) -> bool:
    return Product.objects.changeable_by(request.user).filter(pk=product.pk).exists()


def _forbidden() -> HttpResponse:
    return HttpResponseForbidden(_("Only the application's owners and developers, and operators, change its products."))


def _detail_url(product: Product, anchor: str = "") -> str:
    url = reverse("products:detail", args=[product.product_id])
    return f"{url}#{anchor}" if anchor else url


def _uploaded(request: HttpRequest) -> tuple[str, bytes]:
    upload = request.FILES.get("file")
    if upload is None:
        raise ProfileInvalid([ProfileIssue("PROFILE_FILE_MISSING")])
    return upload.name, read_upload(upload.name, upload, upload.size)


@login_required
def product_pick(request: HttpRequest) -> HttpResponse:
    """A product picker's options: the first products whose device type, manufacturer, model or productId
    starts with `q`, of the account's applications (those it may change with `editable=1`), or of the one
    named by `application`."""
    text = picker_text(request)
    application_ids = list(picker_applications(request).order_by("pk").values_list("pk", flat=True))
    options = [
        {"value": product.product_id, "label": product.label, "muted": product.application.name}
        for product in pick_products(application_ids, text)
    ]
    return render_options(
        request,
        options,
        text,
        empty=_("No product's device type, manufacturer, model or productId starts with “%(text)s”.") % {"text": text},
        hint=_("Type the start of a device type, manufacturer, model or productId."),
    )


@login_required
def product_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    products = Product.objects.visible_to(request.user).for_list()
    if query:
        products = products.search(query)
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = actions.device_counts(list(page.object_list))
    rows = [(product, counts[product.pk]) for product in page.object_list]
    context = {"page": page, "rows": rows, "query": query}
    if request.htmx:
        return render(request, "products/partials/table.html", context)
    context["can_create"] = applications_developed_by(request.user).exists()
    return render(request, "products/list.html", context)


@login_required
def product_detail(request: HttpRequest, product_id: UUID) -> HttpResponse:
    product = _visible(request, product_id)
    device_count = product.device_count()
    can_change = _can_change(request, product)
    return render(
        request,
        "products/detail.html",
        {
            "product": product,
            "services": product.service_capabilities(),
            "device_count": device_count,
            "can_change": can_change,
            # Editing buttons only where an edit can succeed: a locked product is read-only (F-2.9).
            "can_edit": can_change and device_count == 0,
        },
    )


@login_required
@require_POST
def product_lwm2m_gateway(request: HttpRequest, product_id: UUID) -> HttpResponse:
    """Turn the product's LwM2M gateway setting on or off (object 25, docs/gateways.md)."""
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    enabled = request.POST.get("lwm2m_gateway") == "on"
    actions.do_set_lwm2m_gateway(product, enabled)
    if enabled:
        messages.success(request, _("Devices of this product may now act as LwM2M gateways."))
    else:
        messages.success(request, _("Devices of this product are no longer LwM2M gateways."))
    return redirect(_detail_url(product))


@login_required
def product_upload(request: HttpRequest) -> HttpResponse:
    applications = applications_developed_by(request.user)
    if not applications.exists():
        return _forbidden()
    form = UploadForm(request.POST or None, request.FILES or None, applications=applications)
    issues: list[ProfileIssue] = []
    if request.method == "POST" and form.is_valid():
        try:
            name, data = _uploaded(request)
            product = actions.do_import_profile(form.cleaned_data["application"], name, data)
        except ProfileInvalid as error:
            issues = error.issues
        else:
            messages.success(request, _("Profile %(name)s imported.") % {"name": product.archive_name})
            return redirect(_detail_url(product))
    return render(request, "products/upload.html", {"form": form, "issues": issues})


@login_required
def product_replace(request: HttpRequest, product_id: UUID) -> HttpResponse:
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    form = UploadForm(request.POST or None, request.FILES or None)
    issues: list[ProfileIssue] = []
    if request.method == "POST" and form.is_valid():
        try:
            name, data = _uploaded(request)
            product = actions.do_replace_profile(product, name, data)
        except ProfileInvalid as error:
            issues = error.issues
        except ProductLocked as error:
            issues = [error.issue]
        else:
            messages.success(request, _("Profile %(name)s replaced.") % {"name": product.archive_name})
            return redirect(_detail_url(product))
    return render(request, "products/replace.html", {"form": form, "issues": issues, "product": product})


@login_required
def product_export(request: HttpRequest, product_id: UUID) -> HttpResponse:
    product = _visible(request, product_id)
    response = HttpResponse(bytes(product.archive), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{product.archive_name}"'
    return response


@login_required
def product_delete(request: HttpRequest, product_id: UUID) -> HttpResponse:
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    error = None
    if request.method == "POST":
        try:
            actions.do_delete_product(product)
        except ProductLocked as locked:
            error = locked.issue.message
        else:
            messages.success(request, _("Product %(name)s deleted.") % {"name": product.archive_stem})
            return redirect("products:list")
    return render(
        request, "products/delete.html", {"product": product, "error": error, "device_count": product.device_count()}
    )


@login_required
def product_create(request: HttpRequest) -> HttpResponse:
    applications = applications_developed_by(request.user)
    if not applications.exists():
        return _forbidden()
    form = ProductForm(request.POST or None, applications=applications, initial={"protocolType": "CoAP"})
    if request.method == "POST" and form.is_valid():
        device = form.to_json()
        try:
            product = actions.do_create_product(form.cleaned_data["application"], device)
        except ProfileInvalid as error:
            form.add_issues(error.issues, [documents.Target(documents.DEVICE_FILE, "$.devices[0]")])
        else:
            messages.success(request, _("Product created: now add its services."))
            return redirect(_detail_url(product))
    return render(request, "products/element_form.html", {"form": form, "title": _("New product"), "product": None})


# --- The online editor: one form per part of the profile ------------------------------------------

Load = Callable[[dict[str, Any]], Mapping[str, Any]]
Apply = Callable[[dict[str, Any], dict[str, Any]], documents.Edit]


def _editable(request: HttpRequest, product_id: UUID) -> Product | HttpResponse:
    product = _visible(request, product_id)
    if not _can_change(request, product):
        return _forbidden()
    return product


def _edit(
    request: HttpRequest,
    product_id: UUID,
    form_class: type[ProfileForm],
    title: str,
    load: Load,
    apply: Apply,
    anchor: Callable[[dict[str, Any]], str] = lambda profile: "",
) -> HttpResponse:
    """Show a form for one part of the profile; on POST apply it, validate the whole profile, store it.

    An htmx POST with `_validate` only validates: the editor calls it on every change, so an issue
    appears beside its field before the form is sent.
    """
    product = _editable(request, product_id)
    if isinstance(product, HttpResponse):
        return product
    try:
        current = load(product.profile)
    except documents.NotFound:
        raise Http404 from None
    locked = product.device_count() > 0
    validating = bool(request.htmx and request.POST.get("_validate"))
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                edit = apply(product.profile, form.to_json())
            except documents.NotFound:
                raise Http404 from None
            try:
                if validating:
                    actions.check_profile(edit.profile, exclude=product)
                else:
                    actions.do_edit_profile(product, edit.profile, revision=form.cleaned_data["revision"] or 0)
            except ProfileInvalid as error:
                form.add_issues(error.issues, edit.targets)
            except ProductLocked as error:
                form.add_error(None, error.issue.message)
            else:
                if not validating:
                    messages.success(request, _("Saved."))
                    return redirect(_detail_url(product, anchor(edit.profile)))
    else:
        form = form_class(initial={**form_class.initial_from(current), "revision": product.revision})
    context = {"form": form, "product": product, "title": title, "locked": locked}
    if validating:
        return render(request, "products/partials/validation.html", context)
    template = "products/partials/element_form.html" if request.htmx else "products/element_form.html"
    return render(request, template, context)


def _delete(request: HttpRequest, product_id: UUID, apply: Callable[[dict[str, Any]], documents.Edit]) -> HttpResponse:
    product = _editable(request, product_id)
    if isinstance(product, HttpResponse):
        return product
    try:
        edit = apply(product.profile)
    except documents.NotFound:
        raise Http404 from None
    try:
        revision = int(request.POST.get("revision", ""))
    except ValueError:
        revision = 0
    try:
        actions.do_edit_profile(product, edit.profile, revision=revision)
    except ProfileInvalid as error:
        for issue in error.issues:
            messages.error(request, issue.message)
    except ProductLocked as error:
        messages.error(request, error.issue.message)
    else:
        messages.success(request, _("Deleted."))
    return redirect(_detail_url(product))


def _service_anchor(index: int | None) -> Callable[[dict[str, Any]], str]:
    def anchor(profile: dict[str, Any]) -> str:
        capabilities = profile["device"]["serviceTypeCapabilities"]
        position = len(capabilities) - 1 if index is None else index
        return f"service-{position}"

    return anchor


@login_required
def product_edit(request: HttpRequest, product_id: UUID) -> HttpResponse:
    return _edit(
        request,
        product_id,
        ProductForm,
        _("Edit the product"),
        load=lambda profile: profile["device"],
        apply=documents.set_device,
    )


@login_required
def service_form(request: HttpRequest, product_id: UUID, service: int | None = None) -> HttpResponse:
    def load(profile: dict[str, Any]) -> Mapping[str, Any]:
        if service is None:
            return {"option": "Master"}
        return {
            **documents.capability(profile, service),
            "description": documents.service_of(profile, service).get("description"),
        }

    return _edit(
        request,
        product_id,
        ServiceForm,
        _("Add a service") if service is None else _("Edit the service"),
        load=load,
        apply=lambda profile, values: documents.set_service(profile, service, values),
        anchor=_service_anchor(service),
    )


@login_required
@require_POST
def service_delete(request: HttpRequest, product_id: UUID, service: int) -> HttpResponse:
    return _delete(request, product_id, lambda profile: documents.delete_service(profile, service))


@login_required
def property_form(request: HttpRequest, product_id: UUID, service: int, index: int | None = None) -> HttpResponse:
    def load(profile: dict[str, Any]) -> Mapping[str, Any]:
        properties = documents.service_of(profile, service)["properties"]
        if index is None:
            return {"dataType": "int", "method": "RE", "required": True}
        return documents.item(properties, index)

    return _edit(
        request,
        product_id,
        PropertyForm,
        _("Add a property") if index is None else _("Edit the property"),
        load=load,
        apply=lambda profile, values: documents.set_property(profile, service, index, values),
        anchor=_service_anchor(service),
    )


@login_required
@require_POST
def property_delete(request: HttpRequest, product_id: UUID, service: int, index: int) -> HttpResponse:
    return _delete(request, product_id, lambda profile: documents.delete_property(profile, service, index))


@login_required
def command_form(request: HttpRequest, product_id: UUID, service: int, command: int | None = None) -> HttpResponse:
    def load(profile: dict[str, Any]) -> Mapping[str, Any]:
        documents.service_of(profile, service)
        return {} if command is None else documents.command_of(profile, service, command)

    return _edit(
        request,
        product_id,
        CommandForm,
        _("Add a command") if command is None else _("Edit the command"),
        load=load,
        apply=lambda profile, values: documents.set_command(profile, service, command, values),
        anchor=_service_anchor(service),
    )


@login_required
@require_POST
def command_delete(request: HttpRequest, product_id: UUID, service: int, command: int) -> HttpResponse:
    return _delete(request, product_id, lambda profile: documents.delete_command(profile, service, command))


@login_required
def response_form(
    request: HttpRequest, product_id: UUID, service: int, command: int, response: int | None = None
) -> HttpResponse:
    def load(profile: dict[str, Any]) -> Mapping[str, Any]:
        documents.command_of(profile, service, command)
        return {} if response is None else documents.response_of(profile, service, command, response)

    return _edit(
        request,
        product_id,
        ResponseForm,
        _("Add a response") if response is None else _("Edit the response"),
        load=load,
        apply=lambda profile, values: documents.set_response(profile, service, command, response, values),
        anchor=_service_anchor(service),
    )


@login_required
@require_POST
def response_delete(request: HttpRequest, product_id: UUID, service: int, command: int, response: int) -> HttpResponse:
    return _delete(request, product_id, lambda profile: documents.delete_response(profile, service, command, response))


@login_required
def para_form(
    request: HttpRequest,
    product_id: UUID,
    service: int,
    command: int,
    response: int | None = None,
    index: int | None = None,
) -> HttpResponse:
    """A para of a command (response None) or of one of the command's responses."""

    def load(profile: dict[str, Any]) -> Mapping[str, Any]:
        if response is None:
            paras = documents.command_of(profile, service, command)["paras"]
        else:
            paras = documents.response_of(profile, service, command, response)["paras"]
        return {"dataType": "int", "required": True} if index is None else documents.item(paras, index)

    return _edit(
        request,
        product_id,
        ParaForm,
        _("Add a parameter") if index is None else _("Edit the parameter"),
        load=load,
        apply=lambda profile, values: documents.set_para(profile, service, command, response, index, values),
        anchor=_service_anchor(service),
    )


@login_required
@require_POST
def para_delete(
    request: HttpRequest, product_id: UUID, service: int, command: int, index: int, response: int | None = None
) -> HttpResponse:
    return _delete(
        request, product_id, lambda profile: documents.delete_para(profile, service, command, response, index)
    )
