"""Subscriptions, push targets (an application's callback host:port) and the push outbox."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.models import Application
from subscriptions.querysets import PushMessageQuerySet, SubscriptionQuerySet


def new_subscription_id() -> str:
    return str(uuid.uuid4())


class Channel(models.TextChoices):
    """How a subscription's pushes travel: POSTed to its callbackUrl, or published on the MQTT broker
    to the application's own topic over MQTTS (subscriptions.mqtts; docs/northbound.md)."""

    HTTP = "HTTP", "HTTP"
    MQTTS = "MQTTS", "MQTTS"


class Subscription(models.Model):
    """An application's wish to receive one notifyType at one callback URL.

    One per (application, notifyType, channel): subscribing a type twice on one channel is 409 200002
    (section 4.1). An MQTTS subscription has no callback URL to push to (what the caller sent is kept).
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="subscriptions")
    subscription_id = models.CharField(max_length=36, unique=True, default=new_subscription_id)
    notify_type = models.CharField(_("notify type"), max_length=64)
    callback_url = models.CharField(_("callback URL"), max_length=1024)
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices, default=Channel.HTTP)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "notify_type", "channel"], name="subscription_one_per_type_and_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notify_type} -> {self.callback_url}"


class PushTarget(models.Model):
    """An application's callback host:port, or its MQTTS topic (channel MQTTS, host "" and port 0),
    with its delivery health.

    After `PUSH_BLACKLIST_FAILURES` consecutive failures it is blacklisted: nothing is sent to it
    until `blacklisted_until`, then one probe push; success lifts the blacklist (F-6.6).
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="push_targets")
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.HTTP)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    consecutive_failures = models.PositiveIntegerField(default=0)
    blacklisted_until = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "channel", "host", "port"], name="push_target_unique")
        ]

    def __str__(self) -> str:
        return "MQTTS" if self.channel == Channel.MQTTS else f"{self.host}:{self.port}"

    @property
    def is_blacklisted(self) -> bool:
        return self.blacklisted_until is not None

    def probe_due(self, now: dt.datetime) -> bool:
        return self.blacklisted_until is not None and self.blacklisted_until <= now


class PushState(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class PushMessage(models.Model):
    """One notification in the outbox, written in the transaction of the change it reports.

    Workers claim due rows with a lease (so a killed worker's rows are sent again after it
    expires), POST the exact `body`, and record each attempt. `ordering_key` (a command's id) keeps
    one command's callbacks in creation order: a row is claimed only when no earlier row with the
    same key is still pending.
    """

    push_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="push_messages")
    target = models.ForeignKey(PushTarget, on_delete=models.CASCADE, related_name="messages")
    notify_type = models.CharField(max_length=64)
    url = models.CharField(max_length=1024)
    body = models.BinaryField()
    ordering_key = models.CharField(max_length=64, blank=True, default="")
    is_sample = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=PushState.choices, default=PushState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = PushMessageQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["target", "next_attempt_at", "id"], name="push_due", condition=Q(state="pending")),
            models.Index(
                fields=["ordering_key", "id"],
                name="push_ordering",
                condition=Q(state="pending") & ~Q(ordering_key=""),
            ),
            models.Index(fields=["application", "-created_at"], name="push_log"),
        ]

    def __str__(self) -> str:
        return f"{self.notify_type} #{self.pk} {self.state}"


class PushAttempt(models.Model):
    """One POST of a push: what the receiver answered, or why it could not."""

    message = models.ForeignKey(PushMessage, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    response_excerpt = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"attempt of {self.message_id}: {self.status_code or self.error}"
