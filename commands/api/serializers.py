"""Request and response shapes of the command and batch-task calls (northbound-api.md section 3).

The bodies are built by `commands.presenters` and checked by `commands.actions` (the profile decides
which paras a command takes); these serializers are what the OpenAPI schema says of them.
"""

from __future__ import annotations

from rest_framework import serializers

from commands.models import CommandStatus
from commands.requests import BatchParam as BatchParam
from commands.requests import BatchTaskRequest as BatchTaskRequest  # parses the call too
from commands.requests import CommandDTO

TIME = "yyyyMMddTHHmmssZ (UTC), null until it happens"


class CreateCommandRequest(serializers.Serializer):
    deviceId = serializers.CharField()
    command = CommandDTO()
    callbackUrl = serializers.CharField(
        required=False, allow_blank=True, max_length=1024, help_text="Each status change is pushed here."
    )
    expireTime = serializers.IntegerField(
        required=False, min_value=0, max_value=2_147_483_647,
        help_text="Seconds the command waits for the device; 0 sends at once (default 172800).",
    )  # fmt: skip
    maxRetransmit = serializers.IntegerField(required=False, min_value=0, max_value=3, help_text="Default 3.")


class LegacyCreateCommandRequest(serializers.Serializer):
    command = CommandDTO()
    callbackUrl = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    expireTime = serializers.IntegerField(required=False, min_value=0, max_value=2_147_483_647)


class CommandResult(serializers.Serializer):
    resultCode = serializers.ChoiceField(CommandStatus.choices)
    resultDetail = serializers.DictField(allow_null=True, help_text="The device's response paras.")


class DeviceCommand(serializers.Serializer):
    commandId = serializers.CharField(help_text="32 hex digits.")
    appId = serializers.CharField()
    deviceId = serializers.CharField()
    command = CommandDTO()
    callbackUrl = serializers.CharField(allow_null=True)
    expireTime = serializers.IntegerField()
    status = serializers.ChoiceField(CommandStatus.choices)
    creationTime = serializers.CharField(help_text="yyyyMMddTHHmmssZ (UTC)")
    executeTime = serializers.CharField(allow_null=True, help_text=TIME)
    platformIssuedTime = serializers.CharField(allow_null=True, help_text=TIME)
    deliveredTime = serializers.CharField(allow_null=True, help_text=TIME)
    issuedTimes = serializers.IntegerField()
    maxRetransmit = serializers.IntegerField()


class CommandWithResult(DeviceCommand):
    result = CommandResult()


class Pagination(serializers.Serializer):
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    totalSize = serializers.IntegerField()


class CommandPage(serializers.Serializer):
    pagination = Pagination()
    data = CommandWithResult(many=True)


class CancelCommandRequest(serializers.Serializer):
    status = serializers.ChoiceField(["CANCELED"])


class DeviceRequest(serializers.Serializer):
    deviceId = serializers.CharField()


class CancelTask(serializers.Serializer):
    taskId = serializers.CharField()
    appId = serializers.CharField()
    deviceId = serializers.CharField()
    status = serializers.ChoiceField(["SUCCESS"])
    totalCount = serializers.IntegerField()
    deviceCommands = CommandWithResult(many=True)


class LegacyCommandResult(serializers.Serializer):
    resultCode = serializers.ChoiceField(CommandStatus.choices)


class LegacyCommand(serializers.Serializer):
    commandId = serializers.CharField()
    command = CommandDTO()
    expireTime = serializers.IntegerField()
    result = LegacyCommandResult()


class LegacyCommandList(serializers.Serializer):
    totalCount = serializers.IntegerField()
    list = LegacyCommand(many=True)


class LegacyCancelAnswer(serializers.Serializer):
    deviceId = serializers.CharField()
    totalCount = serializers.IntegerField(help_text="How many pending commands were canceled.")


class BatchTaskCreated(serializers.Serializer):
    taskID = serializers.CharField(help_text="Capital ID, as the original answers it.")


class BatchTaskSerializer(serializers.Serializer):
    taskId = serializers.CharField()
    taskName = serializers.CharField()
    appId = serializers.CharField()
    operator = serializers.CharField()
    taskFrom = serializers.CharField()
    taskType = serializers.ChoiceField(["DeviceCmd"])
    status = serializers.CharField(help_text="Pending, Running, Complete or Timeout")
    startTime = serializers.CharField()
    timeout = serializers.IntegerField(help_text="Minutes.")
    progress = serializers.IntegerField(help_text="Per mille.")
    totalCnt = serializers.IntegerField()
    successCnt = serializers.IntegerField()
    failCnt = serializers.IntegerField()
    timeoutCnt = serializers.IntegerField()
    expiredCnt = serializers.IntegerField()
    completeCnt = serializers.IntegerField()
    successRate = serializers.IntegerField(help_text="Per mille.")
    param = serializers.DictField()


class BatchTaskDetailParam(serializers.Serializer):
    deviceId = serializers.CharField()
    commandId = serializers.CharField(allow_null=True)


class BatchTaskDetail(serializers.Serializer):
    status = serializers.ChoiceField(["Pending", "WaitResult", "Success", "Fail", "Timeout"])
    output = serializers.CharField(help_text='JSON text: {"requestId":…,"commandResult":…}')
    error = serializers.CharField(allow_null=True, help_text="JSON text: the error body the device's command got")
    param = BatchTaskDetailParam()


class BatchTaskDetailPage(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    taskDetails = BatchTaskDetail(many=True)


class DeliveryPolicyValues(serializers.Serializer):
    powerMode = serializers.ChoiceField(["PSM", "DRX", "eDRX", ""], required=False)
    lwm2mDownlink = serializers.ChoiceField(["write", "execute", ""], required=False)


class DeliveryPolicy(DeliveryPolicyValues):
    effective = DeliveryPolicyValues(required=False, help_text="A device's: what applies after inheritance.")
