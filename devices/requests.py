"""The modify-device call's body (`PUT /iocm/app/dm/v1.x.0/devices/{deviceId}`), as one serializer.

The same serializer parses the body (`devices.actions.check_modify`) and describes it in the OpenAPI
schema (`devices.api.serializers`). Every field is optional and `null` means "leave as is", as the
original's SDKs send every field of their DTO. A bad field answers 100022 naming the first bad one, in
the order the fields are declared, with the same text as the checks the serializer replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.errors import NorthboundError

PSK_PATTERN = re.compile(r"^[0-9a-fA-F]{8,32}$")
PROTOCOL_TYPES = (
    "CoAP", "huaweiM2M", "Z-Wave", "ONVIF", "WPS", "Hue", "WiFi", "J808", "Gateway", "ZigBee", "LWM2M",
)  # fmt: skip


class StrictField(serializers.Field):
    """A JSON value taken only in its own type (no `5` for a string, no `"true"` for a boolean)."""

    rule = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_null=True, **kwargs)

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> Any:
        if not self.accepts(data):
            raise serializers.ValidationError(self.rule)
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(OpenApiTypes.STR)
class Text(StrictField):
    def __init__(self, max_length: int, *, min_length: int = 0, **kwargs: Any) -> None:
        self.max_length, self.min_length = max_length, min_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or len(data) > self.max_length:
            raise serializers.ValidationError(f"must be a string of at most {self.max_length} characters")
        if len(data) < self.min_length:
            raise serializers.ValidationError(f"must be {self.min_length} to {self.max_length} characters")
        return data


@extend_schema_field({"type": "string", "enum": ["TRUE", "FALSE"]})
class Flag(StrictField):
    """The original's boolean-as-text: "TRUE" or "FALSE"."""

    rule = 'must be "TRUE" or "FALSE"'

    def accepts(self, value: Any) -> bool:
        return value in ("TRUE", "FALSE")

    def to_internal_value(self, data: Any) -> bool:
        return super().to_internal_value(data) == "TRUE"


@extend_schema_field({"type": "string", "enum": list(PROTOCOL_TYPES)})
class ProtocolType(StrictField):
    rule = f"must be one of {', '.join(PROTOCOL_TYPES)}"

    def accepts(self, value: Any) -> bool:
        return value in PROTOCOL_TYPES


@extend_schema_field(OpenApiTypes.BOOL)
class Boolean(StrictField):
    rule = "must be true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


@extend_schema_field({"type": "string", "pattern": "^[0-9a-fA-F]{8,32}$"})
class Psk(StrictField):
    rule = "must be 8 to 32 hexadecimal characters"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and PSK_PATTERN.match(value) is not None


class DataConfig(serializers.Serializer):
    dataAgingTime = serializers.IntegerField(min_value=0, max_value=90, help_text="Days of history kept, 0 to 90.")


class DeviceConfig(serializers.Serializer):
    dataConfig = DataConfig()


@extend_schema_field(DeviceConfig)
class AgingDays(StrictField):
    """`{"dataConfig": {"dataAgingTime": 0..90}}`, read as the whole number of days."""

    field = "deviceConfig.dataConfig.dataAgingTime"
    rule = "must be a whole number of days from 0 to 90"

    def to_internal_value(self, data: Any) -> int:
        aging = (data.get("dataConfig") or {}).get("dataAgingTime") if isinstance(data, Mapping) else None
        if isinstance(aging, bool) or not isinstance(aging, int) or not 0 <= aging <= 90:
            raise serializers.ValidationError(self.rule)
        return aging


class ModifyDeviceRequest(serializers.Serializer):
    """What a modify call may change; the keys of `changes()` are the Device model's fields."""

    name = Text(256, min_length=1)
    endUser = Text(256, source="end_user")
    manufacturerId = Text(256, source="manufacturer_id")
    manufacturerName = Text(256, source="manufacturer_name")
    deviceType = Text(256, source="device_type", help_text="With manufacturerId and model: ties the product.")
    model = Text(256)
    location = Text(1024)
    region = Text(256)
    organization = Text(256)
    timezone = Text(64, help_text="e.g. Asia/Shanghai")
    imsi = Text(64)
    mute = Flag(help_text="TRUE: the device's commands are refused with 100432.")
    protocolType = ProtocolType(source="protocol_type")
    isSecure = Boolean(source="is_secure")
    psk = Psk()
    deviceConfig = AgingDays(source="data_aging_days")

    def changes(self) -> dict[str, Any]:
        """The validated fields to change, or 100022 naming the first bad one."""
        if not self.is_valid():
            name, messages = next(iter(self.errors.items()))
            if name == "non_field_errors":  # not a JSON object
                raise NorthboundError("100022", "The input is invalid: the body must be a JSON object.")
            where = AgingDays.field if name == "deviceConfig" else name
            raise NorthboundError("100022", f"The input is invalid: {where} {messages[0]}.")
        return {field: value for field, value in self.validated_data.items() if value is not None}
