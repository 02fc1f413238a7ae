"""Rules (the original's rule engine, `/iocm/app/rule/v1.2.0/rules`), their due-time rows, runs and alarms."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.models import Application
from devices.models import Device


def new_id() -> str:
    return str(uuid.uuid4())


class RuleStatus(models.TextChoices):
    ACTIVE = "active", _("enabled")
    INACTIVE = "inactive", _("disabled")


class Rule(models.Model):
    """One rule of an application: conditions joined by `logic`, active in `time_range`, and actions.

    `conditions`, `actions` and `time_range` are the original's JSON as rules.spec normalised it (every
    known key present); `extra` keeps the original's other keys (matchNow, groupExpress, transData...)
    so a client reads back what it wrote. rules.engine compiles the enabled rules once per change.
    """

    rule_id = models.CharField(max_length=36, unique=True, default=new_id)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(_("name"), max_length=256)
    description = models.CharField(_("description"), max_length=1024, blank=True, default="")
    author = models.CharField(max_length=256, blank=True, default="")
    status = models.CharField(max_length=8, choices=RuleStatus.choices, default=RuleStatus.ACTIVE)
    logic = models.CharField(max_length=3, default="and")
    conditions = models.JSONField(default=list)
    actions = models.JSONField(default=list)
    time_range = models.JSONField(null=True, blank=True)
    timezone_id = models.CharField(max_length=64, blank=True, default="")
    extra = models.JSONField(default=dict, blank=True)
    trigger_count = models.PositiveIntegerField(default=0)
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["application", "author", "name"], name="rules_rule_app_author")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == RuleStatus.ACTIVE


class RuleTimer(models.Model):
    """A due time the rules sweep acts on (beat, like the other timers), so it survives restarts:

    - a DEVICE_NO_DATA condition: one row per device in scope, pushed forward by each report; when it
      falls due the condition holds (`fired_at` set) until the next report clears it;
    - a DEVICE_DATA condition with a duration: the row exists while the condition holds, and fires
      when it has held for the duration;
    - DAILY_TIMER and CYCLE_TIMER conditions: one row without device, moved to the next occurrence.
    """

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="timers")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    condition = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "device", "condition"], name="rules_timer_unique", nulls_distinct=False
            )
        ]
        indexes = [models.Index(fields=["due_at"], name="rules_timer_due", condition=Q(fired_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.device_id}/{self.condition} due {self.due_at}"


class RuleRun(models.Model):
    """One time a rule fired: why (the ruleEvent's reasons) and what its actions did (actionsResults)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    triggered_at = models.DateTimeField()
    reasons = models.JSONField(default=list)
    results = models.JSONField(default=list)
    tested = models.BooleanField(default=False)  # a dry run from the editor: nothing was done

    class Meta:
        indexes = [models.Index(fields=["rule", "-triggered_at"], name="rules_run_recent")]

    def __str__(self) -> str:
        return f"{self.rule_id} at {self.triggered_at}"


class Severity(models.TextChoices):
    WARNING = "warning", _("warning")
    MINOR = "minor", _("minor")
    MAJOR = "major", _("major")
    CRITICAL = "critical", _("critical")


class AlarmQuerySet(models.QuerySet):
    def for_app(self, application: Application) -> AlarmQuerySet:
        return self.filter(application=application)

    def open(self) -> AlarmQuerySet:
        return self.filter(cleared_at__isnull=True)


class Alarm(models.Model):
    """An alarm a rule raised on a device: one open alarm per (rule, device), counted each time the rule
    raises it again; acknowledged by an operator, cleared by an operator or by the rule.

    The unique index leaves NULLs distinct: alarms of deleted rules (rule NULL) stay open side by side,
    and a timer rule's alarms (device NULL) rely on rules.actions updating the open one first."""

    alarm_id = models.CharField(max_length=36, unique=True, default=new_id)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="alarms")
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alarms")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="alarms")
    name = models.CharField(_("name"), max_length=256)
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices, default=Severity.MAJOR)
    description = models.CharField(max_length=1024, blank=True, default="")
    value = models.JSONField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)
    raised_at = models.DateTimeField()
    last_raised_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True, default="")
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.CharField(max_length=150, blank=True, default="")  # a user name, or "rule"

    objects = AlarmQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "device"],
                condition=Q(cleared_at__isnull=True),
                name="rules_alarm_one_open",
            )
        ]
        indexes = [models.Index(fields=["application", "-last_raised_at"], name="rules_alarm_recent")]

    def __str__(self) -> str:
        return self.name

    @property
    def state(self) -> str:
        if self.cleared_at:
            return "CLEARED"
        return "ACKNOWLEDGED" if self.acknowledged_at else "ACTIVE"
