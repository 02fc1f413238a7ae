"""Shapes of the device calls, for the OpenAPI schema (validation is in devices.actions)."""

from __future__ import annotations

from rest_framework import serializers

from devices.requests import ModifyDeviceRequest as ModifyDeviceRequest  # parses the modify call too


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


class GroupRequest(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    description = serializers.CharField(required=False)
    maxDevNum = serializers.IntegerField(required=False, help_text="0: no limit")
    deviceIds = serializers.ListField(child=serializers.CharField(), required=False)


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
