"""Upgrade packages, upgrade operations (tasks) and their per-device sub-operations (F-7)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.models import Application
from devices.models import Device


def new_id() -> str:
    return uuid.uuid4().hex


class FileType(models.TextChoices):
    FIRMWARE = "firmwarePackage", _("firmware (module)")
    SOFTWARE = "softwarePackage", _("software (MCU)")


class Package(models.Model):
    """An uploaded upgrade package (F-7.2): a zip of at most 35 MB, its SHA-256, what it upgrades."""

    file_id = models.CharField(max_length=32, unique=True, default=new_id)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="packages")
    name = models.CharField(max_length=256)
    file_type = models.CharField(max_length=16, choices=FileType.choices)
    version = models.CharField(max_length=64)
    device_type = models.CharField(max_length=64)
    manufacturer_name = models.CharField(max_length=128)
    model = models.CharField(max_length=64)
    protocol_type = models.CharField(max_length=16)
    source_versions = models.JSONField(default=list, blank=True)
    description = models.CharField(max_length=1024, blank=True, default="")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "file_type", "device_type", "manufacturer_name", "model", "version"],
                name="package_unique_version",
            )
        ]
        indexes = [models.Index(fields=["application", "-uploaded_at"], name="package_list")]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class OperationStatus(models.TextChoices):
    WAIT = "wait", _("waiting")
    PROCESSING = "processing", _("processing")
    PAUSED = "paused", _("paused")
    SUCCESS = "success", _("success")
    FAILED = "failed", _("failed")
    STOP = "stop", _("stopped")


class Operation(models.Model):
    """An upgrade task over many devices, with its policy and rollout controls (F-7, issue 10 item 5)."""

    operation_id = models.CharField(max_length=32, unique=True, default=new_id)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="upgrade_operations")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="operations")
    operate_type = models.CharField(max_length=20)  # firmware_upgrade | software_upgrade
    targets = models.JSONField()
    policy = models.JSONField()
    execute_type = models.CharField(max_length=16, default="now")  # now | device_online | custom
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    retry_times = models.PositiveSmallIntegerField(default=0)
    rate_per_minute = models.PositiveIntegerField(default=0)  # 0: no limit
    max_concurrent = models.PositiveIntegerField(default=0)  # 0: no limit
    abort_failure_ratio = models.FloatField(null=True, blank=True)  # 0..1; None: never abort
    status = models.CharField(max_length=10, choices=OperationStatus.choices, default=OperationStatus.WAIT)
    detail = models.CharField(max_length=512, blank=True, default="")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["application", "-created_at"], name="operation_list"),
            models.Index(fields=["status"], name="operation_active", condition=Q(status__in=["wait", "processing"])),
        ]

    def __str__(self) -> str:
        return f"{self.operate_type} {self.operation_id}"


class SubStatus(models.TextChoices):
    WAIT = "wait", _("waiting")
    PROCESSING = "processing", _("processing")
    SUCCESS = "success", _("success")
    FAIL = "fail", _("failed")
    STOP = "stop", _("stopped")


class Step(models.TextChoices):
    IDLE = "idle", _("idle")
    DOWNLOADING = "downloading", _("downloading")
    DOWNLOADED = "downloaded", _("downloaded")
    UPDATING = "updating", _("updating")


class SubOperation(models.Model):
    """One device's upgrade within an operation: its steps, versions, error and due time."""

    sub_operation_id = models.CharField(max_length=32, unique=True, default=new_id)
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="sub_operations")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="upgrades")
    status = models.CharField(max_length=10, choices=SubStatus.choices, default=SubStatus.WAIT)
    step = models.CharField(max_length=12, choices=Step.choices, default=Step.IDLE)
    error_code = models.CharField(max_length=64, blank=True, default="")
    detail_info = models.CharField(max_length=512, blank=True, default="")
    source_version = models.CharField(max_length=64, blank=True, default="")
    cur_version = models.CharField(max_length=64, blank=True, default="")
    target_version = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    blocks_sent = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    download_time = models.DateTimeField(null=True, blank=True)
    # While processing: when the current step must have moved on, else it fails (the sweep acts on it).
    step_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["operation", "status", "id"], name="sub_operation_list"),
            models.Index(fields=["device", "status"], name="sub_operation_device"),
            models.Index(fields=["step_due_at"], name="sub_operation_due", condition=Q(status="processing")),
        ]

    def __str__(self) -> str:
        return f"{self.sub_operation_id} ({self.device_id}): {self.status}/{self.step}"


class SubOperationStep(models.Model):
    """A sub-operation's history, for the portal: each step with its time and note."""

    sub_operation = models.ForeignKey(SubOperation, on_delete=models.CASCADE, related_name="steps")
    at = models.DateTimeField()
    step = models.CharField(max_length=12)
    status = models.CharField(max_length=10)
    note = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.step} {self.status}"
