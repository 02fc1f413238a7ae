"""Portal forms of the subscriptions area."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.forms import preselect_only_application
from applications.models import Application
from applications.widgets import use_application_picker
from subscriptions import notify_types as nt
from subscriptions.payloads import SAMPLE_TYPES


class _AppChoiceForm(forms.Form):
    application = forms.ModelChoiceField(
        label=_("Application"), queryset=Application.objects.none(), to_field_name="app_id"
    )

    def __init__(self, *args, applications=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = applications if applications is not None else Application.objects.none()
        preselect_only_application(self.fields["application"])
        use_application_picker(self.fields["application"])


class SubscribeForm(_AppChoiceForm):
    notify_type = forms.ChoiceField(label=_("Notify type"), choices=[(value, value) for value in nt.ALL])
    callback_url = forms.CharField(
        label=_("Callback URL"),
        max_length=1024,
        help_text=_("http(s)://host:port/path — one host:port per application (F-6.1, F-6.7)."),
    )


class SampleForm(_AppChoiceForm):
    notify_type = forms.ChoiceField(label=_("Notify type"), choices=[(value, value) for value in SAMPLE_TYPES])
    url = forms.CharField(label=_("URL"), max_length=1024, help_text=_("Any http(s)://host:port/path."))


class PushFilterForm(forms.Form):
    application = forms.CharField(required=False)
    notify_type = forms.ChoiceField(
        required=False, choices=[("", _("all types"))] + [(value, value) for value in SAMPLE_TYPES]
    )
    state = forms.ChoiceField(
        required=False,
        choices=[
            ("", _("all states")),
            ("pending", _("pending")),
            ("delivered", _("delivered")),
            ("failed", _("failed")),
        ],
    )
    q = forms.CharField(required=False, max_length=200)
