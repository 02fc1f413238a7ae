"""The upgrade-task call's body (`POST /iodm/northbound/v1.5.0/operations/…Upgrade`), as one serializer.

The same serializer parses the body (`firmware.actions.check_operation`) and describes it in the OpenAPI
schema (`firmware.api.serializers`), so the two cannot drift. Its errors become the reference's codes
(northbound-api.md section 6): each failing check says its code, and when several fail the answer is
the one the original checks first (`ORDER`), so a body answers the same code as it always did.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from applications.errors import CATALOGUE, NorthboundError
from applications.formats import parse_time
from devices.models import Device, DeviceGroup
from firmware.models import FileType, Package

MAX_TARGETS = 256


def _refuse(code: str, message: str | None = None) -> serializers.ValidationError:
    """A failed check carrying the reference's code; `message` replaces the catalogue's text."""
    return serializers.ValidationError(message or CATALOGUE[code][1], code=code)


@extend_schema_field(OpenApiTypes.STR)
class RawText(serializers.JSONField):
    """A value read as sent and checked by the serializer's `validate`, in the original's order."""


@extend_schema_field(OpenApiTypes.BOOL)
class RawFlag(serializers.JSONField):
    """A value taken for true or false as JavaScript would (the original's clients send both kinds)."""


@extend_schema_field(OpenApiTypes.INT)
class RawNumber(serializers.JSONField):
    """A number checked by the serializer's `validate`, after the checks the original made first."""


@extend_schema_field(OpenApiTypes.INT)
class WholeNumber(serializers.Field):
    """A JSON integer from 0 (not `true`, not `"3"`, not `3.0`), as the original's typed DTOs read it."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        self.message = f"rollout.{name} must be 0 (no limit) or more."
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or data < 0:
            raise _refuse("123001", f"Bad request error: {self.message}")
        return data

    def to_representation(self, value: int) -> int:
        return value


@extend_schema_field(OpenApiTypes.DOUBLE)
class Ratio(serializers.Field):
    """A JSON number above 0 and at most 1."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float) or not 0 < data <= 1:
            raise _refuse("123001", "Bad request error: rollout.abortFailureRatio must be above 0 and at most 1.")
        return data

    def to_representation(self, value: float) -> float:
        return value


class UpgradeTargets(serializers.Serializer):
    """Which devices: a list of deviceIds or of device groups (one of the two), of the package's model."""

    manufacturerName = serializers.CharField(trim_whitespace=False)
    deviceType = serializers.CharField(trim_whitespace=False)
    model = serializers.CharField(trim_whitespace=False)
    devices = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        allow_null=True,
        help_text=f"deviceIds (at most {MAX_TARGETS}); or deviceGroups",
    )
    deviceGroups = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        allow_null=True,
        help_text=f"device group ids (at most {MAX_TARGETS})",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        devices, groups = attrs.get("devices"), attrs.get("deviceGroups")
        if not devices and not groups:
            raise _refuse("123022")
        if devices and groups:
            raise _refuse("123023")
        if len(devices or groups) > MAX_TARGETS:
            raise _refuse("123024")
        return attrs


class UpgradePolicy(serializers.Serializer):
    """When: now, when each device comes online, or in a custom window; and how often to retry."""

    executeType = serializers.ChoiceField(["now", "device_online", "custom"])
    startTime = RawText(required=False, help_text="executeType custom: yyyyMMddTHHmmssZ, not before now")
    endTime = RawText(required=False, help_text="executeType custom: at least 5 minutes after startTime")
    retryType = RawFlag(required=False, help_text="true: retry a failed device retryTimes times")
    retryTimes = RawNumber(required=False, help_text="1 to 5, with retryType")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # One check after the other, in the original's order (a field validator would run first).
        attrs["window"] = (None, None)
        if attrs["executeType"] == "custom":
            try:
                start, end = parse_time(attrs.get("startTime")), parse_time(attrs.get("endTime"))
            except ValueError:
                raise _refuse("123026") from None
            if start > end:
                raise _refuse("123032")
            if start < timezone.now() - dt.timedelta(minutes=1):
                raise _refuse("123033")
            if end - start < dt.timedelta(minutes=5):
                raise _refuse("123034")
            attrs["window"] = (start, end)
        attrs["retry_times"] = 0
        if attrs.get("retryType"):
            retry_times = attrs.get("retryTimes")
            if isinstance(retry_times, bool) or not isinstance(retry_times, int) or not 1 <= retry_times <= 5:
                raise _refuse("123028")
            attrs["retry_times"] = retry_times
        return attrs


class UpgradeRollout(serializers.Serializer):
    """This platform's addition: how fast the upgrade spreads, and when it stops by itself."""

    ratePerMinute = WholeNumber("ratePerMinute", required=False, help_text="Devices started per minute; 0: no limit")
    maxConcurrent = WholeNumber("maxConcurrent", required=False, help_text="Devices upgrading at once; 0: no limit")
    abortFailureRatio = Ratio(required=False, allow_null=True, help_text="Above 0, at most 1.")


class UpgradeRequest(serializers.Serializer):
    """The body of the call; `context` carries the calling `application` and the `operate_type`."""

    fileId = serializers.CharField(help_text="A package of the calling application, of the call's file type.")
    targets = UpgradeTargets()
    policy = UpgradePolicy()
    rollout = UpgradeRollout(required=False, allow_null=True)

    def validate_fileId(self, file_id: str) -> Package:
        package = Package.objects.filter(application=self.context["application"], file_id=file_id).first()
        if package is None:
            raise _refuse("123002")
        wanted = FileType.FIRMWARE if self.context["operate_type"] == "firmware_upgrade" else FileType.SOFTWARE
        if package.file_type != wanted:
            raise _refuse("123001", f"Bad request error: {package.file_id} is a {package.file_type}, not a {wanted}.")
        return package

    def validate_targets(self, targets: dict[str, Any]) -> dict[str, Any]:
        """The listed devices or groups must be the application's (ranked after the policy's checks)."""
        application = self.context["application"]
        devices = Device.objects.filter(application=application).select_related("product")
        if targets.get("devices"):
            wanted = list(dict.fromkeys(targets["devices"]))
            found = list(devices.filter(device_id__in=wanted))
            if len(found) != len(wanted):
                raise _refuse("123002")
        else:
            groups = list(DeviceGroup.objects.filter(application=application, dev_group_id__in=targets["deviceGroups"]))
            if len(groups) != len(set(targets["deviceGroups"])):
                raise _refuse("123027")
            found = list(devices.filter(groups__in=groups).distinct())
        return {**targets, "found": found}


# Where a failed check sits in the serializer's errors, in the order the original checked, and the
# code it answers when the check gave none itself (a missing field, a wrong type). `targets.found` is
# the check of which devices, which the original made after the policy's.
ORDER: dict[str, str] = {
    "non_field_errors": "123001",
    "fileId": "123002",
    "targets.non_field_errors": "123001",
    "targets.manufacturerName": "123019",
    "targets.deviceType": "123020",
    "targets.model": "123021",
    "targets.devices": "123001",
    "targets.deviceGroups": "123001",
    "policy.non_field_errors": "123025",
    "policy.executeType": "123025",
    "policy.startTime": "123026",
    "policy.endTime": "123026",
    "targets.found": "123002",
    "rollout.non_field_errors": "123001",
    "rollout.ratePerMinute": "123001",
    "rollout.maxConcurrent": "123001",
    "rollout.abortFailureRatio": "123001",
}
NESTED = ("targets", "policy", "rollout")


def _first(detail: Any) -> ErrorDetail:
    """The first message of one field's errors (a list, or a dict by index for a list's items)."""
    while not isinstance(detail, ErrorDetail):
        detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
    return detail


def _located(errors: dict[str, Any]) -> dict[str, ErrorDetail]:
    located: dict[str, ErrorDetail] = {}
    for field, detail in errors.items():
        if field in NESTED and isinstance(detail, dict):  # the nested serializer's own fields and checks
            located.update({f"{field}.{inner}": _first(value) for inner, value in detail.items()})
        elif field in NESTED:  # missing or null; or, for targets, a failed validate_targets
            message = _first(detail)
            located[f"{field}.found" if message.code in CATALOGUE else f"{field}.non_field_errors"] = message
        else:
            located[field] = _first(detail)
    return located


def _first_error(errors: dict[str, Any]) -> NorthboundError:
    """The error of the check the original made first, with its code and (if the check gave one) text."""
    located = _located(errors)
    rank = {name: index for index, name in enumerate(ORDER)}
    name = min(located, key=lambda found: rank.get(found, len(rank)))
    detail = located[name]
    if detail.code in CATALOGUE:
        return NorthboundError(str(detail.code), str(detail))
    return NorthboundError(ORDER.get(name, "123001"))


def parse_operation(application: Any, body: Any, operate_type: str) -> dict[str, Any]:
    """The checked body as the operation's fields, and the devices it upgrades; the reference's error if not."""
    request = UpgradeRequest(data=body, context={"application": application, "operate_type": operate_type})
    if not request.is_valid():
        raise _first_error(request.errors)
    values = request.validated_data
    policy, rollout = values["policy"], values.get("rollout") or {}
    return {
        "package": values["fileId"],
        "targets": body["targets"],  # kept as sent: the task shows them so
        "policy": body["policy"],
        "execute_type": policy["executeType"],
        "window_start": policy["window"][0],
        "window_end": policy["window"][1],
        "retry_times": policy["retry_times"],
        "rate_per_minute": rollout.get("ratePerMinute", 0),
        "max_concurrent": rollout.get("maxConcurrent", 0),
        "abort_failure_ratio": rollout.get("abortFailureRatio"),
        "devices": values["targets"]["found"],
    }
