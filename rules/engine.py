"""Rules compiled once per change and evaluated in batches beside the uplink pipeline.

Every enabled rule is compiled into indexes, rebuilt in each process when a rule changes (a Redis
counter read once per batch):

- conditions on reported properties, by (application, serviceId, property): thresholds of each
  comparison (>, >=, <, <=) kept sorted, so a reported value finds the conditions it satisfies, now
  and before this report, with two bisections instead of a loop over the rules; only those rules
  are evaluated, for the device that reported;
- conditions on status changes and on missing reports, by application.

A rule holds for a device when its conditions, joined by `logic`, hold: a property condition reads
the device's shadow as this report leaves it (another named device's shadow if it names one); a
status condition the device's status; an absence, duration or timer condition holds only when its
due-time row fell due (rules.tasks sweeps them). A rule fires when it holds and either its trigger
is "pulse" (every report that satisfies it) or it did not hold before ("reverse", the original's
edge trigger). When it stops holding, the alarms it raised on the device clear (autoClear).
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from applications.redis import get_redis, key
from rules import spec
from rules.models import Rule, RuleStatus

log = logging.getLogger(__name__)


@dataclass
class Cond:
    """One compiled condition of a rule."""

    rule_pk: int
    index: int
    kind: str
    scope: str = ""  # "device", "product" or "group"; "" for timers
    scope_pk: int | None = None
    service: str = ""
    prop: str = ""
    operator: str = ""
    threshold: float | None = None
    low: float | None = None
    high: float | None = None
    text: str = ""
    duration: int = 0
    status: str = ""
    minutes: int = 0

    def compare(self, value: Any, previous: Any = None) -> bool:
        """Whether a reported value satisfies this property condition."""
        if self.operator in ("=", "!="):
            if value is None:
                return False
            number = spec.number(value)
            equal = (
                (number == self.threshold)
                if (number is not None and self.threshold is not None)
                else (str(value) == self.text)
            )
            return equal if self.operator == "=" else not equal
        number = spec.number(value)
        if number is None:
            return False
        if self.operator == ">":
            return number > self.threshold
        if self.operator == ">=":
            return number >= self.threshold
        if self.operator == "<":
            return number < self.threshold
        if self.operator == "<=":
            return number <= self.threshold
        if self.operator == "between":
            return self.low <= number <= self.high
        if self.operator == "changedBy":
            before = spec.number(previous)
            return before is not None and abs(number - before) > self.threshold
        return False


@dataclass
class Compiled:
    pk: int
    rule_id: str
    application_id: int
    logic: str
    conds: list[Cond]
    reverse: bool  # fire on the edge only (some condition's strategy.trigger is "reverse")


class PathIndex:
    """The property conditions of one (application, serviceId, property), thresholds sorted per operator."""

    def __init__(self) -> None:
        self.sorted: dict[str, tuple[list[float], list[Cond]]] = {}
        self.others: list[Cond] = []

    def add(self, cond: Cond) -> None:
        if cond.operator in (*spec.NUMERIC_OPERATORS, "changedBy"):
            thresholds, conds = self.sorted.setdefault(cond.operator, ([], []))
            at = bisect.bisect_left(thresholds, cond.threshold)
            thresholds.insert(at, cond.threshold)
            conds.insert(at, cond)
        else:
            self.others.append(cond)

    @staticmethod
    def _satisfied(operator: str, thresholds: list[float], value: float | None) -> tuple[int, int]:
        if value is None:
            return 0, 0
        if operator == ">":
            return 0, bisect.bisect_left(thresholds, value)
        if operator == ">=":
            return 0, bisect.bisect_right(thresholds, value)
        if operator == "<":
            return bisect.bisect_right(thresholds, value), len(thresholds)
        return bisect.bisect_left(thresholds, value), len(thresholds)  # "<="

    def touched(self, previous: Any, value: Any) -> Iterable[Cond]:
        """Conditions the value satisfies now or satisfied before: the only ones whose rules can fire
        or recover. Satisfied sets of one operator are a prefix or a suffix, so their union is too;
        changedBy conditions are reached by the size of the change the same way."""
        now, before = spec.number(value), spec.number(previous)
        for operator, (thresholds, conds) in self.sorted.items():
            if operator == "changedBy":  # a change larger than the threshold: thresholds below |change|
                if now is not None and before is not None:
                    yield from conds[: bisect.bisect_left(thresholds, abs(now - before))]
                continue
            lo_now, hi_now = self._satisfied(operator, thresholds, now)
            lo_before, hi_before = self._satisfied(operator, thresholds, before)
            if hi_now - lo_now == 0 and hi_before - lo_before == 0:
                continue
            if hi_now - lo_now == 0:
                yield from conds[lo_before:hi_before]
            elif hi_before - lo_before == 0:
                yield from conds[lo_now:hi_now]
            else:
                yield from conds[min(lo_now, lo_before) : max(hi_now, hi_before)]
        for cond in self.others:  # =, != and between: satisfied now or before
            if cond.compare(value) or cond.compare(previous):
                yield cond


@dataclass
class Index:
    version: bytes | None = None
    rules: dict[int, Compiled] = field(default_factory=dict)
    data: dict[tuple[int, str, str], PathIndex] = field(default_factory=dict)
    status: dict[int, list[Cond]] = field(default_factory=dict)
    absence: dict[int, list[Cond]] = field(default_factory=dict)
    groups: set[int] = field(default_factory=set)  # applications with group-scoped conditions


def compile_rule(rule: Rule) -> Compiled:
    conds = []
    for index, condition in enumerate(rule.conditions):
        kind = condition["type"]
        cond = Cond(rule.pk, index, kind)
        if "_device" in condition:
            cond.scope, cond.scope_pk = "device", condition["_device"]
        elif "_group" in condition:
            cond.scope, cond.scope_pk = "group", condition["_group"]
        elif "_product" in condition:
            cond.scope, cond.scope_pk = "product", condition["_product"]
        if kind in spec.DATA_TYPES:
            cond.service, cond.prop, cond.operator = (
                condition["_service"],
                condition["_property"],
                condition["operator"],
            )
            value = condition.get("value")
            if cond.operator == "between":
                parts = value if isinstance(value, list) else str(value).split(",")
                cond.low, cond.high = spec.number(parts[0]), spec.number(parts[1])
            else:
                cond.threshold, cond.text = spec.number(value), str(value)
            cond.duration = condition.get("duration") or 0
        elif kind == spec.STATUS:
            cond.status = condition["status"]
        elif kind == spec.NO_DATA:
            cond.minutes = condition["minutes"]
        conds.append(cond)
    reverse = any((c.get("strategy") or {}).get("trigger") == "reverse" for c in rule.conditions)
    return Compiled(rule.pk, rule.rule_id, rule.application_id, rule.logic, conds, reverse)


def build() -> Index:
    index = Index()
    for rule in Rule.objects.filter(status=RuleStatus.ACTIVE).only(
        "pk", "rule_id", "application_id", "logic", "conditions"
    ):
        compiled = compile_rule(rule)
        index.rules[rule.pk] = compiled
        for cond in compiled.conds:
            if cond.scope == "group":
                index.groups.add(rule.application_id)
            if cond.kind in spec.DATA_TYPES:
                index.data.setdefault((rule.application_id, cond.service, cond.prop), PathIndex()).add(cond)
            elif cond.kind == spec.STATUS:
                index.status.setdefault(rule.application_id, []).append(cond)
            elif cond.kind == spec.NO_DATA:
                index.absence.setdefault(rule.application_id, []).append(cond)
    return index


_cache = Index()
_lock = threading.Lock()


_checked_at = -1e9


def current() -> Index:
    """This process's compiled rules, rebuilt when a rule changed anywhere: the Redis token is read at
    most once every RULES_RELOAD_MS (a change made in this process is seen at once)."""
    global _cache, _checked_at
    now = time.monotonic()
    if now - _checked_at < settings.RULES_RELOAD_MS / 1000 and _cache.version is not None:
        return _cache
    _checked_at = now
    redis, version_key = get_redis(), key("rules", "version")
    version = redis.get(version_key)
    if version is None:  # a fresh Redis (or key space): a new token, so no process keeps an old index
        redis.set(version_key, uuid.uuid4().hex, nx=True)
        version = redis.get(version_key)
    if _cache.version != version:
        with _lock:
            if _cache.version != version:
                fresh = build()
                fresh.version = version
                _cache = fresh
    return _cache


def changed() -> None:
    """A rule was created, changed, enabled, disabled or deleted: every process compiles again."""
    global _checked_at
    get_redis().set(key("rules", "version"), uuid.uuid4().hex)
    _checked_at = -1e9


# --- evaluation ---------------------------------------------------------------------------------


@dataclass
class Context:
    """What evaluating rules for a batch needs beyond the reports: other devices' shadows, groups."""

    index: Index
    groups: dict[int, set[int]] = field(default_factory=dict)
    others: dict[int, dict[str, Any]] = field(default_factory=dict)

    def in_scope(self, cond: Cond, device: Any) -> bool:
        if device.pk is None:
            return False
        if cond.scope == "device":
            return device.pk == cond.scope_pk
        if cond.scope == "product":
            return device.product_id == cond.scope_pk
        if cond.scope == "group":
            return cond.scope_pk in self.groups.get(device.pk, ())
        return False

    def load_groups(self, devices: Iterable[Any]) -> None:
        wanted = [device.pk for device in devices if device.application_id in self.index.groups]
        if not wanted:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT device_id, devicegroup_id FROM devices_devicegroup_devices WHERE device_id = ANY(%s)", [wanted]
            )
            for device_pk, group_pk in cursor.fetchall():
                self.groups.setdefault(device_pk, set()).add(group_pk)

    def shadow_of(self, device_pk: int) -> dict[str, Any]:
        if device_pk not in self.others:
            from devices.models import Device

            row = Device.objects.filter(pk=device_pk).values("shadow", "status").first() or {"shadow": {}, "status": ""}
            self.others[device_pk] = row
        return self.others[device_pk]


def _value(shadow: dict[str, Any], cond: Cond) -> Any:
    service = shadow.get(cond.service)
    return (service.get("data") or {}).get(cond.prop) if isinstance(service, dict) else None


@dataclass
class Verdict:
    """What evaluating a rule for a device found: whether it fires or recovers, why (the ruleEvent's
    reasons), whether its conditions hold now, and each condition's value as seen (the rule's recorded
    evaluations show them: rules.evaluations)."""

    fires: bool
    recovers: bool
    reasons: list[dict[str, Any]]
    holds: bool = False
    seen: list[dict[str, Any]] = field(default_factory=list)


def evaluate(
    context: Context,
    rule: Compiled,
    device: Any,
    *,
    shadow: dict[str, Any],
    previous: dict[str, Any],
    status: str,
    previous_status: str | None,
    event: tuple[str, int] | None = None,
    now: dt.datetime,
) -> Verdict:
    """Whether `rule` fires, or recovers, for `device`: its conditions on this device's data now and before."""
    strict_now, plain_now, plain_before = [], [], []
    reasons, seen = [], []
    for cond in rule.conds:
        fired_event = event is not None and event == (cond.kind, cond.index)
        if cond.kind in spec.DATA_TYPES:
            if cond.scope == "device" and cond.scope_pk != device.pk:
                other = context.shadow_of(cond.scope_pk)  # a condition on another device (or a timer rule)
                value = before = _value(other["shadow"], cond)
            elif context.in_scope(cond, device):
                value, before = _value(shadow, cond), _value(previous, cond)
            else:
                value = before = None
            holds = cond.compare(value, before)
            held = cond.operator != "changedBy" and cond.compare(before)
            strict = holds and (cond.duration == 0 or fired_event)
            if strict:
                reasons.append({"index": cond.index, "info": {"path": f"{cond.service}/{cond.prop}", "value": value}})
            seen.append({"path": f"{cond.service}/{cond.prop}", "value": value, "holds": strict})
        elif cond.kind == spec.STATUS:
            in_scope = context.in_scope(cond, device)
            holds = strict = in_scope and status == cond.status
            held = in_scope and previous_status == cond.status
            if strict:
                reasons.append({"index": cond.index, "info": {"status": status}})
            seen.append({"status": status if in_scope else None, "holds": strict})
        else:  # absence and timers hold when their due time came
            holds = strict = fired_event
            held = False
            if strict:
                reasons.append({"index": cond.index, "info": {}})
            seen.append({"type": cond.kind, "holds": strict})
        strict_now.append(strict)
        plain_now.append(holds)
        plain_before.append(held)
    join = all if rule.logic == "and" else any
    holds = join(strict_now)
    fires = holds and (not rule.reverse or not join(plain_before) or event is not None)
    recovers = not join(plain_now) and join(plain_before)
    for reason in reasons:
        reason["satisfactionTime"] = now
    return Verdict(fires, recovers, reasons, holds, seen)


# --- hooks ----------------------------------------------------------------------------------------


def on_reports(items: list[tuple[Any, list[Any]]]) -> None:
    """devices.hooks: a batch of reports was stored. One compiled-index lookup per reported property;
    rules are evaluated only for the conditions the values reach."""
    index = current()
    if not index.data and not index.absence:
        return
    from rules import actions

    now = timezone.now()
    context = Context(index)
    touched: dict[tuple[int, int], tuple[Any, dict, dict]] = {}
    shadows: dict[int, dict[str, Any]] = {}
    rearm: list[tuple[Cond, Any, dt.datetime]] = []
    group_loaded = False
    for device, reports in items:
        app = device.application_id
        if app in index.groups and not group_loaded:
            context.load_groups(d for d, _ in items)
            group_loaded = True
        before = shadows.get(device.pk, device.shadow or {})
        after = dict(before)
        for report in reports:
            after[report.service_id] = {"data": {**report.data}}
        for report in reports:
            service = before.get(report.service_id)
            earlier = (service.get("data") or {}) if isinstance(service, dict) else {}
            for prop, value in report.data.items():
                path_index = index.data.get((app, report.service_id, prop))
                if path_index is None:
                    continue
                for cond in path_index.touched(earlier.get(prop), value):
                    if cond.scope == "device" and cond.scope_pk != device.pk:
                        continue
                    touched[(cond.rule_pk, device.pk)] = (device, after, before)
        shadows[device.pk] = after
        for cond in index.absence.get(app, ()):
            if context.in_scope(cond, device):
                received = max(report.event_time for report in reports) if reports else now
                rearm.append((cond, device, max(received, now)))
    verdicts = []
    timers: list[tuple[str, Cond, Any]] = []
    for (rule_pk, _), (device, after, before) in touched.items():
        rule = index.rules[rule_pk]
        verdict = evaluate(
            context,
            rule,
            device,
            shadow=after,
            previous=before,
            status=device.status,
            previous_status=device.status,
            now=now,
        )
        verdicts.append((rule, device, verdict))
        for cond in rule.conds:
            if cond.kind in spec.DATA_TYPES and cond.duration and context.in_scope(cond, device):
                value, prior = _value(after, cond), _value(before, cond)
                if cond.compare(value, prior) and not cond.compare(prior):
                    timers.append(("start", cond, device))
                elif not cond.compare(value, prior) and cond.compare(prior):
                    timers.append(("stop", cond, device))
    if verdicts or timers or rearm:
        actions.apply(verdicts, timers=timers, rearm=rearm, now=now)


def on_status(items: list[tuple[Any, str | None, str]]) -> None:
    """devices.hooks: devices changed status ([(device, previous status or None, new status)])."""
    index = current()
    if not index.status:
        return
    from rules import actions

    now = timezone.now()
    context = Context(index)
    context.load_groups(device for device, _, _ in items)
    verdicts = []
    for device, previous, status in items:
        seen = set()
        for cond in index.status.get(device.application_id, ()):
            if cond.rule_pk in seen or not context.in_scope(cond, device):
                continue
            seen.add(cond.rule_pk)
            rule = index.rules[cond.rule_pk]
            shadow = device.shadow or {}
            verdict = evaluate(
                context, rule, device, shadow=shadow, previous=shadow, status=status, previous_status=previous, now=now
            )
            verdicts.append((rule, device, verdict))
    if verdicts:
        actions.apply(verdicts, now=now)
