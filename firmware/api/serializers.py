"""Request and response shapes of the upgrade calls (northbound-api.md section 6, iodm).

The bodies are built by `firmware.presenters` and checked by `firmware.actions` (errors 123001 to
123034); these serializers are what the OpenAPI schema says of them.
"""

from __future__ import annotations

from rest_framework import serializers

from firmware.models import FileType, OperationStatus, SubStatus
from firmware.requests import UpgradeRequest as UpgradeRequest  # parses the call's body too

TIME = "yyyyMMddTHHmmssZ (UTC), null until it happens"


class PackageSerializer(serializers.Serializer):
    fileId = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField()
    fileType = serializers.ChoiceField(FileType.values)
    deviceType = serializers.CharField()
    model = serializers.CharField()
    manufacturerName = serializers.CharField()
    protocolType = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    date = serializers.CharField(help_text="yyyyMMddTHHmmssZ (UTC)")
    uploadTime = serializers.CharField(help_text="yyyyMMddTHHmmssZ (UTC)")
    sourceVersions = serializers.ListField(child=serializers.CharField())
    sha256 = serializers.CharField()
    size = serializers.IntegerField()


class PackagePage(serializers.Serializer):
    data = PackageSerializer(many=True)
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    totalCount = serializers.IntegerField()


class UploadRequest(serializers.Serializer):
    file = serializers.FileField(help_text="The package: a zip of at most 35 MB.")
    fileType = serializers.ChoiceField(FileType.values)
    version = serializers.CharField(max_length=64)
    deviceType = serializers.CharField(max_length=64)
    manufacturerName = serializers.CharField(max_length=128)
    model = serializers.CharField(max_length=64)
    protocolType = serializers.CharField(max_length=16)
    sourceVersions = serializers.CharField(required=False, help_text="Versions it upgrades from, space-separated.")
    description = serializers.CharField(required=False, max_length=1024)


class OperationCreated(serializers.Serializer):
    operationId = serializers.CharField()


class Counts(serializers.Serializer):
    total = serializers.IntegerField()
    wait = serializers.IntegerField()
    processing = serializers.IntegerField()
    success = serializers.IntegerField()
    fail = serializers.IntegerField()
    stop = serializers.IntegerField()
    timeout = serializers.IntegerField()


class ExtendPara(serializers.Serializer):
    fileVersion = serializers.CharField()
    fileId = serializers.CharField()


class RolloutAnswer(serializers.Serializer):
    ratePerMinute = serializers.IntegerField()
    maxConcurrent = serializers.IntegerField()
    abortFailureRatio = serializers.FloatField(allow_null=True)


class UpgradeOperation(serializers.Serializer):
    operationId = serializers.CharField()
    createTime = serializers.CharField(help_text="yyyyMMddTHHmmssZ (UTC)")
    startTime = serializers.CharField(allow_null=True, help_text=TIME)
    stopTime = serializers.CharField(allow_null=True, help_text=TIME)
    operateType = serializers.ChoiceField(["firmware_upgrade", "software_upgrade"])
    targets = serializers.DictField()
    policy = serializers.DictField()
    status = serializers.ChoiceField(OperationStatus.choices)
    staResult = Counts()
    extendPara = ExtendPara()
    rollout = RolloutAnswer()


class OperationPage(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    data = UpgradeOperation(many=True)


class SubExtendInfo(serializers.Serializer):
    upgradeTime = serializers.CharField(allow_null=True)
    sourceVersion = serializers.CharField(allow_null=True)
    curVersion = serializers.CharField(allow_null=True)
    downloadTime = serializers.CharField(allow_null=True)
    targetVersion = serializers.CharField()


class SubOperationSerializer(serializers.Serializer):
    subOperationId = serializers.CharField()
    createTime = serializers.CharField(help_text="yyyyMMddTHHmmssZ (UTC)")
    startTime = serializers.CharField(allow_null=True, help_text=TIME)
    stopTime = serializers.CharField(allow_null=True, help_text=TIME)
    operateType = serializers.ChoiceField(["firmware_upgrade", "software_upgrade"])
    deviceId = serializers.CharField()
    status = serializers.ChoiceField(SubStatus.choices)
    detailInfo = serializers.CharField(allow_null=True)
    errorCode = serializers.CharField(allow_null=True)
    step = serializers.CharField()
    extendInfo = SubExtendInfo()


class SubOperationPage(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    data = SubOperationSerializer(many=True)
