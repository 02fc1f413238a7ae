"""Portal forms for codecs: the plugin upload, the debugging page's decode and encode, the builder's document.

The online builder is one form of repeated rows (messages, and the fields of each): `builder_document`
reads it back into the online plugin's JSON document (products.codecs.online), and the template
writes it out from the document. Values are not validated here: the deploy rules name every problem
with its message and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_MESSAGES = 64
MAX_FIELDS = 128
FIELD_KEYS = ("name", "type", "length", "default", "lengthField", "target")
MESSAGE_KEYS = ("name", "kind", "serviceId", "command", "ack")


class CodecUploadForm(forms.Form):
    # Not required: a missing file is the rule CODEC_FILE_MISSING, as in the API.
    file = forms.FileField(
        label=_("Plugin zip"),
        required=False,
        help_text=_(
            "manifest.json, the script it names as entry, and its test vectors (recommended): vectors.json, "
            "or The Things Network's *-codec.yaml as it is."
        ),
    )
    activate = forms.TypedChoiceField(
        label=_("When devices are registered with the product"),
        choices=(
            ("later", _("Keep the current version; try the new one on stored uplinks first")),
            ("now", _("Activate the new version now")),
        ),
        coerce=str,
        initial="later",
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not locked:
            # Without devices a new version is active at once, the way a developer iterates.
            del self.fields["activate"]

    def activate_choice(self) -> bool | None:
        """True, False, or None when the product has no devices (active at once)."""
        if "activate" not in self.fields:
            return None
        return self.cleaned_data.get("activate") == "now"


class DebugForm(forms.Form):
    version = forms.TypedChoiceField(label=_("Version"), coerce=int, choices=())
    fPort = forms.CharField(
        label=_("fPort"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": "1"}),
        help_text=_("The LoRaWAN port a TTN or ChirpStack codec gets; empty for the manifest's."),
    )
    variables = forms.CharField(
        label=_("Variables (JSON)"),
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": '{"name": "value"}'}
        ),
        help_text=_("The codec's variables, as ChirpStack gives a device's; empty for the manifest's."),
    )

    def __init__(self, *args: Any, versions: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = versions


class DecodeForm(DebugForm):
    payload = forms.CharField(
        label=_("Payload (hex)"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "01 000004D2 FFF6"}),
        help_text=_("The bytes a device sends, two hex digits each; spaces are ignored."),
    )


class EncodeForm(DebugForm):
    message = forms.CharField(
        label=_("cloudReq or cloudRsp (JSON)"),
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
        help_text=_(
            'A command: {"msgType": "cloudReq", "serviceId", "cmd", "paras", "mid"}. A report ACK: '
            '{"msgType": "cloudRsp", "request": "<hex of the uplink>", "errcode": 0, "hasMore": 0}.'
        ),
    )


def _count(data: Mapping[str, Any], key: str, limit: int) -> int:
    try:
        return max(0, min(int(data.get(key, "0")), limit))
    except ValueError:
        return 0


def builder_document(data: Mapping[str, Any]) -> dict[str, Any]:
    """The builder's posted rows as the online plugin's document."""
    messages = []
    for i in range(_count(data, "m-count", MAX_MESSAGES)):
        message: dict[str, Any] = {key: data.get(f"m-{i}-{key}", "").strip() for key in MESSAGE_KEYS}
        fields = []
        for j in range(_count(data, f"m-{i}-f-count", MAX_FIELDS)):
            item = {key: data.get(f"m-{i}-f-{j}-{key}", "").strip() for key in FIELD_KEYS}
            fields.append({key: value for key, value in item.items() if value != "" or key in ("name", "type")})
        message["fields"] = fields
        messages.append({key: value for key, value in message.items() if value != "" or key in ("name", "kind")})
    return {"messages": messages}


def new_message(number: int, kind: str = "dataReport") -> dict[str, Any]:
    """A message as the builder adds it: a messageId field first, as most devices have."""
    return {
        "name": f"message{number}",
        "kind": kind,
        "fields": [{"name": "messageId", "type": "uint8", "default": f"0x{number:02X}"}],
    }


def apply_action(document: dict[str, Any], action: str) -> dict[str, Any]:
    """The builder's buttons: add or remove a message or a field, move a field up."""
    messages = document.setdefault("messages", [])
    verb, _sep, rest = action.partition(":")
    numbers = [int(part) for part in rest.split(":") if part.isdigit()] if rest else []
    if verb == "add-message" and len(messages) < MAX_MESSAGES:
        messages.append(new_message(len(messages) + 1))
    elif verb == "remove-message" and len(numbers) == 1 and numbers[0] < len(messages):
        del messages[numbers[0]]
    elif verb in ("add-field", "remove-field", "move-field-up") and numbers and numbers[0] < len(messages):
        fields = messages[numbers[0]].setdefault("fields", [])
        if verb == "add-field" and len(fields) < MAX_FIELDS:
            fields.append({"name": "", "type": "uint8"})
        elif verb == "remove-field" and len(numbers) == 2 and numbers[1] < len(fields):
            del fields[numbers[1]]
        elif verb == "move-field-up" and len(numbers) == 2 and 0 < numbers[1] < len(fields):
            fields[numbers[1] - 1], fields[numbers[1]] = fields[numbers[1]], fields[numbers[1] - 1]
    return document
