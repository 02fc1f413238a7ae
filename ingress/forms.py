from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SimulatorForm(forms.Form):
    """The Developer Center's device simulator: which device, what bytes, how long to listen."""

    node_id = forms.CharField(
        label=_("Device (nodeId)"), max_length=256, widget=forms.TextInput(attrs={"list": "simulator-devices"})
    )
    payload = forms.CharField(
        label=_("Payload (hex)"), max_length=2048, widget=forms.TextInput(attrs={"class": "mono"})
    )
    confirmable = forms.BooleanField(label=_("Confirmable (CON)"), required=False, initial=True)
    client = forms.ChoiceField(
        label=_("Acts as"),
        choices=[
            ("huawei", _("Huawei module (opaque writes to /19/1/0)")),
            ("1.0", _("LwM2M 1.0 client (object 19 by the specification: TLV writes)")),
            ("1.1", _("LwM2M 1.1 client (object 19 by the specification: writes to /19/1/0/0)")),
        ],
        initial="huawei",
        required=False,
    )
    wait = forms.FloatField(label=_("Listen for downlinks (seconds)"), min_value=0, max_value=10, initial=1.0)

    def clean_payload(self) -> bytes:
        text = "".join(self.cleaned_data["payload"].split())
        try:
            payload = bytes.fromhex(text)
        except ValueError:
            raise forms.ValidationError(_("Use hexadecimal digits, two per byte (e.g. 0014000012340007).")) from None
        if not payload:
            raise forms.ValidationError(_("Type at least one byte."))
        return payload
