"""Rules and alarms as the APIs show them."""

from __future__ import annotations

from typing import Any

from applications.formats import format_time
from rules import spec
from rules.models import Alarm, Rule


def rule_body(rule: Rule) -> dict[str, Any]:
    """A rule as the original's RuleDTO2: what the client wrote, with ruleId, appKey and status."""
    return {
        "ruleId": rule.rule_id,
        "appKey": rule.application.app_id,
        "name": rule.name,
        "description": rule.description,
        "author": rule.author,
        "conditions": spec.public(rule.conditions),
        "logic": rule.logic,
        "timeRange": rule.time_range,
        "actions": rule.actions,
        "status": rule.status,
        "timezoneID": rule.timezone_id or None,
        **rule.extra,
    }


def alarm_body(alarm: Alarm) -> dict[str, Any]:
    return {
        "alarmId": alarm.alarm_id,
        "name": alarm.name,
        "severity": alarm.severity,
        "state": alarm.state,
        "description": alarm.description,
        "deviceId": alarm.device.device_id if alarm.device_id else None,
        "ruleId": alarm.rule.rule_id if alarm.rule_id else None,
        "ruleName": alarm.rule.name if alarm.rule_id else None,
        "value": alarm.value,
        "count": alarm.count,
        "raisedTime": format_time(alarm.raised_at),
        "lastRaisedTime": format_time(alarm.last_raised_at),
        "acknowledgedTime": format_time(alarm.acknowledged_at),
        "acknowledgedBy": alarm.acknowledged_by or None,
        "clearedTime": format_time(alarm.cleared_at),
        "clearedBy": alarm.cleared_by or None,
    }
