"""Shapes of the device calls, for the OpenAPI schema; GroupRequest and ModifyDeviceRequest parse theirs too."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.errors import NorthboundError
from devices.requests import ModifyDeviceRequest as ModifyDeviceRequest  # parses the modify call too
from devices.requests import StrictField, Text


class RegisterRequest(serializers.Serializer):
    nodeId = serializers.CharField(max_length=256, help_text="IMEI for NB-IoT devices; one nodeId, one device.")
    verifyCode = serializers.CharField(max_length=256, required=False, help_text="Defaults to nodeId.")
    endUserId = serializers.CharField(required=False, help_text="IMSI.")
    psk = serializers.CharField(required=False, help_text="8 to 32 hex digits; generated when absent.")
    timeout = serializers.IntegerField(required=False, help_text="Seconds to bind, 0 = never expires; default 180.")
    isSecure = serializers.BooleanField(required=False)
    deviceInfo = serializers.DictField(
        required=False, help_text="Legacy v1.2.0: manufacturerId, deviceType, model, name…"
    )


class RegisterResponse(serializers.Serializer):
    deviceId = serializers.CharField()
    verifyCode = serializers.CharField()
    psk = serializers.CharField(help_text="Shown only in this answer.")
    timeout = serializers.IntegerField()


class PasswordRegisterRequest(serializers.Serializer):
    deviceInfo = serializers.DictField(help_text="nodeId, name, description, deviceType, manufacturerId, model…")


class PasswordRegisterResponse(serializers.Serializer):
    deviceId = serializers.CharField()
    secret = serializers.CharField(help_text="The device's secret for MQTT; shown only in this answer.")
    timeout = serializers.IntegerField()


class ActivationResponse(serializers.Serializer):
    deviceId = serializers.CharField()
    activated = serializers.BooleanField()
    name = serializers.CharField(allow_null=True)


class RefreshKeyRequest(serializers.Serializer):
    verifyCode = serializers.CharField(required=False)
    nodeId = serializers.CharField(required=False)
    timeout = serializers.IntegerField(required=False)


class RefreshKeyResponse(serializers.Serializer):
    verifyCode = serializers.CharField()
    timeout = serializers.IntegerField()


class ServiceSerializer(serializers.Serializer):
    serviceId = serializers.CharField()
    serviceType = serializers.CharField()
    serviceInfo = serializers.DictField(allow_null=True)
    data = serializers.DictField()
    eventTime = serializers.CharField()


class DeviceSerializer(serializers.Serializer):
    deviceId = serializers.CharField()
    gatewayId = serializers.CharField()
    nodeType = serializers.ChoiceField(["ENDPOINT", "GATEWAY"])
    createTime = serializers.CharField(help_text="yyyyMMddTHHmmssZ")
    lastModifiedTime = serializers.CharField()
    deviceInfo = serializers.DictField(help_text="The 23 DeviceInfo fields (status, statusDetail, nodeId, …).")
    services = ServiceSerializer(many=True)


class DevicePageSerializer(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    devices = DeviceSerializer(many=True)


class HistoryRow(serializers.Serializer):
    deviceId = serializers.CharField()
    gatewayId = serializers.CharField()
    appId = serializers.CharField()
    serviceId = serializers.CharField()
    data = serializers.DictField()
    timestamp = serializers.CharField()


class HistoryPage(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    deviceDataHistoryDTOs = HistoryRow(many=True)


class Capabilities(serializers.Serializer):
    deviceCapabilities = serializers.ListField(child=serializers.DictField())


MAX_GROUP_DEVICES = 2**31 - 1  # the column's range (0: no limit)
GROUP_INVALID = "The device group request parameter is invalid"


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_GROUP_DEVICES})
class GroupSize(StrictField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or not 0 <= data <= MAX_GROUP_DEVICES:
            raise serializers.ValidationError("invalid")
        return data


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class DeviceIds(StrictField):
    """deviceIds; absent, null or empty: none."""

    def to_internal_value(self, data: Any) -> list[str]:
        if not data:
            return []
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise serializers.ValidationError("invalid")
        return data


class GroupRequest(serializers.Serializer):
    """A group's fields; parsed by the create and modify calls (modify: deviceIds is not read, and an
    absent or null name is kept). Each bad field answers 100604 with the original's sentence."""

    name = Text(64, min_length=1, help_text="1 to 64 characters; required to create.")
    description = Text(1024)
    maxDevNum = GroupSize(source="max_devices", help_text="0: no limit")
    deviceIds = DeviceIds(help_text="Devices to put in the group when it is created.")

    SENTENCES = {
        "name": f"{GROUP_INVALID}: name must be 1 to 64 characters.",
        "description": f"{GROUP_INVALID}: description is too long.",
        "maxDevNum": f"{GROUP_INVALID}: maxDevNum must be 0 to {MAX_GROUP_DEVICES}.",
        "deviceIds": f"{GROUP_INVALID}: deviceIds must be a list.",
    }

    def changes(self, *, creating: bool) -> dict[str, Any]:
        """The model fields given (and `deviceIds` when creating), or 100604 naming the first bad one."""
        if not creating:
            del self.fields["deviceIds"]  # a modification does not read it
        errors = dict(self.errors) if not self.is_valid() else {}
        if creating and self.initial_data.get("name") is None:  # null passes the field: not here
            errors = {"name": ["required"], **errors}
        if errors:
            raise NorthboundError("100604", self.SENTENCES[next(iter(errors))])
        return {key: value for key, value in self.validated_data.items() if value is not None}


class GroupSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    appId = serializers.CharField()
    maxDevNum = serializers.IntegerField()
    curDevNum = serializers.IntegerField()
    creator = serializers.CharField(allow_null=True, help_text="appId, or the portal account that made it")


class GroupPage(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    list = GroupSerializer(many=True)


class GroupMembers(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    deviceIds = serializers.ListField(child=serializers.CharField())


class GroupTagRequest(serializers.Serializer):
    devGroupId = serializers.CharField()
    deviceIds = serializers.ListField(child=serializers.CharField())


class GeoInfo(serializers.Serializer):
    coordinateReferenceSystem = serializers.DictField(required=False, allow_null=True)


class RealtimeLocationRequest(serializers.Serializer):
    deviceId = serializers.CharField(max_length=64)
    horAcc = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**31 - 1, help_text="metres (default 1000)"
    )
    geoInfo = GeoInfo(required=False, allow_null=True)


class Position(serializers.Serializer):
    time = serializers.CharField()
    utcOff = serializers.CharField()
    srsName = serializers.CharField()
    X = serializers.CharField(help_text="latitude, degrees")
    Y = serializers.CharField(help_text="longitude, degrees")
    radius = serializers.CharField(allow_null=True, help_text="accuracy, metres, when the device reported one")


class PositionError(serializers.Serializer):
    time = serializers.CharField()
    resid = serializers.CharField()
    add_info = serializers.CharField()


class RealtimeLocation(serializers.Serializer):
    deviceId = serializers.CharField()
    pd = Position(allow_null=True)
    poserr = PositionError(allow_null=True)
