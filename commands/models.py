"""Commands to devices, their ledger of transitions, delivery policies and batch tasks."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.models import Application
from devices.models import Device
from products.models import Product


def new_command_id() -> str:
    return uuid.uuid4().hex


class CommandStatus(models.TextChoices):
    PENDING = "PENDING", _("pending")
    SENT = "SENT", _("sent")
    DELIVERED = "DELIVERED", _("delivered")
    SUCCESSFUL = "SUCCESSFUL", _("successful")
    FAILED = "FAILED", _("failed")
    TIMEOUT = "TIMEOUT", _("timeout")
    EXPIRED = "EXPIRED", _("expired")
    CANCELED = "CANCELED", _("canceled")


FINAL = (
    CommandStatus.SUCCESSFUL,
    CommandStatus.FAILED,
    CommandStatus.TIMEOUT,
    CommandStatus.EXPIRED,
    CommandStatus.CANCELED,
)
# The legal moves of F-5.5; anything else is refused by the compare-and-swap in actions.transition.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    CommandStatus.PENDING: (CommandStatus.SENT, CommandStatus.EXPIRED, CommandStatus.CANCELED, CommandStatus.FAILED),
    CommandStatus.SENT: (
        CommandStatus.DELIVERED,
        CommandStatus.TIMEOUT,
        CommandStatus.FAILED,
        CommandStatus.SUCCESSFUL,
    ),
    CommandStatus.DELIVERED: (CommandStatus.SUCCESSFUL, CommandStatus.FAILED, CommandStatus.TIMEOUT),
}


class PowerMode(models.TextChoices):
    """How a device receives cached commands (F-5.2)."""

    PSM = "PSM", _("PSM: all cached commands on the next uplink")
    DRX = "DRX", _("DRX: one after another")
    EDRX = "eDRX", _("eDRX: one after another")


class Lwm2mDownlink(models.TextChoices):
    """How a downlink reaches an LwM2M device's /19/1/0: modules differ (issue 7)."""

    WRITE = "write", _("Write (PUT /19/1/0)")
    EXECUTE = "execute", _("Execute (POST /19/1/0)")


class DeliveryPolicy(models.Model):
    """How commands reach a product's or a device's devices: power mode and the LwM2M downlink method.

    A device's own policy wins over its product's, field by field; an empty field falls through to the
    product's, then to the platform's setting (COMMAND_DEFAULT_POWER_MODE, INGRESS_LWM2M_DOWNLINK)."""

    product = models.OneToOneField(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    device = models.OneToOneField(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    power_mode = models.CharField(max_length=4, choices=PowerMode.choices, blank=True, default="")
    lwm2m_downlink = models.CharField(max_length=8, choices=Lwm2mDownlink.choices, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(product__isnull=False, device__isnull=True) | Q(product__isnull=True, device__isnull=False),
                name="delivery_policy_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.power_mode} for {self.device_id or self.product_id}"


class Command(models.Model):
    """A command to one device (northbound-api.md section 3) and where it stands (F-5.5)."""

    command_id = models.CharField(max_length=32, unique=True, default=new_command_id)
    # No single-column indexes: command_list and command_device_list lead with these columns, and
    # every index costs each creation an insertion.
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="commands", db_index=False)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="commands", db_index=False)
    service_id = models.CharField(max_length=64)
    method = models.CharField(max_length=128)
    paras = models.JSONField(default=dict, blank=True)
    callback_url = models.CharField(max_length=1024, blank=True, default="")
    expire_time = models.PositiveIntegerField(default=172800)
    max_retransmit = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(max_length=10, choices=CommandStatus.choices, default=CommandStatus.PENDING)
    mid = models.PositiveIntegerField(null=True, blank=True)
    issued_times = models.PositiveIntegerField(default=0)
    result_detail = models.JSONField(null=True, blank=True)
    batch_task = models.ForeignKey(
        "BatchTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="commands"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    # While SENT: when the transport must have answered, else TIMEOUT (the sweep acts on it).
    ack_due_at = models.DateTimeField(null=True, blank=True)
    # While DELIVERED: when the device's deviceRsp must have come, else TIMEOUT.
    response_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["device", "created_at", "id"], name="command_pending", condition=Q(status="PENDING")),
            models.Index(fields=["expires_at"], name="command_expiry", condition=Q(status="PENDING")),
            models.Index(fields=["ack_due_at"], name="command_ack_due", condition=Q(status="SENT")),
            models.Index(fields=["response_due_at"], name="command_response_due", condition=Q(status="DELIVERED")),
            models.Index(fields=["device", "mid"], name="command_mid", condition=Q(status__in=["SENT", "DELIVERED"])),
            models.Index(fields=["application", "-created_at", "-id"], name="command_list"),
            models.Index(fields=["device", "-created_at", "-id"], name="command_device_list"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id}.{self.method} to {self.device_id}: {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


class CommandEvent(models.Model):
    """One line of a command's ledger: a transition (or a retransmission) with its reason and evidence."""

    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=CommandStatus.choices)
    reason = models.CharField(max_length=512)
    evidence = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"


class BatchTask(models.Model):
    """A command to many devices (section 3.6); its commands are always cached (F-5.8)."""

    task_id = models.CharField(max_length=32, unique=True, default=new_command_id)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="batch_tasks")
    task_name = models.CharField(max_length=256)
    task_from = models.CharField(max_length=16, default="Northbound")
    timeout_minutes = models.PositiveIntegerField()
    param = models.JSONField()
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, default="Pending")  # Pending, Running, Complete, Timeout
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    deadline = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "task_name"], name="batch_task_name_unique")]

    def __str__(self) -> str:
        return self.task_name


class BatchTaskDetail(models.Model):
    """One device of a batch task: the command made for it, or why none could be."""

    task = models.ForeignKey(BatchTask, on_delete=models.CASCADE, related_name="details")
    device = models.ForeignKey(Device, null=True, on_delete=models.SET_NULL, related_name="+")
    device_ref = models.CharField(max_length=64)
    command = models.OneToOneField(Command, null=True, on_delete=models.SET_NULL, related_name="batch_detail")
    error = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["task", "id"], name="batch_detail_task")]

    def __str__(self) -> str:
        return f"{self.task_id}/{self.device_ref}"


class DesiredChange(models.Model):
    """One change of a device's desired properties (the shadow API, v1.5.0), kept with its version.

    It waits (PENDING) for the device's next contact, then goes as a command of the service through
    the product's codec (SENT, `command` set); the command's outcome becomes its status and is pushed
    as deviceDesiredPropertiesModifyStatusChanged. `desired` is what this change asked, `properties`
    the service's whole desired state after it. The rows are the deviceDesiredHistory.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="desired_changes")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="desired_changes")
    service_id = models.CharField(max_length=64)
    method = models.CharField(max_length=128)  # the service's command that carries the properties
    desired = models.JSONField()
    properties = models.JSONField()
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, default="PENDING")
    detail = models.CharField(max_length=1024, blank=True, default="")
    command = models.ForeignKey(Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "service_id", "version"], name="desired_change_version"),
        ]
        indexes = [
            models.Index(fields=["device", "created_at"], name="desired_waiting", condition=Q(status="PENDING")),
            models.Index(fields=["command"], name="desired_command", condition=Q(command__isnull=False)),
            models.Index(fields=["application", "device", "-created_at"], name="desired_history"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} v{self.version}: {self.status}"
