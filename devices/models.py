"""Devices: the registry, groups, history data (partitioned by day) and device logs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Collate, Upper
from django.utils.translation import gettext_lazy as _

from applications.models import Application
from devices import secrets
from devices.querysets import DeviceQuerySet
from products.models import Product


class NodeType(models.TextChoices):
    ENDPOINT = "ENDPOINT", "ENDPOINT"
    GATEWAY = "GATEWAY", "GATEWAY"


class Status(models.TextChoices):
    ONLINE = "ONLINE", _("online")
    OFFLINE = "OFFLINE", _("offline")
    ABNORMAL = "ABNORMAL", _("abnormal")


class StatusDetail(models.TextChoices):
    NONE = "NONE", "NONE"
    NOT_ACTIVE = "NOT_ACTIVE", "NOT_ACTIVE"
    CONFIGURATION_PENDING = "CONFIGURATION_PENDING", "CONFIGURATION_PENDING"
    COMMUNICATION_ERROR = "COMMUNICATION_ERROR", "COMMUNICATION_ERROR"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR", "CONFIGURATION_ERROR"
    BRIDGE_OFFLINE = "BRIDGE_OFFLINE", "BRIDGE_OFFLINE"
    FIRMWARE_UPDATING = "FIRMWARE_UPDATING", "FIRMWARE_UPDATING"
    DUTY_CYCLE = "DUTY_CYCLE", "DUTY_CYCLE"


def new_device_id() -> str:
    return str(uuid.uuid4())


class Device(models.Model):
    """A device registered by an application, identified on the wire by its nodeId (IMEI).

    It is tied to its product by the (manufacturerId, deviceType, model) it was registered or modified
    with, as in the original; `product` is that product when one exists. It binds (activates) the
    first time the real device connects (F-4.1); until then it may expire after `timeout` seconds
    (F-4.2). `shadow` keeps the latest data of each service: {serviceId: {serviceType, data, eventTime}}.
    Secrets are encrypted at rest (devices.secrets), never hashed: the DTLS and MQTT checks need them.
    """

    device_id = models.CharField(max_length=36, unique=True, default=new_device_id)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="devices")
    node_id = models.CharField(_("nodeId"), max_length=256, unique=True)
    verify_code = models.CharField(max_length=256, blank=True, default="")
    node_type = models.CharField(max_length=8, choices=NodeType.choices, default=NodeType.ENDPOINT)
    gateway = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(_("name"), max_length=256, blank=True, default="")
    description = models.CharField(max_length=2048, blank=True, default="")
    end_user = models.CharField(max_length=256, blank=True, default="")
    imsi = models.CharField(max_length=64, blank=True, default="")
    manufacturer_id = models.CharField(max_length=256, blank=True, default="")
    manufacturer_name = models.CharField(max_length=256, blank=True, default="")
    device_type = models.CharField(max_length=256, blank=True, default="")
    model = models.CharField(max_length=256, blank=True, default="")
    protocol_type = models.CharField(max_length=32, blank=True, default="")
    mac = models.CharField(max_length=64, blank=True, default="")
    location = models.CharField(max_length=1024, blank=True, default="")
    region = models.CharField(max_length=256, blank=True, default="")
    organization = models.CharField(max_length=256, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    sw_version = models.CharField(max_length=256, blank=True, default="")
    fw_version = models.CharField(max_length=256, blank=True, default="")
    hw_version = models.CharField(max_length=256, blank=True, default="")
    bridge_id = models.CharField(max_length=256, blank=True, default="")
    sig_version = models.CharField(max_length=256, blank=True, default="")
    serial_number = models.CharField(max_length=256, blank=True, default="")
    signal_strength = models.IntegerField(null=True, blank=True)
    battery_level = models.IntegerField(null=True, blank=True)
    is_secure = models.BooleanField(default=False)
    supported_security = models.BooleanField(default=False)
    mute = models.BooleanField(default=False)
    psk_encrypted = models.TextField(blank=True, default="")
    secret_encrypted = models.TextField(blank=True, default="")
    timeout = models.PositiveIntegerField(default=180)
    bind_deadline = models.DateTimeField(null=True, blank=True)
    activated = models.BooleanField(default=False)
    bound_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OFFLINE)
    status_detail = models.CharField(max_length=24, choices=StatusDetail.choices, default=StatusDetail.NOT_ACTIVE)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    data_aging_days = models.PositiveSmallIntegerField(null=True, blank=True)
    shadow = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["application", "-created_at", "-id"], name="device_list"),
            # Operators' list over all applications, and IMEI-prefix search.
            models.Index(fields=["-created_at", "-id"], name="device_recent"),
            models.Index(fields=["node_id"], name="device_node_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["application", "status", "-created_at"], name="device_status_list"),
            models.Index(fields=["product"], name="device_product"),
            models.Index(fields=["status", "last_seen_at"], name="device_status_sweep"),
            models.Index(fields=["bind_deadline"], name="device_bind_deadline", condition=Q(activated=False)),
            # The list's sorts by name and by last seen (newest first, never seen last), each an index range
            # of the application read in order (devices.listing.SORTS).
            models.Index(fields=["application", "name", "id"], name="device_list_name"),
            # The per-status counts, recounted by devices.counts.reconcile: an index-only count.
            models.Index(fields=["application", "status", "activated"], name="device_status_count"),
            models.Index(
                F("application"), F("last_seen_at").desc(nulls_last=True), F("id").desc(), name="device_list_seen"
            ),
            # Pickers: a prefix of nodeId, deviceId or name (any case) as a range of the application, in
            # order; collated "C" so that holds whatever the database's collation (devices.querysets).
            models.Index(F("application"), Collate("node_id", "C"), name="device_pick_node"),
            models.Index(F("application"), Collate("device_id", "C"), name="device_pick_id"),
            models.Index(F("application"), Collate(Upper("name"), "C"), name="device_pick_name"),
        ]

    def __str__(self) -> str:
        return f"{self.node_id} ({self.device_id})"

    @property
    def gateway_device_id(self) -> str:
        """The gateway's deviceId; a direct device is its own gateway, as in the original."""
        return self.gateway.device_id if self.gateway_id else self.device_id

    @property
    def psk(self) -> str:
        return secrets.decrypt(self.psk_encrypted)

    @psk.setter
    def psk(self, value: str) -> None:
        self.psk_encrypted = secrets.encrypt(value)

    @property
    def secret(self) -> str:
        return secrets.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secrets.encrypt(value)

    @property
    def last_location(self):  # devices.location.Location (that module imports this one)
        """The last position the device (or its gateway) reported: devices.location."""
        from devices.location import last_location

        return last_location(self)

    def is_reachable(self) -> bool:
        """Commands to ABNORMAL or OFFLINE devices fail (F-4.7)."""
        return self.status == Status.ONLINE


class DeviceGroup(models.Model):
    """A named set of an application's devices (devgroup API, batch tasks, firmware targets)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="device_groups")
    dev_group_id = models.CharField(max_length=36, unique=True, default=new_device_id)
    name = models.CharField(_("name"), max_length=64)
    description = models.CharField(max_length=1024, blank=True, default="")
    max_devices = models.PositiveIntegerField(default=0)  # 0: no limit
    devices = models.ManyToManyField(Device, related_name="groups", blank=True)
    # Who made it, as the original's group bodies say: the appId through the API, the account's
    # username in the portal.
    creator = models.CharField(max_length=256, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "name"], name="device_group_name_unique")]

    def __str__(self) -> str:
        return self.name


class DeviceTag(models.Model):
    """A label an operator puts on an application's devices to find them again (the list's tag filter).
    Unlike a group it has no limit and no northbound API, and commands and upgrades do not target it."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="device_tags")
    name = models.CharField(_("name"), max_length=64)
    devices = models.ManyToManyField(Device, related_name="tags", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "name"], name="device_tag_name_unique")]

    def __str__(self) -> str:
        return self.name


class DataHistory(models.Model):
    """One service's data from one report, kept when the application is in storage mode (F-4.8).

    The table is partitioned by day on `received_at` (created by SQL in the migrations, so Django does
    not manage it); partitions are made ahead by a periodic task and dropped whole by retention.
    """

    pk = models.CompositePrimaryKey("id", "received_at")
    id = models.BigIntegerField()
    received_at = models.DateTimeField()
    device_id = models.BigIntegerField()
    application_id = models.BigIntegerField()
    service_id = models.CharField(max_length=256)
    data = models.JSONField()
    event_time = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "devices_datahistory"

    def __str__(self) -> str:
        return f"{self.service_id} of {self.device_id} at {self.event_time}"


class LogKind(models.TextChoices):
    UPLINK = "uplink", _("uplink")
    DECODED = "decoded", _("decoded")
    DECODE_ERROR = "decode_error", _("decode error")
    COMMAND = "command", _("command")
    ENCODE_ERROR = "encode_error", _("encode error")
    STATUS = "status", _("status")
    BIND = "bind", _("bind")
    FLOW_CONTROL = "flow_control", _("flow control")
    INFO = "info", _("info")


class DeviceLog(models.Model):
    """One event in a device's life (F-4.11): what arrived (raw hex), what it decoded to or why not,
    which codec, commands and their answers, status changes, flow-control drops."""

    # device_log_recent leads with the device: no index of its own (one insertion less per log row).
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="logs", db_index=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(db_index=False)
    kind = models.CharField(max_length=16, choices=LogKind.choices)
    summary = models.CharField(max_length=512)
    raw = models.TextField(blank=True, default="")  # hex of the bytes on the wire
    detail = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["device", "-created_at", "-id"], name="device_log_recent"),
            models.Index(fields=["created_at"], name="device_log_retention"),
            # Uplinks kept undecoded over a codec budget, for ingress.undecoded's sweep: a tiny index.
            models.Index(
                fields=["created_at", "id"],
                name="device_log_not_decoded",
                condition=models.Q(kind="decode_error", detail__notDecoded="budget"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"


# --- Bulk registration (F-4.4, F-8.1) ----------------------------------------------------------


class BulkMode(models.TextChoices):
    ALL_OR_NOTHING = "all-or-nothing", _("all or nothing")
    SKIP_BAD_ROWS = "skip-bad-rows", _("skip bad rows")


class BulkState(models.TextChoices):
    CHECKED = "checked", _("checked (dry run)")
    REJECTED = "rejected", _("rejected")
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class BulkRowStatus(models.TextChoices):
    PENDING = "pending", _("to register")
    INVALID = "invalid", _("invalid")
    REGISTERED = "registered", _("registered")
    ALREADY_REGISTERED = "already_registered", _("already registered")
    FAILED = "failed", _("failed")
    NOT_REGISTERED = "not_registered", _("not registered")
    EXPIRED = "expired", _("expired before binding")


class BulkRegistration(models.Model):
    """One uploaded file of devices to register, checked in full (the dry run) before anything is written.

    States: `checked` (a dry run: nothing written, may be started), `rejected` (all-or-nothing with bad
    rows: nothing written), `queued` and `running` (the background job, devices.tasks), `done`, and
    `failed` (all-or-nothing, and a row failed when the job ran: rolled back, nothing written). The
    counters are what the progress bar shows; each row of the file is a BulkRegistrationRow.
    """

    job_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="bulk_registrations")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    mode = models.CharField(max_length=16, choices=BulkMode.choices, default=BulkMode.ALL_OR_NOTHING)
    state = models.CharField(max_length=10, choices=BulkState.choices, default=BulkState.CHECKED)
    total_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    queued_rows = models.PositiveIntegerField(default=0)  # rows the job set out to register
    processed_rows = models.PositiveIntegerField(default=0)
    registered_rows = models.PositiveIntegerField(default=0)
    already_registered_rows = models.PositiveIntegerField(default=0)
    failed_rows = models.PositiveIntegerField(default=0)
    # Devices of this job deleted later by the bind-timeout sweep (devices.actions.expire_unbound).
    expired_rows = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["application", "-created_at", "-id"], name="bulk_registration_list")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in (BulkState.QUEUED, BulkState.RUNNING)

    @property
    def is_finished(self) -> bool:
        return self.state in (BulkState.REJECTED, BulkState.DONE, BulkState.FAILED)

    @property
    def to_register(self) -> int:
        """Rows a start would register: the valid rows not registered already."""
        return self.total_rows - self.invalid_rows - self.already_registered_rows

    def can_start(self) -> bool:
        """A dry run may be started when it has rows to register; all-or-nothing also needs no bad row."""
        if self.state != BulkState.CHECKED or self.to_register <= 0:
            return False
        return self.mode == BulkMode.SKIP_BAD_ROWS or self.invalid_rows == 0

    def percent(self, processed: int | None = None) -> int:
        """Progress of the job in whole percent (100 once finished)."""
        if self.is_finished or (self.state == BulkState.CHECKED and not self.to_register):
            return 100
        processed = self.processed_rows if processed is None else processed
        return min(100, processed * 100 // self.queued_rows) if self.queued_rows else 0


class BulkRegistrationRow(models.Model):
    """One device row of a bulk registration file, with what became of it.

    `row_number` is the row as a spreadsheet shows it (the header is row 1). `problems` lists what is
    wrong with the row: [{"column": "nodeId", "code": "BULK_IMEI_CHECK_DIGIT", "params": {...}}], codes
    in docs/errors.md. The psk (the file's, or one generated) is encrypted like a device's, and becomes
    the device's as it is. `device_id` is the deviceId registered, or found already registered.
    """

    job = models.ForeignKey(BulkRegistration, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    node_id = models.TextField(blank=True, default="")
    verify_code = models.TextField(blank=True, default="")
    name = models.TextField(blank=True, default="")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    psk_encrypted = models.TextField(blank=True, default="")
    psk_generated = models.BooleanField(default=False)
    timeout = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=BulkRowStatus.choices, default=BulkRowStatus.PENDING)
    problems = models.JSONField(default=list, blank=True)
    device_id = models.CharField(max_length=36, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "row_number"], name="bulk_row_unique")]
        indexes = [
            models.Index(fields=["job", "status", "row_number"], name="bulk_row_status"),
            # The bind-timeout sweep finds the rows of the devices it deletes; only registered rows can expire.
            models.Index(
                fields=["device_id"], name="bulk_row_registered_device", condition=models.Q(status="registered")
            ),
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.node_id} ({self.status})"

    @property
    def psk(self) -> str:
        return secrets.decrypt(self.psk_encrypted)


class ProductSecret(models.Model):
    """A product's MQTT secret for the dynamic connection (one secret per product, device-protocols.md 6).

    A device that knows only its product's secret connects as `{productId}_{nodeId}_1_...` and is sent
    its own secret (registered in password mode on first contact). Encrypted at rest like the devices'
    secrets, never hashed: the HMAC check needs it.
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="mqtt_secret")
    secret_encrypted = models.TextField()
    set_at = models.DateTimeField(auto_now=True)  # when the current secret was generated

    def __str__(self) -> str:
        return f"MQTT secret of {self.product_id}"

    @property
    def secret(self) -> str:
        return secrets.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secrets.encrypt(value)
