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
import json
import logging
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql

from applications import audit, events
from applications.errors import NorthboundError
from applications.formats import format_time
from applications.models import Application
from devices.models import Device
from rules import engine, evaluations, spec
from rules.models import Alarm, Rule, RuleRun, RuleStatus, RuleTimer, new_id
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
    _audit_rule("rule.created", rule)
    transaction.on_commit(engine.changed)
    return rule


def _audit_rule(action: str, rule: Rule, **detail: Any) -> None:
    audit.record(
        action, application_id=rule.application_id, target=f"rule {rule.rule_id}", detail={"name": rule.name, **detail}
    )


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
    _audit_rule("rule.modified", rule)
    transaction.on_commit(engine.changed)
    return rule


@transaction.atomic
def do_delete_rule(application: Application, rule_id: Any) -> None:
    """Delete a rule; its alarms stay (without their rule) for the record."""
    rule = get_rule(application, rule_id)
    rule_pk = rule.pk
    _audit_rule("rule.deleted", rule)
    rule.delete()
    transaction.on_commit(engine.changed)
    transaction.on_commit(lambda: evaluations.forget(rule_pk))


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
    changed: list[audit.Entry] = []
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
            action = "rule.enabled" if status == RuleStatus.ACTIVE else "rule.disabled"
            changed.append(audit.Entry(action, application=application, target=f"rule {rule.rule_id}"))
        outcomes.append((rule.rule_id, None))
    audit.record_many(changed)
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


class Firing:
    """One rule firing for one device in a batch: what its actions did, filled in by the batch's steps."""

    def __init__(self, rule: Rule, device: Any, reasons: list[dict[str, Any]], now: dt.datetime) -> None:
        self.rule, self.device, self.reasons, self.now = rule, device, reasons, now
        self.value = {
            reason["info"].get("path"): reason["info"].get("value") for reason in reasons if "path" in reason["info"]
        } or None
        self.results: dict[int, dict[str, Any]] = {}  # by action index
        self.webhooks: list[dict[str, Any]] = []

    def enabled(self) -> list[tuple[int, dict[str, Any]]]:
        return [(index, action) for index, action in enumerate(self.rule.actions) if action.get("enable", True)]

    def results_in_order(self) -> list[dict[str, Any]]:
        """actionsResults: the actions in the rule's order, webhooks last (they carry this body)."""
        webhook_results = [
            {
                "type": spec.WEBHOOK,
                "id": action.get("url"),
                "info": None,
                "transInfo": action.get("transInfo"),
                "result": {"queued": True},
            }
            for action in self.webhooks
        ]
        return [self.results[index] for index in sorted(self.results)] + webhook_results


def _send_commands(firings: list[Firing]) -> None:
    """DEVICE_CMD actions through the normal command path (do_create_command: checked against the
    profile, 20 pending, ledger, callbacks), each in a savepoint so a refusal undoes nothing else; the
    target device is read once per batch."""
    from commands.actions import device_for_command, do_create_command

    targets: dict[tuple[int, str], Any] = {}
    for firing in firings:
        rule = firing.rule
        for index, action in firing.enabled():
            if action["type"] != spec.CMD:
                continue
            target_id = action.get("deviceId") or getattr(firing.device, "device_id", "")
            result: dict[str, Any] = {
                "type": spec.CMD,
                "id": target_id or None,
                "info": None,
                "transInfo": action.get("transInfo"),
            }
            firing.results[index] = result
            if target_id and (rule.application_id, target_id) not in targets:
                targets[(rule.application_id, target_id)] = device_for_command(rule.application, target_id)
            target = targets.get((rule.application_id, target_id)) if target_id else None
            if target is None:
                result["exception"] = {"error_code": "100418", "error_desc": "The deviceData is not existed."}
                continue
            cmd, meta = action["cmd"], action.get("cmdMetaData") or {}
            try:  # no savepoint: a refused command has written nothing (checks first, then one statement)
                with audit.acting_as(audit.ActorKind.SYSTEM, f"rule {rule.rule_id}"):  # audited as the rule's
                    command = do_create_command(
                        rule.application,
                        target,
                        {
                            "serviceId": cmd["serviceId"],
                            "method": cmd["messageType"],
                            "paras": cmd.get("messageBody") or {},
                        },
                        expire_time=meta.get("expireTime"),
                        max_retransmit=meta.get("maxRetransmit"),
                        callback_url=meta.get("callbackUrl"),
                    )
            except NorthboundError as error:
                result["exception"] = error.body()
                continue
            result["result"] = {"commandId": command.command_id, "status": command.status}


RAISE_ALARMS = """
WITH v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(alarm_id varchar, application_id bigint, rule_id bigint,
    device_id bigint, name varchar, severity varchar, description varchar, value jsonb, n integer, at timestamptz))
INSERT INTO rules_alarm (alarm_id, application_id, rule_id, device_id, name, severity, description, value, count,
    raised_at, last_raised_at, acknowledged_at, acknowledged_by, cleared_at, cleared_by)
SELECT alarm_id, application_id, rule_id, device_id, name, severity, description, value, n, at, at, NULL, '', NULL, ''
FROM v ORDER BY rule_id, device_id
ON CONFLICT (rule_id, device_id) WHERE cleared_at IS NULL DO UPDATE SET count = rules_alarm.count + EXCLUDED.count,
    last_raised_at = EXCLUDED.last_raised_at, value = EXCLUDED.value, severity = EXCLUDED.severity
RETURNING rule_id, device_id, alarm_id, count, severity
"""


def _raise_alarms(raises: list[tuple[Rule, int, dict[str, Any], Any, dt.datetime]]) -> dict[tuple[int, int], tuple]:
    """Raise (or count again) the open alarm of each (rule, device) in one statement: an upsert on the
    partial unique index of open alarms, so two processes raising one alarm at once count it twice on
    one row. A pair raised k times in the batch counts k. Returns (alarm_id, count, severity) by pair.
    Raw SQL because the ORM's bulk_create can neither name the index's predicate nor add to the count;
    the rows go as one JSON document (psycopg quotes arrays of text in Python: 10x slower);
    tests/rules/test_batch.py checks the rows against the models."""
    pairs: dict[tuple[int, int], dict[str, Any]] = {}
    for rule, device_pk, action, value, now in raises:
        row = pairs.setdefault((rule.pk, device_pk), {"n": 0})
        row.update(
            alarm_id=row.get("alarm_id") or new_id(), application_id=rule.application_id, rule_id=rule.pk,
            device_id=device_pk, name=action["name"], severity=action["severity"],
            description=action.get("description") or "", value=value, n=row["n"] + 1, at=now.isoformat(),
        )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(RAISE_ALARMS, [json.dumps(list(pairs.values()))])
        return {
            (rule_pk, device_pk): (alarm_id, count, severity)
            for rule_pk, device_pk, alarm_id, count, severity in cursor.fetchall()
        }


def _raise_alarm(rule: Rule, device: Any, action: dict[str, Any], value: Any, now: dt.datetime) -> Alarm:
    """The open alarm of a timer rule (no device): NULLs are distinct in the unique index, so the open one
    is updated first; the rare race between two sweeps is settled by SKIP LOCKED on the timer rows."""
    changes = {"count": F("count") + 1, "last_raised_at": now, "value": value, "severity": action["severity"]}
    open_alarm = Alarm.objects.open().filter(rule=rule, device_id=None)
    if open_alarm.update(**changes):
        return open_alarm.first()
    return Alarm.objects.create(
        application_id=rule.application_id,
        rule=rule,
        device_id=None,
        name=action["name"],
        severity=action["severity"],
        description=action.get("description") or "",
        value=value,
        raised_at=now,
        last_raised_at=now,
    )


def _alarms(firings: list[Firing]) -> None:
    """DEVICE_ALARM actions of a batch: recoveries cleared in one statement, raises upserted in one."""
    recoveries, raises = [], []
    for firing in firings:
        device_pk = getattr(firing.device, "pk", None)
        for index, action in firing.enabled():
            if action["type"] != spec.ALARM:
                continue
            firing.results[index] = {
                "type": spec.ALARM,
                "id": action["name"],
                "info": None,
                "transInfo": action.get("transInfo"),
            }
            if action["status"] == "recovery":
                recoveries.append((firing, index, device_pk))
            else:
                raises.append((firing, index, device_pk, action))
    alarms_changed(firing.rule.application_id for firing, *_ in raises)
    if recoveries:
        cleared = _clear_pairs([(firing.rule.pk, device_pk) for firing, _, device_pk in recoveries], firings[0].now)
        for firing, index, device_pk in recoveries:
            firing.results[index]["result"] = {"cleared": cleared.pop((firing.rule.pk, device_pk), 0)}
    with_device = [item for item in raises if item[2] is not None]
    raised = (
        _raise_alarms([(f.rule, pk, action, f.value, f.now) for f, _, pk, action in with_device]) if with_device else {}
    )
    remaining: dict[tuple[int, int], int] = {}
    for firing, _, device_pk, _ in with_device:
        remaining[(firing.rule.pk, device_pk)] = remaining.get((firing.rule.pk, device_pk), 0) + 1
    for firing, index, device_pk, action in raises:
        if device_pk is None:
            alarm = _raise_alarm(firing.rule, firing.device, action, firing.value, firing.now)
            alarm_id, count, severity = alarm.alarm_id, alarm.count, alarm.severity
        else:
            pair = (firing.rule.pk, device_pk)
            alarm_id, count, severity = raised[pair]
            remaining[pair] -= 1
            count -= remaining[pair]  # the k-th raise of a pair in this batch saw the count it made
        firing.results[index]["result"] = {"alarmId": alarm_id, "count": count, "severity": severity}


def _other_actions(firings: list[Firing]) -> None:
    for firing in firings:
        for index, action in firing.enabled():
            kind = action["type"]
            if kind == spec.WEBHOOK:
                firing.webhooks.append(action)
            elif kind not in (spec.CMD, spec.ALARM):
                firing.results[index] = {
                    "type": kind,
                    "id": str(index),
                    "info": None,
                    "transInfo": action.get("transInfo"),
                    "exception": {
                        "error_code": "100001",
                        "error_desc": f"No {kind} gateway is configured on this platform.",
                    },
                }


def fire(firings: list[Firing]) -> list[RuleRun]:
    """Carry out the enabled actions of a batch's firings, push their ruleEvents, record their runs (in
    the caller's transaction), a statement per kind of work rather than per firing: commands through
    the command path, alarms in one upsert, pushes through notify_many per application, the rules'
    counters in one update per count, the runs in one insert. An action that fails is reported in
    actionsResults; the others still run."""
    if not firings:
        return []
    _send_commands(firings)
    _alarms(firings)
    _other_actions(firings)
    bodies: dict[int, list[dict[str, Any]]] = {}
    applications: dict[int, Application] = {}
    runs, fired = [], {}
    for firing in firings:
        rule, results = firing.rule, firing.results_in_order()
        body = payloads.rule_event(
            rule.author, rule.rule_id, rule.name, rule.logic, _reasons(rule, firing.device, firing.reasons),
            firing.now, results,
        )  # fmt: skip
        applications[rule.application_id] = rule.application
        bodies.setdefault(rule.application_id, []).append(body)
        for action in firing.webhooks:
            push.notify_webhook(rule.application, action["url"], body, notify_type=nt.RULE_EVENT)
        fired[rule.pk] = fired.get(rule.pk, 0) + 1
        runs.append(
            RuleRun(
                rule=rule,
                device_id=getattr(firing.device, "pk", None),
                triggered_at=firing.now,
                reasons=body["reasons"],
                results=results,
            )
        )
    for application_id, application_bodies in bodies.items():
        push.notify_many(applications[application_id], nt.RULE_EVENT, application_bodies)
    by_count: dict[int, list[int]] = {}
    for rule_pk, count in fired.items():
        by_count.setdefault(count, []).append(rule_pk)
    for count, rule_pks in by_count.items():
        Rule.objects.filter(pk__in=rule_pks).update(
            trigger_count=F("trigger_count") + count, last_triggered_at=firings[-1].now
        )
    _insert_runs(runs)
    return runs


def _insert_runs(runs: list[RuleRun]) -> None:
    """The batch's runs in one COPY: bulk_create binds every JSON value as a parameter, which cost
    0.2 s for 650 runs (docs/performance.md, Rules on the uplink path); COPY takes the JSON as text."""
    columns = ("rule_id", "device_id", "triggered_at", "reasons", "results", "tested")
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(RuleRun._meta.db_table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for run in runs:
            copy.write_row(
                (run.rule_id, run.device_id, run.triggered_at, json.dumps(run.reasons), json.dumps(run.results), False)
            )


def _clear_pairs(pairs: list[tuple[int, int | None]], now: dt.datetime, *, rules: set[int] | None = None) -> dict:
    """Clear the open alarms of these (rule, device) pairs (of `rules` only, when given) in one
    statement; how many each pair cleared."""
    query = Q()
    for rule_pk, device_pk in set(pairs):
        query |= Q(rule_id=rule_pk, device_id=device_pk)
    alarms = Alarm.objects.open().filter(query)
    if rules is not None:
        alarms = alarms.filter(rule_id__in=rules)
    rows = list(alarms.values_list("pk", "rule_id", "device_id", "application_id"))
    if rows:
        Alarm.objects.filter(pk__in=[row[0] for row in rows], cleared_at__isnull=True).update(
            cleared_at=now, cleared_by="rule"
        )
        alarms_changed(row[3] for row in rows)
    cleared: dict[tuple[int, int | None], int] = {}
    for _, rule_pk, device_pk, _ in rows:
        cleared[(rule_pk, device_pk)] = cleared.get((rule_pk, device_pk), 0) + 1
    return cleared


def clear_by_rule(pairs: list[tuple[int, int | None]], now: dt.datetime, *, only_auto: bool = True) -> int:
    """Clear the open alarms of these (rule, device) pairs: the rule stopped holding (only rules whose
    alarm actions clear automatically), or said recovery."""
    if not pairs:
        return 0
    rules = None
    if only_auto:
        rules = {
            pk
            for pk, actions in Rule.objects.filter(pk__in={p for p, _ in pairs}).values_list("pk", "actions")
            if any(a["type"] == spec.ALARM and a.get("autoClear", True) for a in actions)
        }
        if not rules:
            return 0
    return sum(_clear_pairs(pairs, now, rules=rules).values())


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
    """Carry out the engine's verdicts for a batch in one transaction; returns the runs of rules that fired.
    Every verdict is kept as the rule's evaluation (what it saw, what it did or why not) after commit."""
    firing = [(rule, device, verdict) for rule, device, verdict in verdicts if verdict.fires]
    recovering = [(rule.pk, device.pk) for rule, device, verdict in verdicts if verdict.recovers]
    if not (firing or recovering or timers or rearm):
        _keep_evaluations(verdicts, {}, now)
        return []
    outcomes: dict[int, tuple[str, list[dict[str, Any]]]] = {}  # by id(verdict): what a firing verdict came to
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
        rules = Rule.objects.select_related("application").in_bulk({rule.pk for rule, _, _ in firing}) if firing else {}
        firings = []
        for compiled, device, verdict in firing:
            rule = rules.get(compiled.pk)
            if rule is None or not rule.is_active:
                outcomes[id(verdict)] = (evaluations.DISABLED, [])
            elif not spec.in_time_range(rule.time_range, rule.timezone_id, now):
                outcomes[id(verdict)] = (evaluations.OUTSIDE_WINDOW, [])
            else:
                firings.append((verdict, Firing(rule, device, verdict.reasons, now)))
        runs = fire([one for _, one in firings])
        for verdict, one in firings:
            skipped = [{"type": a["type"], "disabled": True} for a in one.rule.actions if not a.get("enable", True)]
            outcomes[id(verdict)] = (evaluations.FIRED, evaluations.summarise(one.results_in_order()) + skipped)
        _keep_evaluations(verdicts, outcomes, now)
    return runs


def _keep_evaluations(
    verdicts: list[tuple[engine.Compiled, Any, engine.Verdict]],
    outcomes: dict[int, tuple[str, list[dict[str, Any]]]],
    now: dt.datetime,
) -> None:
    """The batch's verdicts as the rules' last evaluations, written once the batch commits."""
    if not verdicts:
        return
    kept = []
    for compiled, device, verdict in verdicts:
        outcome, done = outcomes.get(id(verdict), (None, []))
        if outcome is None:
            outcome = (
                evaluations.RECOVERED
                if verdict.recovers
                else evaluations.HELD
                if verdict.holds
                else evaluations.NOT_MET
            )
        device_id, node_id = getattr(device, "device_id", "") or "", getattr(device, "node_id", "") or ""
        kept.append(
            evaluations.Evaluation(compiled.pk, device_id, node_id, now, verdict.holds, verdict.seen, outcome, done)
        )
    transaction.on_commit(lambda: evaluations.record(kept))


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


ALARMS_CHANGED = "alarms.changed"


def alarms_changed(application_pks: Iterable[int]) -> None:
    """Open alarm consoles of these applications refresh (a live event to each application's group,
    after commit): one event per application and batch, whatever the number of alarms."""
    for application_pk in set(application_pks):
        events.publish(application_pk, ALARMS_CHANGED, {})


def check_alarm_ids(alarm_ids: Any) -> list[str]:
    if not isinstance(alarm_ids, list) or not alarm_ids or len(alarm_ids) > 1000:
        raise spec.invalid("alarmIds", "must be an array of 1 to 1000 alarm ids")
    if not all(isinstance(alarm_id, str) for alarm_id in alarm_ids):
        raise spec.invalid("alarmIds", "must hold strings")
    return alarm_ids


@transaction.atomic
def do_acknowledge_alarms(application: Application, alarm_ids: Any, by: str) -> int:
    """Acknowledge open alarms (who and when); already acknowledged or cleared ones stay as they are."""
    ids = check_alarm_ids(alarm_ids)
    count = (
        Alarm.objects.for_app(application)
        .open()
        .filter(alarm_id__in=ids, acknowledged_at__isnull=True)
        .update(acknowledged_at=timezone.now(), acknowledged_by=by[:150])
    )
    if count:
        alarms_changed([application.pk])
        _audit_alarms("alarm.acknowledged", application, ids, count)
    return count


def _audit_alarms(action: str, application: Application, ids: list[str], count: int) -> None:
    """One event per call: the alarms asked for and how many changed (the others were already so)."""
    audit.record(action, application=application, target=f"{count} alarms", detail={"alarmIds": ids, "count": count})


@transaction.atomic
def do_clear_alarms(application: Application, alarm_ids: Any, by: str) -> int:
    """Clear open alarms by hand (who and when); the rule may raise a new one later."""
    ids = check_alarm_ids(alarm_ids)
    count = (
        Alarm.objects.for_app(application)
        .open()
        .filter(alarm_id__in=ids)
        .update(cleared_at=timezone.now(), cleared_by=by[:150])
    )
    if count:
        alarms_changed([application.pk])
        _audit_alarms("alarm.cleared", application, ids, count)
    return count


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
