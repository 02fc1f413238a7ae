"""What the ingress must remember about a device beyond one worker process's life."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import models

from devices.models import Device


class Channel(models.TextChoices):
    LWM2M = "lwm2m", "LwM2M"
    HUAWEI = "huawei", "Huawei CoAP (t/r, t/d)"


class DeviceSession(models.Model):
    """A device's current registration: where it is, how it is observed, which worker holds it.

    Written at registration and kept up to date by every worker that hears the device, so that a
    notification carrying `observe_token` (or the token it replaced) is accepted by whichever worker
    receives it, a device whose source port changes keeps working, and a restarted ingress knows
    whom to observe again. `worker` is the channel-layer name of the worker process that last heard
    the device: downlinks must leave from there (SO_REUSEPORT hashes the device's answers to it).
    """

    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    secure = models.BooleanField(default=False)  # registered over DTLS
    host = models.CharField(max_length=64)
    port = models.PositiveIntegerField()
    # LwM2M: the registration's location (/rd/<registration_id>), lifetime, binding, version, objects.
    registration_id = models.CharField(max_length=32, unique=True)
    lifetime = models.PositiveIntegerField(default=86400)
    binding = models.CharField(max_length=8, default="U")
    lwm2m_version = models.CharField(max_length=8, blank=True, default="")
    object_links = models.JSONField(default=list, blank=True)  # the registration's link format, parsed
    observed_path = models.CharField(max_length=64)
    observe_token = models.BinaryField(max_length=8, null=True)
    previous_token = models.BinaryField(max_length=8, null=True)
    observed = models.BooleanField(default=False)  # the device answered the observe request
    # A mapped product's standard-object observations (ingress.lwm2m_observe) the device accepted, by token
    # (hex): the path observed, or the list of paths of a composite observe. Known to every worker (a
    # restarted one accepts their notifications) until the next registration.
    observations = models.JSONField(default=dict, blank=True)
    # The PSK identity of a CoAPS registration (the nodeId, or the endpoint name: urn:imei:...).
    identity = models.CharField(max_length=128, blank=True, default="")
    # Object 19 downlinks (ingress.object19): the forms to try in order ("opaque,tlv"), and the instance.
    downlink_forms = models.CharField(max_length=32, default="opaque")
    downlink_instance = models.PositiveIntegerField(default=1)
    worker = models.CharField(max_length=128, blank=True, default="")
    heard_at = models.DateTimeField(null=True)  # when `worker` last heard the device: the latest wins
    registered_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # LwM2M gateways (OMA LwM2M Gateway, object 25; docs/gateways.md): the gateway's own session says
    # whether it acts as one; each sub-device it lists has a session of its own under the gateway's
    # (same address, lifetime and worker; deleted with it) for the prefix the gateway gave it, so its
    # observation of /{prefix}/19/0/0 and its downlinks to /{prefix}/19/1/0 work as a direct device's.
    lwm2m_gateway = models.BooleanField(default=False)
    gateway_session = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="sub_sessions"
    )
    prefix = models.CharField(max_length=32, blank=True, default="")
    # False once the gateway's object 25 no longer lists the sub-device: its notifications are refused.
    listed = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["observe_token"], name="session_token"),
            models.Index(fields=["previous_token"], name="session_previous_token"),
            models.Index(fields=["worker"], name="session_worker"),
            # `observations ? token`: a notification on a mapped path's token no worker knows (a restart).
            GinIndex(fields=["observations"], name="session_observations"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} session of device {self.device_id} at {self.host}:{self.port}"

    @property
    def queue_mode(self) -> bool:
        """LwM2M queue mode (binding `UQ`, or `Q` in 1.1): the device sleeps between its messages."""
        return "Q" in self.binding


class LearnedDownlink(models.Model):
    """The object 19 downlink form a device accepted after refusing the first one tried (ingress.object19):
    tried first from then on, across its registrations."""

    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="+", primary_key=True)
    form = models.CharField(max_length=8)
    learned_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"device {self.device_id} takes {self.form} downlinks"


class ManagementOperation(models.Model):
    """One LwM2M management request to a device (Read, Write, Write-Attributes, Execute, Discover), asked
    through /api/v1 and run by the ingress worker holding the device (ingress.lwm2m_management); a queue-mode
    device's waits for its next wake. The row is the operation's record: the device's CoAP answer and
    what it carried, shown to the caller and logged on the device."""

    class Status(models.TextChoices):
        PENDING = "PENDING"  # queued for the worker, or held until a queue-mode device wakes
        DONE = "DONE"  # the device answered with 2.xx
        FAILED = "FAILED"  # the device answered with an error, or did not answer

    operation_id = models.UUIDField(unique=True, editable=False)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    operation = models.CharField(max_length=16)
    path = models.CharField(max_length=64)
    value = models.JSONField(null=True, blank=True)  # a Write's value, an Execute's argument, the attributes
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    code = models.CharField(max_length=8, blank=True, default="")  # the device's answer: 2.05, 4.04...
    result = models.JSONField(null=True, blank=True)  # a Read's values by path, a Discover's links
    detail = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["device", "created_at"], name="ingress_mgmt_device")]

    def __str__(self) -> str:
        return f"{self.operation} {self.path} ({self.status})"


class BootstrapDevice(models.Model):
    """A device the LwM2M bootstrap server (ingress.lwm2m_bootstrap) may provision: its Security (/0) and
    Server (/1) objects are written with the platform's CoAPS address and the device's identity and PSK."""

    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    bootstrapped_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"bootstrap of device {self.device_id}"
