"""Portal forms for products: upload, and the online editor's forms for each part of a profile.

The editor's forms do not validate values themselves: text fields take anything, and each form
turns its values into the JSON the profile holds (`to_json`). The profile is then checked by
products.validation, the same rules as an upload, and each issue is shown beside the field its JSON
path names (`add_issues`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.models import Application
from applications.widgets import use_application_picker
from products.documents import Target
from products.validation import DATA_TYPES, METHOD_LETTERS, OPTIONS, PROTOCOL_TYPES, ProfileIssue

_WHOLE = re.compile(r"\s*[+-]?\d+\s*")
_DECIMAL = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")


def _text_input(**attrs: str) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", **attrs})


def _text(label: str, help_text: str = "") -> forms.CharField:
    # Not required and no length limit here: emptiness and length are the profile rules' to report.
    return forms.CharField(label=label, help_text=help_text, required=False, widget=_text_input())


def _select(label: str, choices: Iterable[tuple[str, str]], help_text: str = "") -> forms.CharField:
    return forms.CharField(label=label, help_text=help_text, required=False, widget=forms.Select(choices=choices))


def _number(text: str) -> Any:
    """A number typed in the editor; what is not a number stays text, for validation to name."""
    text = text.strip()
    if not text:
        return None
    if _WHOLE.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    return text


def _whole(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    return int(text) if _WHOLE.fullmatch(text) else text


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


def _field_of(issue: ProfileIssue, targets: Iterable[Target]) -> str | None:
    """The JSON key right below a target's path that the issue is about, e.g. `dataType`."""
    for target in targets:
        if issue.file != target.file or not issue.path.startswith(target.path):
            continue
        match = re.match(r"\.(\w+)", issue.path[len(target.path) :])
        if match:
            return match[1]
    return None


class ProfileForm(forms.Form):
    """Base of the editor's forms: the product's revision, and issues shown beside their fields."""

    revision = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def initial_from(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        return {name: _shown(values.get(name)) for name in cls.base_fields if name != "revision"}

    def add_issues(self, issues: Iterable[ProfileIssue], targets: Iterable[Target]) -> None:
        """Each issue beside the field it concerns; the rest above the form.

        The stored profile always passed every rule, so whatever is wrong now comes from this form;
        issues elsewhere (a service file left unreferenced by a bad serviceType) are consequences
        of a field's issue and are shown only once the fields are right.
        """
        targets = tuple(targets)
        issues = list(issues)
        placed = False
        for issue in issues:
            key = _field_of(issue, targets)
            if key in self.fields and key != "revision":
                self.add_error(key, issue.message)
                placed = True
        if placed:
            return
        for issue in issues:
            location = f"{issue.location}: " if issue.location else ""
            self.add_error(None, f"{location}{issue.message}")


PROTOCOL_CHOICES = [(name, name) for name in PROTOCOL_TYPES]
DATA_TYPE_CHOICES = [(name, name) for name in DATA_TYPES]
OPTION_CHOICES = [(name, name or _("(empty)")) for name in OPTIONS]
METHOD_CHOICES = [("R", _("R: read")), ("W", _("W: write")), ("E", _("E: observe (reported by the device)"))]


class ProductForm(ProfileForm):
    """The device's own fields (devicetype-capability.json), and on creation the owning application."""

    application = forms.ModelChoiceField(
        label=_("Application"), queryset=Application.objects.none(), empty_label=None, to_field_name="app_id"
    )
    deviceType = _text(_("Device type"), _("deviceType, UpperCamelCase, like WaterMeter."))
    manufacturerId = _text(_("Manufacturer ID"), _("manufacturerId: letters, digits, '.', '-' and '_'."))
    manufacturerName = _text(_("Manufacturer name"), _("manufacturerName."))
    model = _text(_("Model"), _("model: manufacturerId and model identify the product on the whole platform."))
    protocolType = _select(_("Protocol"), PROTOCOL_CHOICES, _("protocolType: how the devices connect."))

    def __init__(self, *args: Any, applications: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if applications is None:
            del self.fields["application"]
        else:
            self.fields["application"].queryset = applications
            use_application_picker(self.fields["application"])

    def to_json(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {key: data[key] for key in ("deviceType", "manufacturerId", "manufacturerName", "model", "protocolType")}


class ServiceForm(ProfileForm):
    """One entry of serviceTypeCapabilities and its service type's description."""

    serviceId = _text(_("Service ID"), _("serviceId, UpperCamelCase, unique in the product."))
    serviceType = _text(
        _("Service type"), _("serviceType, UpperCamelCase; services of one type share properties and commands.")
    )
    option = _select(_("Option"), OPTION_CHOICES, _("Master, Mandatory, Optional or empty."))
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}), strip=True
    )

    def to_json(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "serviceId": data["serviceId"],
            "serviceType": data["serviceType"],
            "option": data["option"],
            "description": data["description"] or None,
        }


class DatumForm(ProfileForm):
    """What a property and a command's para share: a name, a data type and its limits."""

    name_key = "paraName"

    dataType = _select(_("Data type"), DATA_TYPE_CHOICES, _("int, decimal, double, string, DateTime or jsonObject."))
    required = forms.BooleanField(label=_("Required"), required=False)
    min = _text(_("Minimum"), _("A number; for int, decimal and double."))
    max = _text(_("Maximum"), _("A number, at least the minimum for a property."))
    step = _text(_("Step"), _("A number, 0 or more."))
    maxLength = _text(_("Maximum length"), _("A whole number, 0 or more; for strings."))
    unit = _text(_("Unit"), _("Like V, L or %."))
    enumList = _text(_("Enumeration"), _("Values separated by commas, for string data only: OPEN,CLOSE."))

    def to_json(self) -> dict[str, Any]:
        data = self.cleaned_data
        enum_text = data["enumList"].strip()
        return {
            self.name_key: data[self.name_key],
            "dataType": data["dataType"],
            "required": bool(data["required"]),
            "min": _number(data["min"]),
            "max": _number(data["max"]),
            "step": _number(data["step"]),
            "maxLength": _whole(data["maxLength"]),
            "unit": data["unit"] or None,
            "enumList": [value.strip() for value in enum_text.split(",")] if enum_text else None,
        }

    @classmethod
    def initial_from(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        initial = super().initial_from(values)
        initial["required"] = bool(values.get("required"))
        initial["enumList"] = ",".join(values.get("enumList") or [])
        return initial


class PropertyForm(DatumForm):
    name_key = "propertyName"

    propertyName = _text(_("Property name"), _("propertyName, camelCase, like batteryLevel."))
    method = forms.MultipleChoiceField(
        label=_("Access"), required=False, choices=METHOD_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    field_order = ["propertyName", "dataType", "method", "required", "min", "max", "step", "maxLength", "unit"]

    def to_json(self) -> dict[str, Any]:
        values = super().to_json()
        chosen = set(self.cleaned_data["method"])
        values["method"] = "".join(letter for letter in METHOD_LETTERS if letter in chosen)
        return values

    @classmethod
    def initial_from(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        initial = super().initial_from(values)
        initial["method"] = list(values.get("method") or "")
        return initial


class ParaForm(DatumForm):
    name_key = "paraName"

    paraName = _text(_("Parameter name"), _("paraName, camelCase, like period."))

    field_order = ["paraName"]


class CommandForm(ProfileForm):
    commandName = _text(_("Command name"), _("commandName: letters, digits and underscores, like SET_REPORT_PERIOD."))

    def to_json(self) -> dict[str, Any]:
        return {"commandName": self.cleaned_data["commandName"]}


class ResponseForm(ProfileForm):
    responseName = _text(_("Response name"), _("responseName, like SET_REPORT_PERIOD_RSP."))

    def to_json(self) -> dict[str, Any]:
        return {"responseName": self.cleaned_data["responseName"]}


class UploadForm(forms.Form):
    """A profile zip, and on a first upload the application that will own the product."""

    application = forms.ModelChoiceField(
        label=_("Application"), queryset=Application.objects.none(), empty_label=None, to_field_name="app_id"
    )
    # Not required: a missing file is the profile rule PROFILE_FILE_MISSING, as in the API.
    file = forms.FileField(
        label=_("Profile zip"),
        required=False,
        help_text=_("Named deviceType_manufacturerId_model.zip, like WaterMeter_Huawei_v1001.zip."),
    )

    def __init__(self, *args: Any, applications: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if applications is None:
            del self.fields["application"]
        else:
            self.fields["application"].queryset = applications
            use_application_picker(self.fields["application"])


class ProductChoiceField(forms.ModelChoiceField):
    """A product chosen in a form, named as pickers name it (Product.label)."""

    def label_from_instance(self, product) -> str:
        return product.label
