from __future__ import annotations

from rest_framework import serializers


class SubscribeSerializer(serializers.Serializer):
    notifyType = serializers.CharField(max_length=64)
    callbackUrl = serializers.CharField(max_length=1024, allow_blank=True)
    appId = serializers.CharField(max_length=64, required=False)


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
