"""Everything that creates, changes and deletes codecs and their versions.

`check_*` validate (the checker, the online plugin's deploy rules) and raise CodecError; `do_*`
change data in one transaction that holds the product's row lock, the lock devices take to register
(products.locks), so a refused call leaves nothing behind and the lock rule cannot race.

Versions never change once stored. The lock rule of profiles (F-2.9) applies as follows: while devices
are registered with the product, neither the codec nor its active version can be deleted, and a new
version (uploaded or deployed) is never activated without a choice: `activate=True` makes it active
now, `activate=False` keeps the current one so that the new one can be tried on stored uplinks first
(the replay page), and the default (`None`) is not to activate it. An unlocked product's new version
becomes active at once by default, the way a developer iterates (`activate=False` keeps it aside).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from applications import audit, events
from applications.models import Application
from products import locks
from products.codecs import runtime
from products.codecs.checker import Report, check_package
from products.codecs.engine import compile_definition
from products.codecs.errors import CodecError, Raw, fail, issue
from products.codecs.online import Definition, check_definition
from products.codecs.package import FORMATS, checksum, read_package
from products.codecs.ports import check_ports
from products.codecs.profile import index_for
from products.models import Codec, CodecKind, CodecVersion, Product


class CodecLocked(CodecError):
    """F-2.9: the product has registered devices; its codec or active version cannot be deleted."""

    def __init__(self, count: int) -> None:
        super().__init__(issue("CODEC_LOCKED", count=Raw(count)))


def _device_count(product: Product) -> int:
    return locks.count_devices([product.pk])[product.pk]


def _locked_row(product: Product) -> Product:
    return Product.objects.select_for_update().get(pk=product.pk)


def _publish(product: Product, kind: str, data: dict[str, Any]) -> None:
    """The live event, and this process forgets which version the product decodes with: now, and again
    after commit, in case another thread looked it up in between."""
    events.publish(product.application_id, kind, {"productId": str(product.product_id), **data})
    # Every codec change passes here, so here it is audited (codec.version_added, .activated, ...).
    audit.record(kind, application_id=product.application_id, target=f"product {product.product_id}", detail=data)
    runtime.forget_product(product.pk)
    transaction.on_commit(lambda: runtime.forget_product(product.pk))


# --- Offline plugins ------------------------------------------------------------------------------


def check_upload(
    application: Application, file_name: str | None, data: bytes, *, product: Product | None = None
) -> tuple[Product, Report]:
    """The product the plugin is for (the manifest names it) and the checker's report.

    Raises CodecError when the zip or the manifest cannot be read, or names no product of the
    application (or another product than `product`, when the caller chose one).
    """
    package = read_package(file_name, data)
    manifest = package.manifest
    if product is None:
        product = (
            Product.objects.for_app(application)
            .filter(manufacturer_id=manifest["manufacturerId"], model=manifest["model"])
            .first()
        )
        if product is None:
            raise fail(
                "CODEC_PRODUCT_UNKNOWN",
                file="manifest.json",
                path="$.manufacturerId",
                manufacturer_id=manifest["manufacturerId"],
                model=manifest["model"],
            )
    elif (manifest["manufacturerId"], manifest["model"]) != (product.manufacturer_id, product.model):
        raise fail(
            "CODEC_MANIFEST_PRODUCT",
            file="manifest.json",
            path="$.manufacturerId",
            manufacturer_id=manifest["manufacturerId"],
            model=manifest["model"],
            expected_manufacturer_id=product.manufacturer_id,
            expected_model=product.model,
        )
    return product, check_package(package.file_name, data, index=index_for(product))


def do_upload_codec(
    application: Application,
    file_name: str | None,
    data: bytes,
    *,
    product: Product | None = None,
    activate: bool | None = None,
) -> CodecVersion:
    """Check an offline plugin and store it as the next version of its product's codec.

    `activate`: True makes it active now, False keeps the current one, None (the default) activates it
    only while no device is registered with the product. The CodecError of a refused plugin carries
    the checker's report as `report`; a stored version carries it too (its warnings).
    """
    product, report = check_upload(application, file_name, data, product=product)
    if not report.passed:
        error = CodecError(report.issues)
        error.report = report  # type: ignore[attr-defined]
        raise error
    package = report.package
    assert package is not None and report.kind is not None
    manifest = {**package.manifest, "format": {value: key for key, value in FORMATS.items()}[report.kind]}
    version = _add_version(
        product,
        kind=report.kind,
        definition=manifest,
        source=package.source,
        vectors=package.vectors or {},
        archive=package.archive,
        file_name=package.file_name,
        plugin_version=package.version,
        activate=activate,
    )
    version.report = report  # type: ignore[attr-defined]
    return version


def _add_version(product: Product, *, activate: bool | None = None, **fields: Any) -> CodecVersion:
    with transaction.atomic():
        product = _locked_row(product)
        codec, _created = Codec.objects.get_or_create(
            product=product, defaults={"application_id": product.application_id}
        )
        number = (codec.versions.aggregate(last=Max("number"))["last"] or 0) + 1
        version = CodecVersion.objects.create(
            codec=codec,
            number=number,
            checksum=checksum(fields["kind"], fields["definition"], fields.get("source", "")),
            **fields,
        )
        if activate or (activate is None and _device_count(product) == 0):
            _activate(codec, version)
        Codec.objects.filter(pk=codec.pk).update(updated_at=timezone.now())
        _publish(product, "codec.version_added", {"codecId": str(codec.codec_id), "version": number})
    return version


def _activate(codec: Codec, version: CodecVersion) -> None:
    # Two statements in the caller's transaction; the partial unique index keeps one active at most.
    codec.versions.filter(active=True).exclude(pk=version.pk).update(active=False)
    codec.versions.filter(pk=version.pk).update(active=True)
    version.active = True


# --- Online plugins -------------------------------------------------------------------------------


def check_online(product: Product, definition: Any) -> Definition:
    """The online plugin checked against every deploy rule and the product's profile, and compiled once."""
    checked = check_definition(definition, index_for(product), max_payload=settings.CODEC_MAX_PAYLOAD_BYTES)
    compile_definition(checked, max_payload=settings.CODEC_MAX_PAYLOAD_BYTES)
    return checked


@transaction.atomic
def do_save_draft(product: Product, definition: dict[str, Any]) -> Codec:
    """Keep the builder's document as it is, deployable or not."""
    product = _locked_row(product)
    codec, _created = Codec.objects.get_or_create(product=product, defaults={"application_id": product.application_id})
    codec.draft = definition
    codec.save(update_fields=["draft", "updated_at"])
    return codec


def do_deploy_online(product: Product, definition: Any, *, activate: bool | None = None) -> CodecVersion:
    """Deploy the builder's document as the next version (F-3.2 checks first) and keep it as the draft;
    `activate` as for do_upload_codec."""
    checked = check_online(product, definition)
    document = checked.as_json()
    with transaction.atomic():
        version = _add_version(
            product, kind=CodecKind.ONLINE, definition=document, source="", vectors={}, activate=activate
        )
        Codec.objects.filter(pk=version.codec_id).update(draft=document)
    return version


# --- Versions -------------------------------------------------------------------------------------


def _version(codec: Codec, number: int) -> CodecVersion:
    version = codec.versions.filter(number=number).first()
    if version is None:
        raise fail("CODEC_VERSION_UNKNOWN", value=Raw(number))
    return version


@transaction.atomic
def do_activate_version(codec: Codec, number: int) -> CodecVersion:
    """Make one version the one that decodes and encodes; allowed on locked products (that is how
    their codec changes, after a replay of stored uplinks)."""
    product = _locked_row(codec.product)
    version = _version(codec, number)
    _activate(codec, version)
    Codec.objects.filter(pk=codec.pk).update(updated_at=timezone.now())
    _publish(product, "codec.activated", {"codecId": str(codec.codec_id), "version": number})
    return version


@transaction.atomic
def do_set_uplink_ports(codec: Codec, value: Any) -> Codec:
    """Set which fPort the codec gets per channel of uplinks that carry none (products.codecs.ports);
    allowed on locked products. CodecError (CODEC_PORT_CHANNEL, CODEC_FPORT) changes nothing."""
    ports = check_ports(value)
    product = _locked_row(codec.product)
    codec.uplink_ports = ports
    codec.save(update_fields=["uplink_ports", "updated_at"])
    _publish(product, "codec.ports_changed", {"codecId": str(codec.codec_id), "uplinkPorts": ports})
    return codec


@transaction.atomic
def do_delete_version(codec: Codec, number: int) -> None:
    """Delete a version; the active one only while no device is registered with the product."""
    product = _locked_row(codec.product)
    version = _version(codec, number)
    if version.active:
        count = _device_count(product)
        if count:
            raise CodecLocked(count)
    version.delete()
    _publish(product, "codec.version_deleted", {"codecId": str(codec.codec_id), "version": number})


@transaction.atomic
def do_delete_codec(codec: Codec) -> None:
    """Delete the codec with all its versions, while no device is registered with the product."""
    product = _locked_row(codec.product)
    count = _device_count(product)
    if count:
        raise CodecLocked(count)
    codec.delete()
    _publish(product, "codec.deleted", {"codecId": str(codec.codec_id)})
