"""Everything that creates, changes and deletes products.

`check_*` functions validate and authorize and raise ProfileInvalid or ProductLocked; `do_*`
functions change data, inside one transaction, so a refused call leaves nothing behind. Portal
views, API views and the import_profile command call these; nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from applications import audit, events
from applications.models import Application
from products import documents, locks, lwm2m_mapping
from products.models import LWM2M_OBJECT19_FORMS, Origin, Product
from products.validation import (
    ProfileInvalid,
    ProfileIssue,
    Raw,
    ValidatedProfile,
    validate_archive,
    validate_documents,
)
from subscriptions import actions as push
from subscriptions import notify_types as nt
from subscriptions import payloads


class ProductLocked(Exception):
    """F-2.9: the product has registered devices, so it cannot be edited, replaced or deleted."""

    def __init__(self, product: Product, device_count: int) -> None:
        self.product = product
        self.device_count = device_count
        self.issue = ProfileIssue("PROFILE_LOCKED", params={"count": Raw(device_count)})
        super().__init__(str(self.issue))


def _fields(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a product keeps beside its profile, for lists and search."""
    device = profile["device"]
    services = {service["serviceType"]: service for service in profile["services"]}
    capabilities = device["serviceTypeCapabilities"]
    used = [services[capability["serviceType"]] for capability in capabilities]
    words = [device["deviceType"], device["manufacturerId"], device["manufacturerName"], device["model"]]
    words += [capability["serviceId"] for capability in capabilities] + list(services)
    return {
        "device_type": device["deviceType"],
        "manufacturer_id": device["manufacturerId"],
        "manufacturer_name": device["manufacturerName"],
        "model": device["model"],
        "protocol_type": device["protocolType"],
        "service_count": len(capabilities),
        "property_count": sum(len(service["properties"]) for service in used),
        "command_count": sum(len(service["commands"]) for service in used),
        "search_text": " ".join(dict.fromkeys(word.lower() for word in words)),
    }


def _duplicate() -> ProfileInvalid:
    # The original's message, and nothing about who holds the pair: another tenant's products stay invisible.
    return ProfileInvalid(
        [ProfileIssue("PROFILE_DUPLICATE", file=documents.DEVICE_FILE, path="$.devices[0].manufacturerId")]
    )


def check_unique(manufacturer_id: str, model: str, *, exclude: Product | None = None) -> None:
    """F-2.7: manufacturerId + model identify one product across the platform, in any application."""
    others = Product.objects.filter(manufacturer_id=manufacturer_id, model=model)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise _duplicate()


def check_unlocked(product: Product) -> None:
    """F-2.9: refuse to change a product while devices are registered with it, saying how many."""
    count = product.device_count()
    if count:
        raise ProductLocked(product, count)


def check_upload(file_name: str | None, data: bytes) -> ValidatedProfile:
    """Every rule of the zip and its documents, and F-2.7 against the platform's products."""
    validated = validate_archive(file_name, data)
    check_unique(validated.device["manufacturerId"], validated.device["model"])
    return validated


def _audit_product(action: str, product: Product, **detail: Any) -> None:
    audit.record(
        action,
        application_id=product.application_id,
        target=f"product {product.product_id}",
        detail={"manufacturerId": product.manufacturer_id, "model": product.model, **detail},
    )


def _save_new(application: Application, profile: dict[str, Any], archive: bytes, origin: str) -> Product:
    try:
        with transaction.atomic():
            product = Product.objects.create(
                application=application, profile=profile, archive=archive, origin=origin, **_fields(profile)
            )
    except IntegrityError:
        # Someone stored the same manufacturerId + model between our check and our insert.
        raise _duplicate() from None
    _notify_model(nt.DEVICE_MODEL_ADDED, product)
    _audit_product("product.added", product, origin=origin)
    events.publish(
        application.pk, "product.added", {"productId": str(product.product_id), "name": product.archive_stem}
    )
    return product


@transaction.atomic
def do_import_profile(application: Application, file_name: str | None, data: bytes) -> Product:
    """Validate an uploaded zip and store it as a new product of the application."""
    validated = check_upload(file_name, data)
    return _save_new(application, validated.profile, data, Origin.UPLOAD)


def _locked_row(product: Product) -> Product:
    """The product's row, locked until the transaction ends, so no device can register meanwhile."""
    return Product.objects.select_for_update().get(pk=product.pk)


def _store(product: Product, profile: dict[str, Any], archive: bytes, *, origin: str, revision: int | None) -> Product:
    """Write a new profile over the product's; with a revision, only if nobody changed it since."""
    fields = {**_fields(profile), "profile": profile, "archive": archive, "origin": origin}
    rows = Product.objects.filter(pk=product.pk)
    if revision is not None:
        rows = rows.filter(revision=revision)
    try:
        with transaction.atomic():
            updated = rows.update(**fields, revision=F("revision") + 1, updated_at=timezone.now())
    except IntegrityError:
        raise _duplicate() from None
    if updated != 1:
        raise ProfileInvalid([ProfileIssue("PROFILE_EDIT_CONFLICT")])
    product.refresh_from_db()
    _audit_product("product.changed", product, origin=origin, revision=product.revision)
    events.publish(product.application_id, "product.changed", {"productId": str(product.product_id)})
    return product


@transaction.atomic
def do_replace_profile(product: Product, file_name: str | None, data: bytes) -> Product:
    """Replace a product's profile by an uploaded zip for the same manufacturerId and model."""
    product = _locked_row(product)
    check_unlocked(product)
    validated = validate_archive(file_name, data)
    device = validated.device
    if (device["manufacturerId"], device["model"]) != (product.manufacturer_id, product.model):
        raise ProfileInvalid(
            [
                ProfileIssue(
                    "PROFILE_REPLACE_MISMATCH",
                    file=documents.DEVICE_FILE,
                    path="$.devices[0]",
                    params={
                        "manufacturer_id": device["manufacturerId"],
                        "model": device["model"],
                        "expected_manufacturer_id": product.manufacturer_id,
                        "expected_model": product.model,
                    },
                )
            ]
        )
    return _store(product, validated.profile, data, origin=Origin.UPLOAD, revision=None)


def check_profile(profile: Mapping[str, Any], *, exclude: Product | None = None) -> dict[str, Any]:
    """The editor's profile through the same rules as an upload; returns it normalised."""
    normal = validate_documents(documents.to_documents(profile), extra_files=profile.get("extraFiles"))
    check_unique(normal["device"]["manufacturerId"], normal["device"]["model"], exclude=exclude)
    return normal


@transaction.atomic
def do_create_product(application: Application, device: Mapping[str, Any]) -> Product:
    """A new product from the online editor: the device's fields, services to be added next."""
    profile = check_profile(documents.empty_profile(device))
    return _save_new(application, profile, documents.build_archive(profile), Origin.ONLINE)


@transaction.atomic
def do_edit_profile(product: Product, profile: Mapping[str, Any], *, revision: int) -> Product:
    """Store a profile changed in the online editor, if the product is neither locked nor changed since."""
    product = _locked_row(product)
    check_unlocked(product)
    if product.revision != revision:
        raise ProfileInvalid([ProfileIssue("PROFILE_EDIT_CONFLICT")])
    normal = check_profile(profile, exclude=product)
    return _store(product, normal, documents.build_archive(normal), origin=Origin.ONLINE, revision=revision)


@transaction.atomic
def do_delete_product(product: Product) -> None:
    """Delete a product that no device uses."""
    product = _locked_row(product)
    check_unlocked(product)
    product.delete()
    _notify_model(nt.DEVICE_MODEL_DELETED, product)
    _audit_product("product.deleted", product)
    events.publish(product.application_id, "product.deleted", {"productId": str(product.product_id)})


def do_set_lwm2m_gateway(product: Product, enabled: bool) -> Product:
    """Let the product's devices act as LwM2M gateways (object 25), or stop them: the next registration
    of each device follows the new setting (docs/gateways.md). Not part of the profile, so a locked
    product may change it too."""
    Product.objects.filter(pk=product.pk).update(lwm2m_gateway=enabled, updated_at=timezone.now())
    product.lwm2m_gateway = enabled
    _audit_product("product.lwm2m_gateway_set", product, enabled=enabled)
    return product


def check_lwm2m_object19(value: Any) -> dict[str, Any]:
    """`{"form": "auto"|"huawei"|"standard", "uplinkInstance": n, "downlinkInstance": m}`, each key optional:
    the model fields to change, or ValueError naming the field and the rule."""
    if not isinstance(value, dict) or not value:
        raise ValueError("lwm2mObject19 must be an object with form, uplinkInstance or downlinkInstance")
    unknown = sorted(set(value) - {"form", "uplinkInstance", "downlinkInstance"})
    if unknown:
        raise ValueError(f"lwm2mObject19.{unknown[0]} is not a setting (form, uplinkInstance, downlinkInstance)")
    fields: dict[str, Any] = {}
    if "form" in value:
        if value["form"] not in LWM2M_OBJECT19_FORMS:
            raise ValueError(f"lwm2mObject19.form must be one of {', '.join(LWM2M_OBJECT19_FORMS)}")
        fields["lwm2m_object19"] = value["form"]
    for name, column in (("uplinkInstance", "lwm2m_uplink_instance"), ("downlinkInstance", "lwm2m_downlink_instance")):
        if name in value:
            number = value[name]
            if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 65534:
                raise ValueError(f"lwm2mObject19.{name} must be a whole number from 0 to 65534 (an instance id)")
            fields[column] = number
    return fields


def do_set_lwm2m_object19(product: Product, fields: dict[str, Any]) -> Product:
    """Object 19's uplink and downlink instances and downlink form for the product's LwM2M devices (from
    their next registration). Not part of the profile, so a locked product may change it too."""
    up = fields.get("lwm2m_uplink_instance", product.lwm2m_uplink_instance)
    down = fields.get("lwm2m_downlink_instance", product.lwm2m_downlink_instance)
    if up == down:
        raise ValueError("lwm2mObject19.uplinkInstance and downlinkInstance must differ")
    Product.objects.filter(pk=product.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(product, name, value)
    return product


def _notify_model(notify_type: str, product: Product) -> None:
    """deviceModelAdded / deviceModelDeleted to the owning application (section 4.4)."""
    fields = {
        "deviceType": product.device_type,
        "manufacturerName": product.manufacturer_name,
        "manufacturerId": product.manufacturer_id,
        "model": product.model,
        "protocolType": product.protocol_type,
    }
    push.notify(
        product.application, notify_type, payloads.device_model(notify_type, product.application.app_id, fields)
    )


def device_counts(products: list[Product]) -> dict[int, int]:
    """Devices per product for a whole list at once (one query per registered counter)."""
    return locks.count_devices([product.pk for product in products])


def do_set_lwm2m_mapping(product: Product, value: Any) -> Product:
    """Replace the product's LwM2M mapping (products.lwm2m_mapping) with a validated one; MappingInvalid
    names the field and the rule and changes nothing. Not part of the profile, so a locked product may
    change it; each device follows it from its next registration."""
    mapping = lwm2m_mapping.check_document(value, product.profile)
    Product.objects.filter(pk=product.pk).update(lwm2m_mapping=mapping, updated_at=timezone.now())
    product.lwm2m_mapping = mapping
    _audit_product(
        "product.lwm2m_mapping_set",
        product,
        properties=len(mapping["properties"]),
        commands=len(mapping["commands"]),
        objects=sorted(mapping["definitions"]),
    )
    return product
