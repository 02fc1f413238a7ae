"""Products: the profiles (product models) that describe a device type, owned by an application,
and their codec plugins."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import F, TextField
from django.db.models.functions import Cast, Collate, Upper
from django.utils.translation import gettext_lazy as _

from applications.models import Application
from products import locks
from products.querysets import CodecQuerySet, ProductQuerySet


class Origin(models.TextChoices):
    UPLOAD = "upload", _("Uploaded zip")
    ONLINE = "online", _("Online editor")


# How a product's LwM2M devices get object 19 downlinks (ingress.object19, docs/lwm2m.md).
LWM2M_OBJECT19_FORMS = ("auto", "huawei", "standard")


class Product(models.Model):
    """One device type as its profile describes it: services, their properties and commands (F-2).

    The profile is stored normalised (products.validation: every known key present, services in the
    order the device lists them) as JSON, the one source of truth; the columns beside it are copies
    of what lists show and search, filled by products.actions from the profile. `archive` is the zip
    as uploaded, or as rebuilt after an online edit: export returns it byte for byte.

    manufacturerId + model identify a product across the whole platform, whichever application owns
    it (F-2.7), because a device names its product by them. A product with registered devices is
    locked (F-2.9): see products.locks.
    """

    product_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="products")
    device_type = models.CharField(_("device type"), max_length=64)
    manufacturer_id = models.CharField(_("manufacturer ID"), max_length=64)
    manufacturer_name = models.CharField(_("manufacturer name"), max_length=128)
    model = models.CharField(_("model"), max_length=64)
    protocol_type = models.CharField(_("protocol type"), max_length=16)
    # Its devices may act as LwM2M gateways (OMA LwM2M Gateway object 25, docs/gateways.md): set by the
    # developer, not by the profile, so a device of any other product that lists </25> stays a plain device.
    lwm2m_gateway = models.BooleanField(_("LwM2M gateway"), default=False)
    # Object 19 (LwM2M APPDATA) for its LwM2M devices (docs/lwm2m.md): which instance carries uplinks and
    # which downlinks (the specification assigns no direction; 0 up and 1 down is the Huawei convention),
    # and how downlinks are written: "auto" from the registration's LwM2M version, "huawei" the opaque
    # write to /19/{down}/0 first, "standard" the resource instance /19/{down}/0/0 (1.1) or TLV (1.0) first.
    lwm2m_object19 = models.CharField(_("object 19 downlink form"), max_length=8, default=LWM2M_OBJECT19_FORMS[0])
    lwm2m_uplink_instance = models.PositiveIntegerField(_("object 19 uplink instance"), default=0)
    lwm2m_downlink_instance = models.PositiveIntegerField(_("object 19 downlink instance"), default=1)
    # Its profile's properties and commands on LwM2M object/instance/resource paths, with the product's own
    # object definitions and Write-Attributes (products.lwm2m_mapping, docs/lwm2m-objects.md). Beside the
    # profile like object 19's settings: a locked product may change it; devices take it at their next
    # registration.
    lwm2m_mapping = models.JSONField(_("LwM2M mapping"), default=dict, blank=True)
    profile = models.JSONField()
    archive = models.BinaryField()
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.UPLOAD)
    service_count = models.PositiveIntegerField(default=0)
    property_count = models.PositiveIntegerField(default=0)
    command_count = models.PositiveIntegerField(default=0)
    # Lower-cased device type, manufacturer, model and service types: what the list's search matches.
    search_text = models.TextField(default="")
    # Counts every change; the online editor's forms carry it so two editors cannot overwrite each other.
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        # A total order: manufacturerId + model is unique.
        ordering = ["device_type", "manufacturer_id", "model"]
        constraints = [
            models.UniqueConstraint(fields=["manufacturer_id", "model"], name="product_manufacturer_model_unique"),
        ]
        indexes = [
            # Lists are sorted like this: an application's (the API's) is a range of the first index,
            # a portal account's over several applications (an operator's over all) walks the second.
            models.Index(fields=["application", "device_type", "manufacturer_id", "model"], name="product_app_list"),
            models.Index(fields=["device_type", "manufacturer_id", "model"], name="product_list"),
            # Pickers: a prefix of each key (any case) as a range of the application, in order; collated
            # "C" so that holds whatever the database's collation (products.querysets.pick_keys).
            models.Index(F("application"), Collate(Upper("device_type"), "C"), name="product_pick_type"),
            models.Index(F("application"), Collate(Upper("manufacturer_name"), "C"), name="product_pick_maker"),
            models.Index(F("application"), Collate(Upper("manufacturer_id"), "C"), name="product_pick_maker_id"),
            models.Index(F("application"), Collate(Upper("model"), "C"), name="product_pick_model"),
            models.Index(F("application"), Collate(Cast("product_id", TextField()), "C"), name="product_pick_id"),
        ]

    def __str__(self) -> str:
        return self.archive_stem

    @property
    def label(self) -> str:
        """How forms and pickers name the product."""
        return f"{self.device_type} · {self.manufacturer_name} · {self.model}"

    @property
    def archive_stem(self) -> str:
        return f"{self.device_type}_{self.manufacturer_id}_{self.model}"

    @property
    def archive_name(self) -> str:
        """The zip's name as F-2.2 wants it: deviceType_manufacturerId_model.zip."""
        return f"{self.archive_stem}.zip"

    def device_count(self) -> int:
        """Devices registered with this product; more than 0 locks it (F-2.9)."""
        return locks.count_devices([self.pk])[self.pk]

    def is_locked(self) -> bool:
        return self.device_count() > 0

    def service_capabilities(self) -> list[dict[str, Any]]:
        """Each service of the device with its type's content, as deviceCapabilities shows it (section 2.9)."""
        return service_capabilities(self.profile)


def service_capabilities(profile: dict[str, Any]) -> list[dict[str, Any]]:
    services = {service["serviceType"]: service for service in profile["services"]}
    result = []
    for capability in profile["device"]["serviceTypeCapabilities"]:
        service = services.get(capability["serviceType"], {})
        result.append(
            {
                "serviceId": capability["serviceId"],
                "serviceType": capability["serviceType"],
                "option": capability["option"],
                "description": service.get("description"),
                "commands": service.get("commands", []),
                "properties": service.get("properties", []),
            }
        )
    return result


class CodecKind(models.TextChoices):
    ONLINE = "online", _("Online plugin")
    SCRIPT = "script", _("JavaScript, OceanConnect style")
    TTN = "ttn", _("JavaScript, The Things Network or ChirpStack")


class Codec(models.Model):
    """A product's codec plugin (F-3.1): its versions, one of them active, and the online builder's draft.

    Versions are immutable: a change is a new version (products.codec_actions), so the version a
    device's stored uplinks were decoded with stays available, for replay among other things. The
    application is the product's, kept here so lists and the API scope codecs without a join.
    """

    codec_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="codec")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="codecs")
    # The online builder's document as last saved, deployed or not (products.codecs.online).
    draft = models.JSONField(null=True, blank=True)
    # The fPort a TTN or ChirpStack codec gets per channel of uplinks without one (products.codecs.ports).
    uplink_ports = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CodecQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["application", "id"], name="codec_app_list")]

    def __str__(self) -> str:
        return f"codec of {self.product_id}"


class CodecVersion(models.Model):
    """One deployed or uploaded version of a codec, never changed after it is stored.

    `definition` is the online plugin's messages (kind online) or the offline plugin's manifest
    (script, ttn); `source` the offline plugin's script, `archive` its zip as uploaded, `vectors` its
    test vectors. `checksum` (SHA-256 of kind, definition and source) says whether two versions
    behave alike. At most one version of a codec is active (a partial unique index), and decoding
    uses it unless a caller asks for another (replay).
    """

    codec = models.ForeignKey(Codec, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=CodecKind.choices)
    active = models.BooleanField(default=False)
    definition = models.JSONField(default=dict)
    source = models.TextField(blank=True, default="")
    vectors = models.JSONField(default=dict)
    archive = models.BinaryField(null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True, default="")
    plugin_version = models.CharField(max_length=64, blank=True, default="")
    checksum = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["codec", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["codec", "number"], name="codec_version_number_unique"),
            models.UniqueConstraint(fields=["codec"], condition=models.Q(active=True), name="codec_one_active_version"),
        ]

    def __str__(self) -> str:
        return f"version {self.number} of codec {self.codec_id}"
