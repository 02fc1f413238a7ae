"""The portal's rule editor: conditions built from the product's profile (property pickers with units
and ranges), actions, the active window. It builds the original's rule body and goes through the same
actions as the API, so the editor and the API accept and refuse the same rules."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from commands.forms import command_choices
from devices.models import Device, DeviceGroup
from products.models import Product
from rules import spec

CONDITION_ROWS = 10  # rules.spec allows 1 to 10; editor.js shows the rows in use and one more
GROUP_PREFIX = "group:"
KINDS = [
    ("", _("(none)")),
    ("data", _("reported property")),
    ("status", _("device status becomes")),
    ("absence", _("no report for N minutes")),
]
OPERATORS = [
    (">", ">"),
    (">=", "≥"),
    ("<", "<"),
    ("<=", "≤"),
    ("=", "="),
    ("!=", "≠"),
    ("between", _("between (low,high)")),
    ("changedBy", _("changed by more than")),
]
STATUSES = [("OFFLINE", _("OFFLINE")), ("ABNORMAL", _("ABNORMAL")), ("ONLINE", _("ONLINE (came back)"))]


def property_choices(product: Product) -> list[tuple[str, str]]:
    """("Service/property", "Service · property (type, unit, min..max)") for every property of the product."""
    services = {service["serviceType"]: service for service in product.profile["services"]}
    choices = []
    for capability in product.profile["device"]["serviceTypeCapabilities"]:
        for prop in services.get(capability["serviceType"], {}).get("properties") or []:
            details = [str(prop.get("dataType") or "")]
            if prop.get("unit"):
                details.append(str(prop["unit"]))
            if prop.get("min") not in (None, "") and prop.get("max") not in (None, ""):
                details.append(f"{prop['min']}..{prop['max']}")
            if prop.get("enumList"):
                details.append("/".join(str(item) for item in prop["enumList"]))
            label = f"{capability['serviceId']} · {prop['propertyName']} ({', '.join(details)})"
            choices.append((f"{capability['serviceId']}/{prop['propertyName']}", label))
    return choices


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=256)
    description = forms.CharField(label=_("Description"), max_length=1024, required=False)
    device = forms.ChoiceField(label=_("Devices"), required=False)
    logic = forms.ChoiceField(
        label=_("Conditions must"), choices=[("and", _("all hold (AND)")), ("or", _("any hold (OR)"))]
    )
    alarm_name = forms.CharField(label=_("Raise an alarm named"), max_length=256, required=False)
    alarm_severity = forms.ChoiceField(
        label=_("Alarm severity"), choices=[(value, _(value)) for value in spec.SEVERITIES], initial="major"
    )
    command = forms.ChoiceField(label=_("Send a command"), required=False)
    command_paras = forms.CharField(label=_("Command parameters (JSON)"), required=False, initial="{}")
    webhook = forms.URLField(label=_("Call a webhook (HTTPS URL)"), required=False, assume_scheme="https")
    start_time = forms.CharField(label=_("Active from (HH:mm)"), required=False, max_length=5)
    end_time = forms.CharField(label=_("Active until (HH:mm)"), required=False, max_length=5)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=False)

    def __init__(self, *args: Any, product: Product, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.product = product
        devices = Device.objects.filter(product=product).order_by("node_id").values_list("device_id", "node_id")[:500]
        groups = [
            (f"{GROUP_PREFIX}{dev_group_id}", _("group · %(name)s") % {"name": name})
            for dev_group_id, name in DeviceGroup.objects.filter(application=product.application_id)
            .order_by("name")
            .values_list("dev_group_id", "name")[:200]
        ]
        self.fields["device"].choices = [
            ("", _("every device of the product")),
            *([(_("Device groups"), groups)] if groups else []),
            (_("Devices"), list(devices)),
        ]
        self.fields["command"].choices = [("", _("(none)")), *command_choices(product)]
        properties = property_choices(product)
        for row in range(CONDITION_ROWS):
            self.fields[f"kind_{row}"] = forms.ChoiceField(
                label=_("Condition %(n)s") % {"n": row + 1},
                choices=KINDS,
                required=False,
                initial="data" if row == 0 else "",
            )
            self.fields[f"property_{row}"] = forms.ChoiceField(label=_("Property"), choices=properties, required=False)
            self.fields[f"operator_{row}"] = forms.ChoiceField(label=_("Operator"), choices=OPERATORS, required=False)
            self.fields[f"value_{row}"] = forms.CharField(label=_("Value"), required=False, max_length=64)
            self.fields[f"duration_{row}"] = forms.IntegerField(
                label=_("Holding for (seconds)"), required=False, min_value=0, max_value=86400
            )
            self.fields[f"status_{row}"] = forms.ChoiceField(label=_("Status"), choices=STATUSES, required=False)
            self.fields[f"minutes_{row}"] = forms.IntegerField(
                label=_("Minutes"), required=False, min_value=1, max_value=10080
            )

    def condition_rows(self) -> list[dict[str, Any]]:
        names = ("kind", "property", "operator", "value", "duration", "status", "minutes")
        return [{name: self[f"{name}_{row}"] for name in names} | {"number": row + 1} for row in range(CONDITION_ROWS)]

    def plain_fields(self) -> list[Any]:
        return [self[name] for name in ("name", "description", "device", "logic")]

    def action_fields(self) -> list[Any]:
        return [self[name] for name in ("alarm_name", "alarm_severity", "command", "command_paras", "webhook")]

    def window_fields(self) -> list[Any]:
        return [self[name] for name in ("start_time", "end_time", "enabled")]

    def body(self) -> dict[str, Any]:
        """The original's rule body for the cleaned form; rules.spec still checks every rule in it."""
        data = self.cleaned_data
        target: dict[str, Any]
        if data["device"].startswith(GROUP_PREFIX):
            target = {"deviceGroupInfo": {"devGroupId": data["device"].removeprefix(GROUP_PREFIX)}}
            data_type = "DEVICE_GROUP_DATA"
        elif data["device"]:
            target = {"deviceInfo": {"deviceId": data["device"]}}
            data_type = "DEVICE_DATA"
        else:
            target = {"deviceTypeInfo": {"manufacturerId": self.product.manufacturer_id, "model": self.product.model}}
            data_type = "DEVICE_TYPE_DATA"
        conditions = []
        for row in range(CONDITION_ROWS):
            kind = data.get(f"kind_{row}")
            if kind == "data":
                info_key = next(iter(target))
                condition = {
                    "type": data_type,
                    info_key: {**target[info_key], "path": data.get(f"property_{row}")},
                    "operator": data.get(f"operator_{row}"),
                    "value": data.get(f"value_{row}"),
                }
                if data.get(f"duration_{row}"):
                    condition["duration"] = data[f"duration_{row}"]
                conditions.append(condition)
            elif kind == "status":
                conditions.append({"type": spec.STATUS, **target, "status": data.get(f"status_{row}")})
            elif kind == "absence":
                conditions.append({"type": spec.NO_DATA, **target, "minutes": data.get(f"minutes_{row}")})
        actions: list[dict[str, Any]] = []
        if data["alarm_name"]:
            actions.append(
                {"type": spec.ALARM, "name": data["alarm_name"], "severity": data["alarm_severity"], "status": "fault"}
            )
        if data["command"]:
            service_id, _sep, method = data["command"].partition("|")
            try:
                paras = json.loads(data["command_paras"] or "{}")
            except json.JSONDecodeError:
                paras = None
            actions.append(
                {
                    "type": spec.CMD,
                    "cmd": {"serviceId": service_id, "messageType": method, "messageBody": paras},
                    "cmdMetaData": {"expireTime": 0},
                }
            )
        if data["webhook"]:
            actions.append({"type": spec.WEBHOOK, "url": data["webhook"]})
        body: dict[str, Any] = {
            "name": data["name"],
            "description": data["description"],
            "logic": data["logic"],
            "conditions": conditions,
            "actions": actions,
            "status": "active" if data["enabled"] else "inactive",
        }
        if data["start_time"] or data["end_time"]:
            body["timeRange"] = {"startTime": data["start_time"], "endTime": data["end_time"]}
        return body

    @classmethod
    def initial_from(cls, rule) -> dict[str, Any]:
        """The form's values for an existing rule (the conditions the editor can show)."""
        initial: dict[str, Any] = {
            "name": rule.name,
            "description": rule.description,
            "logic": rule.logic,
            "enabled": rule.is_active,
        }
        for row, condition in enumerate(rule.conditions[:CONDITION_ROWS]):
            info = (
                condition.get("deviceInfo") or condition.get("deviceTypeInfo") or condition.get("deviceGroupInfo") or {}
            )
            if condition.get("deviceInfo"):
                initial["device"] = info.get("deviceId")
            elif condition.get("deviceGroupInfo"):
                initial["device"] = f"{GROUP_PREFIX}{info.get('devGroupId')}"
            if condition["type"] in spec.DATA_TYPES:
                initial.update(
                    {
                        f"kind_{row}": "data",
                        f"property_{row}": info.get("path"),
                        f"operator_{row}": condition.get("operator"),
                        f"value_{row}": condition.get("value"),
                        f"duration_{row}": condition.get("duration") or None,
                    }
                )
            elif condition["type"] == spec.STATUS:
                initial.update({f"kind_{row}": "status", f"status_{row}": condition.get("status")})
            elif condition["type"] == spec.NO_DATA:
                initial.update({f"kind_{row}": "absence", f"minutes_{row}": condition.get("minutes")})
        for row in range(len(rule.conditions), CONDITION_ROWS):
            initial[f"kind_{row}"] = ""
        for action in rule.actions:
            if action["type"] == spec.ALARM:
                initial.update(alarm_name=action.get("name"), alarm_severity=action.get("severity"))
            elif action["type"] == spec.CMD:
                cmd = action.get("cmd") or {}
                initial.update(
                    command=f"{cmd.get('serviceId')}|{cmd.get('messageType')}",
                    command_paras=json.dumps(cmd.get("messageBody") or {}),
                )
            elif action["type"] == spec.WEBHOOK:
                initial["webhook"] = action.get("url")
        if rule.time_range:
            initial.update(start_time=rule.time_range["startTime"], end_time=rule.time_range["endTime"])
        return initial
