"""The rules API's bodies, for the OpenAPI schema (the views answer through rules.presenters)."""

from __future__ import annotations

from rest_framework import serializers


class RuleSerializer(serializers.Serializer):
    ruleId = serializers.CharField(required=False, help_text="Required to modify (PUT)")
    name = serializers.CharField()
    description = serializers.CharField(required=False)
    author = serializers.CharField(required=False, help_text="Default: the application's appId")
    conditions = serializers.ListField(child=serializers.DictField(), help_text="docs/rules.md: condition types")
    logic = serializers.ChoiceField(["and", "or"], required=False)
    timeRange = serializers.DictField(required=False, help_text="startTime, endTime (HH:mm), daysOfWeek (1-7)")
    actions = serializers.ListField(child=serializers.DictField(), help_text="DEVICE_CMD, DEVICE_ALARM, WEBHOOK")
    status = serializers.ChoiceField(["active", "inactive"], required=False)
    timezoneID = serializers.CharField(required=False)


class RuleIdSerializer(serializers.Serializer):
    ruleId = serializers.CharField()


class StatusRequestSerializer(serializers.Serializer):
    ruleId = serializers.CharField()
    status = serializers.ChoiceField(["active", "inactive"])


class StatusRequestsSerializer(serializers.Serializer):
    requests = StatusRequestSerializer(many=True)


class ResultSerializer(serializers.Serializer):
    result_code = serializers.CharField()
    result_desc = serializers.CharField()


class StatusResponseSerializer(serializers.Serializer):
    ruleId = serializers.CharField()
    result = ResultSerializer()


class StatusResponsesSerializer(serializers.Serializer):
    result = ResultSerializer()
    responses = StatusResponseSerializer(many=True)


class AlarmSerializer(serializers.Serializer):
    alarmId = serializers.CharField()
    name = serializers.CharField()
    severity = serializers.ChoiceField(["warning", "minor", "major", "critical"])
    state = serializers.ChoiceField(["ACTIVE", "ACKNOWLEDGED", "CLEARED"])
    description = serializers.CharField()
    deviceId = serializers.CharField(allow_null=True)
    ruleId = serializers.CharField(allow_null=True)
    ruleName = serializers.CharField(allow_null=True)
    value = serializers.JSONField(allow_null=True)
    count = serializers.IntegerField()
    raisedTime = serializers.CharField()
    lastRaisedTime = serializers.CharField()
    acknowledgedTime = serializers.CharField(allow_null=True)
    acknowledgedBy = serializers.CharField(allow_null=True)
    clearedTime = serializers.CharField(allow_null=True)
    clearedBy = serializers.CharField(allow_null=True)


class AlarmPageSerializer(serializers.Serializer):
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    totalCount = serializers.IntegerField()
    alarms = AlarmSerializer(many=True)


class AlarmIdsSerializer(serializers.Serializer):
    alarmIds = serializers.ListField(child=serializers.CharField(), max_length=1000)


class AlarmCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()
