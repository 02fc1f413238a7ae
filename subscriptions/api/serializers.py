from __future__ import annotations

from rest_framework import serializers


class SubscribeSerializer(serializers.Serializer):
    notifyType = serializers.CharField(max_length=64)
    callbackUrl = serializers.CharField(max_length=1024, allow_blank=True, required=False)
    appId = serializers.CharField(max_length=64, required=False)
    channel = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="HTTP (default): POSTed to callbackUrl. MQTTS: published on the platform's MQTT broker to "
        "/huawei/v1/apps/{appId}/notify/{notifyType}, QoS 1 (callbackUrl then not used).",
    )

    def validate(self, attrs: dict) -> dict:
        # callbackUrl is required for HTTP pushes only; an MQTTS subscription has nothing to call back.
        # (An unknown channel is refused by the action, naming the channel.)
        if attrs.get("channel") in (None, "", "HTTP") and "callbackUrl" not in attrs:
            raise serializers.ValidationError({"callbackUrl": "This field is required."})
        return attrs


class LegacySubscribeSerializer(serializers.Serializer):
    notifyType = serializers.CharField(max_length=64)
    callbackurl = serializers.CharField(max_length=1024, allow_blank=True)
    useUnifiedUrl = serializers.BooleanField(required=False)


class SubscriptionSerializer(serializers.Serializer):
    subscriptionId = serializers.CharField()
    notifyType = serializers.CharField()
    callbackUrl = serializers.CharField()


class SubscriptionPageSerializer(serializers.Serializer):
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    totalCount = serializers.IntegerField()
    subscriptions = SubscriptionSerializer(many=True)
