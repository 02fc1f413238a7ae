"""Shapes of the Developer Center's profile calls under /api/v1/profiles."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.errors import CATALOGUE
from applications.formats import format_time
from products.models import LWM2M_OBJECT19_FORMS, Product
from products.validation import ProfileIssue


class ProfileUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The profile zip, named deviceType_manufacturerId_model.zip.")


class Lwm2mObject19Serializer(serializers.Serializer):
    """Object 19 (LwM2M APPDATA) for the product's LwM2M devices (docs/lwm2m.md)."""

    form = serializers.ChoiceField(
        LWM2M_OBJECT19_FORMS,
        source="lwm2m_object19",
        help_text="How downlinks are written: auto (by the registration's LwM2M version), huawei (opaque "
        "/19/{down}/0 first), standard (/19/{down}/0/0 for 1.1, TLV for 1.0 first).",
    )
    uplinkInstance = serializers.IntegerField(source="lwm2m_uplink_instance", help_text="Observed: /19/{up}/0.")
    downlinkInstance = serializers.IntegerField(source="lwm2m_downlink_instance", help_text="Written: /19/{down}/0.")


class ProfileSettingsSerializer(serializers.Serializer):
    """What PATCH changes on a product beside its profile."""

    lwm2mGateway = serializers.BooleanField(
        required=False, help_text="Its devices may act as LwM2M gateways (object 25)."
    )
    lwm2mObject19 = Lwm2mObject19Serializer(required=False)


class ProfileIssueSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="The rule, a stable code listed in docs/errors.md, e.g. PROFILE_JSON_SYNTAX."
    )
    file = serializers.CharField(help_text="The file inside the zip (or the zip's name); empty when not about one.")
    path = serializers.CharField(help_text="JSON path inside the file, e.g. $.services[0].properties[2].dataType.")
    line = serializers.IntegerField(allow_null=True, help_text="Line of a JSON syntax error, else null.")
    column = serializers.IntegerField(allow_null=True, help_text="Column of a JSON syntax error, else null.")
    message = serializers.CharField(help_text="What is wrong and how to fix it, in English.")
    message_zh = serializers.CharField(help_text="The same in Simplified Chinese.")


class ProfileErrorSerializer(serializers.Serializer):
    error_code = serializers.CharField(help_text="100022 for a profile that breaks a rule, 200002 when locked.")
    error_desc = serializers.CharField(help_text="One sentence: the platform's text and the first issue.")
    errors = ProfileIssueSerializer(
        many=True,
        required=False,
        help_text="Each rule the profile broke; absent when the request itself was malformed (a bad query "
        "parameter or JSON body), which answers the plain 100022 body.",
    )


def _time(value) -> str | None:
    return format_time(value)


class ProfileSummarySerializer(serializers.Serializer):
    """One product in a list. `deviceCount` is set by the view from one batched count."""

    profileId = serializers.UUIDField(source="product_id")
    deviceType = serializers.CharField(source="device_type")
    manufacturerId = serializers.CharField(source="manufacturer_id")
    manufacturerName = serializers.CharField(source="manufacturer_name")
    model = serializers.CharField()
    protocolType = serializers.CharField(source="protocol_type")
    lwm2mGateway = serializers.BooleanField(
        source="lwm2m_gateway",
        help_text="Its devices may act as LwM2M gateways (object 25); set with PATCH, not part of the zip.",
    )
    lwm2mObject19 = Lwm2mObject19Serializer(
        source="*", help_text="Object 19's instances and downlink form; set with PATCH, not part of the zip."
    )
    serviceCount = serializers.IntegerField(source="service_count")
    propertyCount = serializers.IntegerField(source="property_count")
    commandCount = serializers.IntegerField(source="command_count")
    origin = serializers.CharField(help_text="`upload` (a zip) or `online` (the portal's editor).")
    deviceCount = serializers.SerializerMethodField(help_text="Registered devices; more than 0 locks the product.")
    createdAt = serializers.SerializerMethodField(help_text="yyyyMMddTHHmmssZ")
    updatedAt = serializers.SerializerMethodField(help_text="yyyyMMddTHHmmssZ")

    @extend_schema_field(serializers.IntegerField())
    def get_deviceCount(self, product: Product) -> int:
        counts = self.context.get("device_counts")
        return counts[product.pk] if counts is not None else product.device_count()

    @extend_schema_field(serializers.CharField())
    def get_createdAt(self, product: Product) -> str | None:
        return _time(product.created_at)

    @extend_schema_field(serializers.CharField())
    def get_updatedAt(self, product: Product) -> str | None:
        return _time(product.updated_at)


class ParaSerializer(serializers.Serializer):
    paraName = serializers.CharField()
    dataType = serializers.CharField()
    required = serializers.BooleanField()
    min = serializers.JSONField(allow_null=True, help_text="Number or numeric string, as in the profile.")
    max = serializers.JSONField(allow_null=True)
    step = serializers.JSONField(allow_null=True)
    maxLength = serializers.IntegerField(allow_null=True)
    unit = serializers.CharField(allow_null=True)
    enumList = serializers.ListField(child=serializers.CharField(), allow_null=True)


class PropertySerializer(ParaSerializer):
    paraName = None
    propertyName = serializers.CharField()
    method = serializers.CharField(help_text="R (read), W (write), E (observe) combined, e.g. RE.")


class ResponseSerializer(serializers.Serializer):
    responseName = serializers.CharField()
    paras = ParaSerializer(many=True)


class CommandSerializer(serializers.Serializer):
    commandName = serializers.CharField()
    paras = ParaSerializer(many=True)
    responses = ResponseSerializer(many=True)


class ServiceCapabilitySerializer(serializers.Serializer):
    serviceId = serializers.CharField()
    serviceType = serializers.CharField()
    option = serializers.CharField(help_text="Master, Mandatory, Optional or empty.")
    description = serializers.CharField(allow_null=True)
    commands = CommandSerializer(many=True)
    properties = PropertySerializer(many=True)


class ProfileDetailSerializer(ProfileSummarySerializer):
    """One product with its services, shaped like deviceCapabilities (northbound-api.md section 2.9)."""

    serviceCapabilities = serializers.SerializerMethodField()

    @extend_schema_field(ServiceCapabilitySerializer(many=True))
    def get_serviceCapabilities(self, product: Product) -> list[dict[str, Any]]:
        return product.service_capabilities()


class ProfilePageSerializer(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    profiles = ProfileSummarySerializer(many=True)


def error_body(code: str, issues: list[ProfileIssue]) -> dict[str, Any]:
    """The body of a refused profile call: the platform's error_code and every issue (docs/errors.md)."""
    desc = CATALOGUE[code][1]
    first = issues[0]
    more = f" ({len(issues) - 1} more)" if len(issues) > 1 else ""
    where = f"{first.location}: " if first.location else ""
    return {
        "error_code": code,
        "error_desc": f"{desc} {where}{first.message_en}{more}",
        "errors": [issue.as_dict() for issue in issues],
    }
