"""Every change to rules and alarms, and what a firing rule does.

check_* validate (rules.spec), do_* change data; `apply` carries out the engine's verdicts for a batch
in one transaction: actions of the rules that fired (a command through the normal command path, an
alarm raised or cleared, the ruleEvent push to the application's subscription, a webhook through the
push outbox), alarms cleared by rules that stopped holding, and the due-time rows of durations and
absences. Nothing leaves before the transaction commits (the outbox and commands do their sends
after commit).
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from applications.errors import NorthboundError
from applications.formats import format_time
from applications.models import Application
from devices.models import Device
from rules import engine, spec
from rules.models import Alarm, Rule, RuleRun, RuleStatus, RuleTimer
from subscriptions import actions as push
from subscriptions import notify_types as nt
from subscriptions import payloads

log = logging.getLogger(__name__)


# --- rules ----------------------------------------------------------------------------------------


def get_rule(application: Application, rule_id: Any) -> Rule:
    """The application's rule, or 404 200001 (another application's rule is not found either)."""
    rule = Rule.objects.filter(application=application, rule_id=str(rule_id or "")).first()
    if rule is None:
        raise NorthboundError("200001", "The resource is not found: no rule with this ruleId.")
    return rule


def _store(rule: Rule, checked: spec.Checked) -> None:
    rule.name, rule.description, rule.author = checked.name, checked.description, checked.author
    rule.status, rule.logic = checked.status, checked.logic
    rule.conditions, rule.actions, rule.time_range = checked.conditions, checked.actions, checked.time_range
    rule.timezone_id, rule.extra = checked.timezone_id, checked.extra


@transaction.atomic
def do_create_rule(application: Application, body: Any) -> Rule:
    """A new rule (POST /rules); its timers are armed and every process compiles it after commit."""
    checked = spec.check_rule(application, body)
    rule = Rule(application=application)
    _store(rule, checked)
    rule.save()
    _arm(rule, timezone.now())
    transaction.on_commit(engine.changed)
    return rule


@transaction.atomic
def do_update_rule(application: Application, body: Any) -> Rule:
    """Replace a rule (PUT /rules with its ruleId): conditions, actions and timers start afresh."""
    if not isinstance(body, dict):
        raise spec.invalid("the body", "must be a JSON object")
    rule = get_rule(application, body.get("ruleId"))
    checked = spec.check_rule(application, body)
    Rule.objects.select_for_update().filter(pk=rule.pk).first()
    _store(rule, checked)
    rule.save()
    RuleTimer.objects.filter(rule=rule).delete()
    _arm(rule, timezone.now())
    transaction.on_commit(engine.changed)
    return rule


@transaction.atomic
def do_delete_rule(application: Application, rule_id: Any) -> None:
    """Delete a rule; its alarms stay (without their rule) for the record."""
    rule = get_rule(application, rule_id)
    rule.delete()
    transaction.on_commit(engine.changed)


def check_status(status: Any) -> str:
    if status not in (RuleStatus.ACTIVE, RuleStatus.INACTIVE):
        raise spec.invalid("status", "must be active or inactive")
    return status


@transaction.atomic
def do_set_statuses(
    application: Application, changes: list[tuple[Any, Any]]
) -> list[tuple[str, NorthboundError | None]]:
    """Enable or disable rules (one call for one rule and for many): per rule, None or the error it met."""
    outcomes: list[tuple[str, NorthboundError | None]] = []
    for rule_id, status in changes:
        try:
            check_status(status)
            rule = get_rule(application, rule_id)
        except NorthboundError as error:
            outcomes.append((str(rule_id), error))
            continue
        if rule.status != status:
            Rule.objects.filter(pk=rule.pk).update(status=status, updated_at=timezone.now())
            if status == RuleStatus.ACTIVE:
                rule.status = status
                RuleTimer.objects.filter(rule=rule).delete()
                _arm(rule, timezone.now())
        outcomes.append((rule.rule_id, None))
    transaction.on_commit(engine.changed)
    return outcomes


def next_daily(condition: dict[str, Any], timezone_id: str, after: dt.datetime) -> dt.datetime:
    """The next HH:mm on one of the condition's days, in the rule's time zone (UTC without one)."""
    zone = zoneinfo.ZoneInfo(timezone_id) if timezone_id else dt.UTC
    local = after.astimezone(zone)
    hour, minute = (int(part) for part in condition["time"].split(":"))
    days = {int(day) for day in condition["daysOfWeek"].split(",")}
    for offset in range(8):
        day = (local + dt.timedelta(days=offset)).date()
        candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        if candidate > local and candidate.isoweekday() in days:
            return candidate.astimezone(dt.UTC)
    raise AssertionError("a week always holds one of the days")


def _arm(rule: Rule, now: dt.datetime) -> None:
    """Due-time rows a new or re-enabled rule starts with: its timers' next times, and an absence row
    for every device in scope that has reported (due its last report + N minutes)."""
    rows = []
    for index, condition in enumerate(rule.conditions):
        kind = condition["type"]
        if kind == spec.DAILY_TIMER:
            rows.append(RuleTimer(rule=rule, condition=index, due_at=next_daily(condition, rule.timezone_id, now)))
        elif kind == spec.CYCLE_TIMER:
            rows.append(RuleTimer(rule=rule, condition=index, due_at=now + dt.timedelta(minutes=condition["interval"])))
        elif kind == spec.NO_DATA:
            devices = Device.objects.filter(application=rule.application_id, last_seen_at__isnull=False)
            if "_device" in condition:
                devices = devices.filter(pk=condition["_device"])
            elif "_product" in condition:
                devices = devices.filter(product=condition["_product"])
            elif "_group" in condition:
                devices = devices.filter(groups=condition["_group"])
            minutes = dt.timedelta(minutes=condition["minutes"])
            rows += [
                RuleTimer(rule=rule, device_id=pk, condition=index, due_at=max(seen + minutes, now))
                for pk, seen in devices.values_list("pk", "last_seen_at")
            ]
    RuleTimer.objects.bulk_create(rows, ignore_conflicts=True)


# --- firing ---------------------------------------------------------------------------------------


@dataclass
class NoDevice:
    """The subject of a timer rule's evaluation: no device of its own."""

    application_id: int
    pk: None = None
    product_id: None = None
    status: str = ""
    shadow: dict | None = None
    device_id: str = ""


def _reasons(rule: Rule, device: Any, reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ruleEvent's reasons: satisfactionTime, type, id (the device), info, transInfo."""
    out = []
    for reason in reasons:
        condition = rule.conditions[reason["index"]]
        out.append(
            {
                "satisfactionTime": format_time(reason["satisfactionTime"]),
                "type": condition["type"],
                "id": getattr(device, "device_id", "") or None,
                "info": reason["info"],
                "transInfo": condition.get("transInfo"),
            }
        )
    return out


def _send_command(rule: Rule, device: Any, index: int, action: dict[str, Any]) -> dict[str, Any]:
    from commands.actions import device_for_command, do_create_command

    target_id = action.get("deviceId") or getattr(device, "device_id", "")
    result: dict[str, Any] = {
        "type": spec.CMD,
        "id": target_id or None,
        "info": None,
        "transInfo": action.get("transInfo"),
    }
    cmd, meta = action["cmd"], action.get("cmdMetaData") or {}
    target = device_for_command(rule.application, target_id) if target_id else None
    if target is None:
        result["exception"] = {"error_code": "100418", "error_desc": "The deviceData is not existed."}
        return result
    try:
        with transaction.atomic():  # a savepoint: a refused command does not undo the rest
            command = do_create_command(
                rule.application,
                target,
                {"serviceId": cmd["serviceId"], "method": cmd["messageType"], "paras": cmd.get("messageBody") or {}},
                expire_time=meta.get("expireTime"),
                max_retransmit=meta.get("maxRetransmit"),
                callback_url=meta.get("callbackUrl"),
            )
    except NorthboundError as error:
        result["exception"] = error.body()
        return result
    result["result"] = {"commandId": command.command_id, "status": command.status}
    return result


def _raise_alarm(rule: Rule, device: Any, action: dict[str, Any], value: Any, now: dt.datetime) -> Alarm:
    """One open alarm per (rule, device): raised again, it counts; the partial unique index settles races."""
    device_pk = getattr(device, "pk", None)
    changes = {"count": F("count") + 1, "last_raised_at": now, "value": value, "severity": action["severity"]}
    open_alarm = Alarm.objects.open().filter(rule=rule, device_id=device_pk)
    for _ in range(2):
        if open_alarm.update(**changes):
            return open_alarm.first()
        try:
            with transaction.atomic():
                return Alarm.objects.create(
                    application_id=rule.application_id,
                    rule=rule,
                    device_id=device_pk,
                    name=action["name"],
                    severity=action["severity"],
                    description=action.get("description") or "",
                    value=value,
                    raised_at=now,
                    last_raised_at=now,
                )
        except IntegrityError:
            continue  # raised at the same moment by another process: count it on that one
    raise AssertionError("an open alarm could be neither updated nor created")


def _alarm(rule: Rule, device: Any, index: int, action: dict[str, Any], value: Any, now: dt.datetime) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": spec.ALARM,
        "id": action["name"],
        "info": None,
        "transInfo": action.get("transInfo"),
    }
    if action["status"] == "recovery":
        cleared = clear_by_rule([(rule.pk, getattr(device, "pk", None))], now, only_auto=False)
        result["result"] = {"cleared": cleared}
        return result
    alarm = _raise_alarm(rule, device, action, value, now)
    result["result"] = {"alarmId": alarm.alarm_id, "count": alarm.count, "severity": alarm.severity}
    return result


def fire(rule: Rule, device: Any, reasons: list[dict[str, Any]], now: dt.datetime) -> RuleRun:
    """Carry out a rule's enabled actions for a device, push ruleEvent, record the run (in the caller's
    transaction). An action that fails is reported in actionsResults; the others still run."""
    value = {reason["info"].get("path"): reason["info"].get("value") for reason in reasons if "path" in reason["info"]}
    results: list[dict[str, Any]] = []
    webhooks = []
    for index, action in enumerate(rule.actions):
        if not action.get("enable", True):
            continue
        kind = action["type"]
        if kind == spec.CMD:
            results.append(_send_command(rule, device, index, action))
        elif kind == spec.ALARM:
            results.append(_alarm(rule, device, index, action, value or None, now))
        elif kind == spec.WEBHOOK:
            webhooks.append(action)
        else:
            results.append(
                {
                    "type": kind,
                    "id": str(index),
                    "info": None,
                    "transInfo": action.get("transInfo"),
                    "exception": {
                        "error_code": "100001",
                        "error_desc": f"No {kind} gateway is configured on this platform.",
                    },
                }
            )
    for action in webhooks:
        results.append(
            {
                "type": spec.WEBHOOK,
                "id": action.get("url"),
                "info": None,
                "transInfo": action.get("transInfo"),
                "result": {"queued": True},
            }
        )
    body = payloads.rule_event(
        rule.author, rule.rule_id, rule.name, rule.logic, _reasons(rule, device, reasons), now, results
    )
    push.notify(rule.application, nt.RULE_EVENT, body)
    for action in webhooks:
        push.notify_webhook(rule.application, action["url"], body, notify_type=nt.RULE_EVENT)
    Rule.objects.filter(pk=rule.pk).update(trigger_count=F("trigger_count") + 1, last_triggered_at=now)
    return RuleRun.objects.create(
        rule=rule, device_id=getattr(device, "pk", None), triggered_at=now, reasons=body["reasons"], results=results
    )


def clear_by_rule(pairs: list[tuple[int, int | None]], now: dt.datetime, *, only_auto: bool = True) -> int:
    """Clear the open alarms of these (rule, device) pairs: the rule stopped holding, or said recovery."""
    if not pairs:
        return 0
    query = Q()
    for rule_pk, device_pk in pairs:
        query |= Q(rule_id=rule_pk, device_id=device_pk)
    alarms = Alarm.objects.open().filter(query)
    if only_auto:
        auto = [
            pk
            for pk, actions in Rule.objects.filter(pk__in={p for p, _ in pairs}).values_list("pk", "actions")
            if any(a["type"] == spec.ALARM and a.get("autoClear", True) for a in actions)
        ]
        alarms = alarms.filter(rule_id__in=auto)
    return alarms.update(cleared_at=now, cleared_by="rule")


REARM = """
WITH v(rule_id, device_id, condition, due_at) AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::smallint[],
    %s::timestamptz[])),
fired AS (SELECT t.rule_id, t.device_id FROM rules_ruletimer t JOIN v USING (rule_id, device_id, condition)
    WHERE t.fired_at IS NOT NULL),
armed AS (INSERT INTO rules_ruletimer (rule_id, device_id, condition, due_at) SELECT * FROM v
    ON CONFLICT (rule_id, device_id, condition) DO UPDATE SET due_at = EXCLUDED.due_at, fired_at = NULL)
SELECT rule_id, device_id FROM fired
"""


def _rearm(rows: list[tuple[Any, Any, dt.datetime]]) -> list[tuple[int, int]]:
    """Push absence timers forward for devices that reported (one statement); the pairs whose absence had
    fired come back: their rules stopped holding."""
    latest: dict[tuple[int, int, int], dt.datetime] = {}
    for cond, device, due in rows:
        slot = (cond.rule_pk, device.pk, cond.index)
        latest[slot] = max(latest.get(slot, due), due + dt.timedelta(minutes=cond.minutes))
    rule_pks, device_pks, conditions, dues = zip(*[(*slot, due) for slot, due in latest.items()], strict=True)
    with connection.cursor() as cursor:
        cursor.execute(REARM, [list(rule_pks), list(device_pks), list(conditions), list(dues)])
        return [(rule_pk, device_pk) for rule_pk, device_pk in cursor.fetchall()]


def apply(
    verdicts: list[tuple[engine.Compiled, Any, engine.Verdict]],
    *,
    timers: list[tuple[str, engine.Cond, Any]] = (),
    rearm: list[tuple[engine.Cond, Any, dt.datetime]] = (),
    now: dt.datetime,
) -> list[RuleRun]:
    """Carry out the engine's verdicts for a batch in one transaction; returns the runs of rules that fired."""
    firing = [(rule, device, verdict) for rule, device, verdict in verdicts if verdict.fires]
    recovering = [(rule.pk, device.pk) for rule, device, verdict in verdicts if verdict.recovers]
    if not (firing or recovering or timers or rearm):
        return []
    runs = []
    with transaction.atomic():
        if rearm:
            recovering += _rearm(list(rearm))
        for what, cond, device in timers:
            if what == "start":
                due = now + dt.timedelta(seconds=cond.duration)
                RuleTimer.objects.bulk_create(
                    [RuleTimer(rule_id=cond.rule_pk, device_id=device.pk, condition=cond.index, due_at=due)],
                    ignore_conflicts=True,
                )
            else:
                RuleTimer.objects.filter(rule_id=cond.rule_pk, device_id=device.pk, condition=cond.index).delete()
        clear_by_rule(recovering, now)
        rules = Rule.objects.select_related("application").in_bulk({rule.pk for rule, _, _ in firing})
        for compiled, device, verdict in firing:
            rule = rules.get(compiled.pk)
            if rule is None or not rule.is_active or not spec.in_time_range(rule.time_range, rule.timezone_id, now):
                continue
            runs.append(fire(rule, device, verdict.reasons, now))
    return runs


def sweep_timers(now: dt.datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Act on the due-time rows that fell due: absences and durations fire their rules for their
    devices, timer conditions fire theirs and move to their next time. Rows are locked (SKIP LOCKED),
    so two sweeps never act on one."""
    now = now or timezone.now()
    counts = {"absences": 0, "durations": 0, "timers": 0, "fired": 0}
    with transaction.atomic():
        due = list(
            RuleTimer.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(due_at__lte=now, fired_at__isnull=True, rule__status=RuleStatus.ACTIVE)
            .select_related("rule", "device")
            .order_by("due_at")[:limit]
        )
        if not due:
            return counts
        index = engine.current()
        context = engine.Context(index)
        context.load_groups(timer.device for timer in due if timer.device is not None)
        verdicts = []
        for timer in due:
            rule = timer.rule
            condition = rule.conditions[timer.condition]
            kind = condition["type"]
            device = timer.device or NoDevice(rule.application_id, shadow={})
            if kind == spec.NO_DATA:
                RuleTimer.objects.filter(pk=timer.pk).update(fired_at=now)
                counts["absences"] += 1
            elif kind in spec.DATA_TYPES:
                RuleTimer.objects.filter(pk=timer.pk).delete()
                counts["durations"] += 1
            else:
                following = (
                    next_daily(condition, rule.timezone_id, now)
                    if kind == spec.DAILY_TIMER
                    else max(timer.due_at + dt.timedelta(minutes=condition["interval"]), now)
                )
                RuleTimer.objects.filter(pk=timer.pk).update(due_at=following)
                counts["timers"] += 1
            compiled = engine.compile_rule(rule)
            shadow = device.shadow or {}
            verdict = engine.evaluate(
                context,
                compiled,
                device,
                shadow=shadow,
                previous=shadow,
                status=device.status,
                previous_status=device.status,
                event=(kind, timer.condition),
                now=now,
            )
            verdicts.append((compiled, device, verdict))
        counts["fired"] = len(apply(verdicts, now=now))
    return counts


# --- alarms ---------------------------------------------------------------------------------------


def check_alarm_ids(alarm_ids: Any) -> list[str]:
    if not isinstance(alarm_ids, list) or not alarm_ids or len(alarm_ids) > 1000:
        raise spec.invalid("alarmIds", "must be an array of 1 to 1000 alarm ids")
    if not all(isinstance(alarm_id, str) for alarm_id in alarm_ids):
        raise spec.invalid("alarmIds", "must hold strings")
    return alarm_ids


def do_acknowledge_alarms(application: Application, alarm_ids: Any, by: str) -> int:
    """Acknowledge open alarms (who and when); already acknowledged or cleared ones stay as they are."""
    ids = check_alarm_ids(alarm_ids)
    return (
        Alarm.objects.for_app(application)
        .open()
        .filter(alarm_id__in=ids, acknowledged_at__isnull=True)
        .update(acknowledged_at=timezone.now(), acknowledged_by=by[:150])
    )


def do_clear_alarms(application: Application, alarm_ids: Any, by: str) -> int:
    """Clear open alarms by hand (who and when); the rule may raise a new one later."""
    ids = check_alarm_ids(alarm_ids)
    return (
        Alarm.objects.for_app(application)
        .open()
        .filter(alarm_id__in=ids)
        .update(cleared_at=timezone.now(), cleared_by=by[:150])
    )


# --- testing a rule against history ---------------------------------------------------------------


def test_against_history(rule: Rule, device: Device, limit: int = 100) -> list[dict[str, Any]]:
    """Replay the device's recent history (oldest first) through the rule without doing anything: for
    each stored report, whether the rule would fire or clear. Nothing is written."""
    from devices.models import DataHistory

    compiled = engine.compile_rule(rule)
    index = engine.Index(rules={rule.pk: compiled})
    context = engine.Context(index)
    if any(cond.scope == "group" for cond in compiled.conds):
        index.groups.add(rule.application_id)
        context.load_groups([device])
    rows = list(
        DataHistory.objects.filter(device_id=device.pk)
        .order_by("-event_time")
        .values("service_id", "data", "event_time")[:limit]
    )
    rows.reverse()
    shadow: dict[str, Any] = {}
    outcome = []
    for row in rows:
        previous = shadow
        shadow = {**shadow, row["service_id"]: {"data": row["data"]}}
        verdict = engine.evaluate(
            context,
            compiled,
            device,
            shadow=shadow,
            previous=previous,
            status=device.status,
            previous_status=device.status,
            now=row["event_time"],
        )
        outcome.append(
            {
                "eventTime": row["event_time"],
                "serviceId": row["service_id"],
                "data": row["data"],
                "fires": verdict.fires and spec.in_time_range(rule.time_range, rule.timezone_id, row["event_time"]),
                "clears": verdict.recovers,
            }
        )
    return outcome
