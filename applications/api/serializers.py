"""Request and response shapes of the authentication and application calls."""

from __future__ import annotations

from rest_framework import serializers

# The error bodies live beside the schema helpers that declare them; imported from here too.
from applications.schema import ErrorSerializer as ErrorSerializer
from applications.schema import GatewayErrorSerializer as GatewayErrorSerializer


class LoginSerializer(serializers.Serializer):
    appId = serializers.CharField(max_length=64)
    secret = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshSerializer(LoginSerializer):
    refreshToken = serializers.CharField(max_length=128)


class LogoutSerializer(serializers.Serializer):
    accessToken = serializers.CharField(max_length=128)


class TokenSerializer(serializers.Serializer):
    accessToken = serializers.CharField()
    tokenType = serializers.CharField(help_text="Always `bearer`.")
    refreshToken = serializers.CharField()
    expiresIn = serializers.IntegerField(help_text="Seconds the access token stays valid (3600).")
    scope = serializers.CharField(help_text="Always `default`.")


class SecondsField(serializers.IntegerField):
    """The original's clients send these as strings ("10000") or numbers: accept both."""

    def __init__(self, **kwargs):
        super().__init__(min_value=60, max_value=2**31 - 1, **kwargs)


class DeviceStatusTimeConfigSerializer(serializers.Serializer):
    abnormalTime = SecondsField(required=False, help_text="Seconds without a report before ABNORMAL.")
    offlineTime = SecondsField(required=False, help_text="Seconds without a report before OFFLINE.")


class ModifyApplicationSerializer(serializers.Serializer):
    deviceStatusTimeConfig = DeviceStatusTimeConfigSerializer()


class ApplicationInfoSerializer(serializers.Serializer):
    appId = serializers.CharField()
    appName = serializers.CharField()
    deviceStatusTimeConfig = DeviceStatusTimeConfigSerializer()
    storageMode = serializers.BooleanField()
    pushProtocol = serializers.CharField()
    dataAgingTime = serializers.IntegerField(help_text="History retention in days (0 to 90).")
    deviceQuota = serializers.IntegerField()
    flowControl = serializers.DictField(help_text="calls allowed per window of windowSeconds.")
