"""The application simulator's form, generated from the device's product profile (F-5.10); delivery policies."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from commands.models import DeliveryPolicy


def command_choices(product) -> list[tuple[str, str]]:
    """("serviceId|commandName", "serviceId · commandName") for every command of the product."""
    if product is None:
        return []
    services = {service["serviceType"]: service for service in product.profile["services"]}
    choices = []
    for capability in product.profile["device"]["serviceTypeCapabilities"]:
        for command in services.get(capability["serviceType"], {}).get("commands") or []:
            choices.append(
                (
                    f"{capability['serviceId']}|{command['commandName']}",
                    f"{capability['serviceId']} · {command['commandName']}",
                )
            )
    return choices


def para_definitions(product, choice: str) -> list[dict[str, Any]]:
    service_id, _, name = choice.partition("|")
    capability = next(
        (c for c in product.profile["device"]["serviceTypeCapabilities"] if c["serviceId"] == service_id), None
    )
    if capability is None:
        return []
    service = next((s for s in product.profile["services"] if s["serviceType"] == capability["serviceType"]), {})
    command = next((c for c in service.get("commands") or [] if c["commandName"] == name), None)
    return list(command.get("paras") or []) if command else []


class CommandForm(forms.Form):
    """One field per para, typed by the profile's dataType; the profile's rules apply on submit."""

    expire_time = forms.IntegerField(
        label=_("expireTime (seconds)"),
        min_value=0,
        initial=172800,
        help_text=_("0: send now; more: cached (F-5.1, F-5.2)."),
    )

    def __init__(self, *args, paras: list[dict[str, Any]], **kwargs):
        super().__init__(*args, **kwargs)
        self.paras = paras
        for para in paras:
            name, data_type = para["paraName"], para.get("dataType")
            label = f"{name} ({data_type}{', ' + para['unit'] if para.get('unit') else ''})"
            required = bool(para.get("required"))
            if data_type == "int":
                field = forms.IntegerField(label=label, required=required)
            elif data_type in ("decimal", "double"):
                field = forms.FloatField(label=label, required=required)
            elif para.get("enumList"):
                field = forms.ChoiceField(label=label, required=required, choices=[(v, v) for v in para["enumList"]])
            else:
                field = forms.CharField(label=label, required=required, max_length=para.get("maxLength") or None)
            self.fields[f"para_{name}"] = field

    def command_paras(self) -> dict[str, Any]:
        values = {}
        for para in self.paras:
            value = self.cleaned_data.get(f"para_{para['paraName']}")
            if value not in (None, ""):
                values[para["paraName"]] = value
        return values


class DeliveryPolicyForm(forms.ModelForm):
    """Power mode and LwM2M downlink method; an empty choice inherits (product, then platform)."""

    class Meta:
        model = DeliveryPolicy
        fields = ["power_mode", "lwm2m_downlink"]
        labels = {"power_mode": _("Power mode"), "lwm2m_downlink": _("LwM2M downlink to /19/1/0")}
        help_texts = {
            "power_mode": _("PSM devices get all cached commands on their next uplink; DRX and eDRX one at a time."),
            "lwm2m_downlink": _("Modules differ: most take a Write, some only an Execute."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.fields:
            self.fields[name].choices = [("", _("inherit")), *self.fields[name].choices[1:]]
