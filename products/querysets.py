"""Reusable lookups for products, scoped to what a caller may see or change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

from applications.models import Application, Role
from applications.picking import PICK_APPLICATIONS, PICK_LIMIT, Key, could_be_uuid_start, prefix_pks

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from products.models import Codec, Product  # noqa: F401

# Portal roles that may create, edit and delete products; viewers only read.
DEVELOPING_ROLES = (Role.OWNER, Role.DEVELOPER)


def pick_keys(text: str) -> list[Key]:
    """(alias, expression, prefix) of each key a product picker matches the start of: the device type,
    manufacturer name, manufacturerId and model in any case, and the productId when the text could start
    one. Each expression is that of an index (product_pick_*), so `<alias>__startswith` is a range."""
    from django.db.models import TextField
    from django.db.models.functions import Cast, Collate, Upper

    keys = [
        (f"{column}_key", Collate(Upper(column), "C"), text.upper())
        for column in ("device_type", "manufacturer_name", "manufacturer_id", "model")
    ]
    if could_be_uuid_start(text):
        keys.append(("product_id_key", Collate(Cast("product_id", TextField()), "C"), text.lower()))
    return keys


def pick_products(application_ids: list[int], text: str, *, limit: int = PICK_LIMIT) -> list[Product]:
    """The first `limit` products of these applications whose device type, manufacturer (name or id),
    model or productId starts with `text` (any case), in the lists' order: what a product picker lists.
    Each (application, key) is a range of its index (applications.picking.prefix_pks)."""
    from products.models import Product

    text = text.strip()
    if not text or not application_ids:
        return []
    scopes = [Product.objects.filter(application_id=pk) for pk in application_ids[:PICK_APPLICATIONS]]
    return list(
        Product.objects.filter(pk__in=list(prefix_pks(scopes, pick_keys(text), limit=limit)))
        .select_related("application")
        .only("product_id", "device_type", "manufacturer_id", "manufacturer_name", "model", "application__name")
        .order_by("device_type", "manufacturer_id", "model")[:limit]
    )


def applications_developed_by(user: AbstractBaseUser) -> models.QuerySet[Application]:
    """Applications in which this account may create and change products (operators: all)."""
    if not user.is_authenticated:
        return Application.objects.none()
    if user.is_staff:
        return Application.objects.all()
    return Application.objects.filter(memberships__user=user, memberships__role__in=DEVELOPING_ROLES)


class ProductQuerySet(models.QuerySet):
    def for_app(self, application: Application) -> ProductQuerySet:
        return self.filter(application=application)

    def visible_to(self, user: AbstractBaseUser) -> ProductQuerySet:
        """Products of the applications the account sees (Application.objects.visible_to)."""
        return self.filter(application__in=Application.objects.visible_to(user))

    def changeable_by(self, user: AbstractBaseUser) -> ProductQuerySet:
        return self.filter(application__in=applications_developed_by(user))

    def search(self, query: str) -> ProductQuerySet:
        """Products whose device type, manufacturer, model or service types contain the words."""
        result = self
        for word in query.lower().split():
            result = result.filter(search_text__contains=word)
        return result

    def for_list(self) -> ProductQuerySet:
        """What a list shows and no more: not the profile and the zip, which can be large, nor the
        application's secrets."""
        return self.select_related("application").only(*LIST_FIELDS, "application__name", "application__app_id")


class CodecQuerySet(models.QuerySet):
    def for_app(self, application: Application) -> CodecQuerySet:
        return self.filter(application=application)

    def visible_to(self, user: AbstractBaseUser) -> CodecQuerySet:
        return self.filter(application__in=Application.objects.visible_to(user))

    def changeable_by(self, user: AbstractBaseUser) -> CodecQuerySet:
        return self.filter(application__in=applications_developed_by(user))

    def with_summary(self) -> CodecQuerySet:
        """What lists show, in one query: the product's names, the active version's number and kind,
        how many versions, whether a draft is kept, the uplink ports; never the draft or any version's content."""
        from products.models import CodecVersion

        active = CodecVersion.objects.filter(codec=models.OuterRef("pk"), active=True)
        return (
            self.select_related("product")
            .only(
                "codec_id",
                "application",
                "created_at",
                "updated_at",
                "uplink_ports",
                "product__product_id",
                "product__device_type",
                "product__manufacturer_id",
                "product__model",
            )
            .annotate(
                active_number=models.Subquery(active.values("number")[:1]),
                active_kind=models.Subquery(active.values("kind")[:1]),
                version_count=models.Count("versions"),
                has_draft=models.ExpressionWrapper(models.Q(draft__isnull=False), output_field=models.BooleanField()),
            )
        )


# The columns a list of products shows (portal and API).
LIST_FIELDS = (
    "product_id",
    "application",
    "device_type",
    "manufacturer_id",
    "manufacturer_name",
    "model",
    "protocol_type",
    "lwm2m_gateway",
    "lwm2m_object19",
    "lwm2m_uplink_instance",
    "lwm2m_downlink_instance",
    "origin",
    "service_count",
    "property_count",
    "command_count",
    "created_at",
    "updated_at",
)
