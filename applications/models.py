"""Applications (tenants), their northbound tokens and the portal accounts that may see them."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Collate, Upper
from django.utils.translation import gettext_lazy as _

from applications.querysets import ApplicationQuerySet, MembershipQuerySet


def hash_secret(value: str) -> str:
    """SHA-256 of a high-entropy credential (app secret, token).

    These values are random, never chosen by people, so a slow password hash buys nothing and
    would cost every authenticated call; a plain digest keeps a stolen database useless.
    """
    return hashlib.sha256(value.encode()).hexdigest()


class PushProtocol(models.TextChoices):
    HTTP = "HTTP", "HTTP"
    HTTPS = "HTTPS", "HTTPS"


class Application(models.Model):
    """A tenant: an application server's identity and everything that belongs to it.

    The appId and secret are what the northbound login takes; the secret is shown once and stored
    only as a hash. Settings here are the original's per-application capabilities (F-4.5, F-4.6,
    F-4.8, F-4.9, F-6.3, F-8.2).
    """

    app_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    secret_hash = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    storage_mode = models.BooleanField(
        _("storage mode"), default=True, help_text=_("Keep history data of devices (F-4.8).")
    )
    push_protocol = models.CharField(
        _("push protocol"),
        max_length=5,
        choices=PushProtocol.choices,
        default=PushProtocol.HTTP,
        help_text=_("HTTPS accepts only https:// callback URLs; HTTP accepts both (F-6.3)."),
    )
    push_ca_chain = models.TextField(
        _("callback CA certificates"),
        blank=True,
        help_text=_("PEM certificates (concatenated) trusted for HTTPS callbacks; empty: the system's trust store."),
    )
    push_signing_secret = models.CharField(
        _("push signing secret"),
        max_length=128,
        blank=True,
        help_text=_("When set, every push carries X-Signature: sha256=<HMAC of the body>. Off by default."),
    )
    abnormal_after = models.PositiveIntegerField(
        _("abnormal after (seconds)"),
        default=25 * 3600,
        validators=[MinValueValidator(60)],
        help_text=_("A device that has not reported for this long becomes ABNORMAL (F-4.6)."),
    )
    offline_after = models.PositiveIntegerField(
        _("offline after (seconds)"),
        default=49 * 3600,
        validators=[MinValueValidator(60)],
        help_text=_("A device that has not reported for this long becomes OFFLINE (F-4.6)."),
    )
    data_retention_days = models.PositiveSmallIntegerField(
        _("data retention (days)"),
        default=7,
        validators=[MaxValueValidator(90)],
        help_text=_("History data older than this is deleted, 0 to 90 days (F-4.9)."),
    )
    device_quota = models.PositiveIntegerField(
        _("device quota"), default=10000, help_text=_("Most devices this application may register (F-4.5).")
    )
    api_rate_limit = models.PositiveIntegerField(
        _("API calls per window"),
        default=100,
        validators=[MinValueValidator(1)],
        help_text=_("Northbound calls allowed per flow-control window (F-8.2)."),
    )
    device_uplink_limit = models.PositiveIntegerField(
        _("device messages per window"),
        default=1200,
        validators=[MinValueValidator(1)],
        help_text=_("Messages one device may send per device window (INGRESS_DEVICE_WINDOW, 20 min) (F-8.2)."),
    )
    uplink_rate_limit = models.PositiveIntegerField(
        _("device messages per second"),
        default=120,
        validators=[MinValueValidator(1)],
        help_text=_("Messages all devices of the application may send per second together (F-8.2)."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ApplicationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(abnormal_after__lt=models.F("offline_after")),
                name="application_abnormal_before_offline",
            ),
            models.CheckConstraint(
                condition=models.Q(data_retention_days__lte=90), name="application_retention_at_most_90"
            ),
        ]
        indexes = [
            # The application picker: a prefix of the name (any case) or the appId as a range, in order;
            # collated "C" so that holds whatever the database's collation (applications.picking).
            models.Index(Collate(Upper("name"), "C"), name="application_pick_name"),
            models.Index(Collate("app_id", "C"), name="application_pick_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_id})"

    def check_secret(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))


class ApplicationToken(models.Model):
    """The one live access token and refresh token of an application.

    One row per application: a new login replaces both, which is how the original invalidates the
    previous access token. Only hashes are stored.
    """

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="token")
    access_hash = models.CharField(max_length=64, unique=True)
    access_expires_at = models.DateTimeField()
    refresh_hash = models.CharField(max_length=64, unique=True)
    refresh_expires_at = models.DateTimeField()
    issued_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"token of {self.application_id}"


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    DEVELOPER = "developer", _("Developer")
    VIEWER = "viewer", _("Viewer")


class Membership(models.Model):
    """A portal account's role in one application. Platform operators (is_staff) need none."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "application"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} of {self.application_id}"

    @property
    def can_manage(self) -> bool:
        return self.role == Role.OWNER


class ActorKind(models.TextChoices):
    USER = "user", _("Portal account")
    APPLICATION = "application", _("Application")
    SYSTEM = "system", _("Platform")
    ANONYMOUS = "anonymous", _("Unknown")


class AuditEvent(models.Model):
    """One change or security event: who did what, when and from where (applications.audit).

    Written in the transaction of the change it records, so a change rolled back leaves no event.
    `actor` is kept as text: the account or application may be deleted, its events stay until the
    retention sweep (AUDIT_RETENTION_DAYS) removes them.
    """

    occurred_at = models.DateTimeField(_("when"), db_index=True)
    action = models.CharField(_("action"), max_length=64)
    actor_kind = models.CharField(_("actor kind"), max_length=16, choices=ActorKind.choices)
    actor = models.CharField(_("actor"), max_length=150, blank=True)
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    application = models.ForeignKey(
        Application, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    target = models.CharField(_("target"), max_length=255, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ("-occurred_at", "-id")
        indexes = [
            models.Index(fields=["action", "-occurred_at"], name="audit_action_time"),
            models.Index(fields=["application", "-occurred_at"], name="audit_app_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"
