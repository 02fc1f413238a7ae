"""The batch-task call's body (`POST /iocm/app/batchtask/v1.1.0/tasks`), as one serializer.

The same serializer parses the body (`commands.actions.do_create_batch_task`) and describes it in the
OpenAPI schema (`commands.api.serializers`). The task's own fields answer 100007 with the original's
sentences, the first bad one in the order they were checked; `param` is described in full but its
content is checked later, after the task limits (105001, 105002), as the original did.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.errors import NorthboundError


class CommandDTO(serializers.Serializer):
    serviceId = serializers.CharField(max_length=64, help_text="A service of the device's product profile.")
    method = serializers.CharField(max_length=128, help_text="A command of that service (commandName).")
    paras = serializers.DictField(
        required=False, help_text="The command's paras, each checked against the profile (type, range, length)."
    )


class BatchParam(serializers.Serializer):
    type = serializers.ChoiceField(["DeviceList", "DeviceType", "GroupList", "Broadcast"])
    deviceList = serializers.ListField(child=serializers.CharField(), required=False, help_text="type DeviceList")
    deviceType = serializers.CharField(required=False, help_text="type DeviceType (with manufacturerId, model)")
    manufacturerId = serializers.CharField(required=False)
    model = serializers.CharField(required=False)
    groupList = serializers.ListField(child=serializers.CharField(), required=False, help_text="type GroupList")
    command = CommandDTO()
    callbackUrl = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    maxRetransmit = serializers.IntegerField(required=False, min_value=0, max_value=3)


class _Strict(serializers.Field):
    """A JSON value taken only in its own type; `accepts` says which."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> Any:
        if not self.accepts(data):
            raise serializers.ValidationError("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 256})
class TaskName(_Strict):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and 1 <= len(value) <= 256


@extend_schema_field({"type": "integer", "minimum": 10, "maximum": 2880})
class Minutes(_Strict):
    def accepts(self, value: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, int) and 10 <= value <= 2880


@extend_schema_field({"type": "string", "enum": ["DeviceCmd"]})
class TaskType(_Strict):
    def accepts(self, value: Any) -> bool:
        return value == "DeviceCmd"


@extend_schema_field(BatchParam)
class Param(_Strict):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)


@extend_schema_field(OpenApiTypes.STR)
class Ignored(serializers.JSONField):
    """Sent by the original's clients and not used: the task belongs to the calling application."""


class BatchTaskRequest(serializers.Serializer):
    appId = Ignored(required=False)
    taskName = TaskName(help_text="Unique among the application's tasks.")
    timeout = Minutes(help_text="Minutes the task's commands wait for their devices, 10 to 2880.")
    taskType = TaskType(required=False, default="DeviceCmd")
    param = Param(help_text="Which devices, and the command each of them gets.")
    tags = serializers.JSONField(required=False, help_text="Kept with the task.")

    # The original's sentence for each field; the fields are declared in the order it checked them.
    SENTENCES = {
        "non_field_errors": "Bad request message: the body must be a JSON object.",
        "taskName": "Bad request message: taskName must be 1 to 256 characters.",
        "timeout": "Bad request message: timeout must be 10 to 2880 minutes.",
        "taskType": "Bad request message: taskType must be DeviceCmd with a param object.",
        "param": "Bad request message: taskType must be DeviceCmd with a param object.",
    }

    def checked(self) -> dict[str, Any]:
        """The task's fields, or 100007 with the sentence of the first bad one."""
        if not self.is_valid():
            first = min(
                self.errors, key=lambda name: list(self.SENTENCES).index(name) if name in self.SENTENCES else 99
            )
            raise NorthboundError("100007", self.SENTENCES.get(first, "Bad request message."))
        return dict(self.validated_data)
