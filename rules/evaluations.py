"""A rule's last evaluations: for which device, when, the values its conditions saw, whether it held,
and what it did or why it did nothing. Shown on the rule's page (rules.views.rule_evaluations).

Kept in Redis, the last RULES_EVALUATIONS_KEPT per rule (a list per rule, newest first): a diagnostic
that a busy rule rewrites many times a second, so not rows in PostgreSQL. A batch's evaluations are
written after its transaction commits, in one pipeline (LPUSH, LTRIM, EXPIRE per rule, only the last
N of each rule serialised), so the uplink path pays nothing for rules no value reached (those are not
evaluated at all: rules.engine) and one round trip per batch for the others. Losing them (a Redis
restart) loses no data: runs (RuleRun) and alarms are the record.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

from applications.formats import format_time
from applications.redis import get_redis, key

log = logging.getLogger(__name__)

# What an evaluation did, or why it did nothing.
FIRED = "fired"
HELD = "held"  # it held before: a "reverse" trigger fires on the edge only
NOT_MET = "not_met"
RECOVERED = "recovered"  # it stopped holding: its alarms clear (autoClear)
DISABLED = "disabled"  # disabled (or deleted) between compiling and firing
OUTSIDE_WINDOW = "outside_window"  # outside the rule's timeRange
OUTCOMES = (FIRED, HELD, NOT_MET, RECOVERED, DISABLED, OUTSIDE_WINDOW)

# A rule nobody touches for this long loses its list (and a deleted rule's list goes away by itself).
TTL_SECONDS = 7 * 24 * 3600


def _key(rule_pk: int) -> str:
    return key("rules", "evaluations", rule_pk)


@dataclass
class Evaluation:
    """One evaluation of one rule for one device (or for no device: a timer rule)."""

    rule_pk: int
    device_id: str
    node_id: str
    at: dt.datetime
    holds: bool
    seen: list[dict[str, Any]]
    outcome: str
    actions: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> str:
        return json.dumps(
            {
                "at": format_time(self.at),
                "deviceId": self.device_id,
                "nodeId": self.node_id,
                "result": self.holds,
                "conditions": self.seen,
                "outcome": self.outcome,
                "actions": self.actions,
            },
            separators=(",", ":"),
            default=str,
        )


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each action did, from the ruleEvent's actionsResults: its type and its result or refusal;
    an alarm raised again says it was already open (its count above 1)."""
    out = []
    for result in results:
        entry: dict[str, Any] = {"type": result["type"]}
        if "exception" in result:
            entry["refused"] = result["exception"].get("error_desc") or result["exception"].get("error_code")
        else:
            entry["result"] = result.get("result")
            if result["type"] == "DEVICE_ALARM" and (result.get("result") or {}).get("count", 1) > 1:
                entry["alreadyOpen"] = True
        out.append(entry)
    return out


def record(evaluations: list[Evaluation]) -> None:
    """Keep a batch's evaluations: one pipeline, the newest N of each rule. A Redis failure is logged and
    dropped: the uplinks are stored already and the evaluations are only a diagnostic."""
    if not evaluations:
        return
    kept = settings.RULES_EVALUATIONS_KEPT
    by_rule: dict[int, list[Evaluation]] = {}
    for evaluation in evaluations:
        by_rule.setdefault(evaluation.rule_pk, []).append(evaluation)
    try:
        pipe = get_redis().pipeline(transaction=False)
        for rule_pk, entries in by_rule.items():
            name = _key(rule_pk)
            pipe.lpush(name, *(entry.as_json() for entry in entries[-kept:]))  # oldest first: newest at the head
            pipe.ltrim(name, 0, kept - 1)
            pipe.expire(name, TTL_SECONDS)
        pipe.execute()
    except RedisError as error:
        log.warning("rule evaluations of %d rules not kept: %s", len(by_rule), error)


def recent(rule_pk: int, limit: int | None = None) -> list[dict[str, Any]]:
    """A rule's last evaluations, newest first (the caller has checked the rule is the reader's)."""
    limit = min(limit or settings.RULES_EVALUATIONS_KEPT, settings.RULES_EVALUATIONS_KEPT)
    try:
        raw = get_redis().lrange(_key(rule_pk), 0, limit - 1)
    except RedisError as error:
        log.warning("rule evaluations of rule %d not read: %s", rule_pk, error)
        return []
    return [json.loads(item) for item in raw]


def forget(rule_pk: int) -> None:
    """A deleted or replaced rule's evaluations go (a replaced rule's old conditions no longer apply)."""
    try:
        get_redis().delete(_key(rule_pk))
    except RedisError as error:
        log.warning("rule evaluations of rule %d not deleted: %s", rule_pk, error)
