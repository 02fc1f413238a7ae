"""Portal forms for applications and their members."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applications import actions
from applications.models import Application, Role


class ApplicationForm(forms.ModelForm):
    """Name and settings of an application, validated by the same rules as the API."""

    class Meta:
        model = Application
        fields = [
            "name",
            "storage_mode",
            "push_protocol",
            "abnormal_after",
            "offline_after",
            "data_retention_days",
            "device_quota",
            "api_rate_limit",
            "device_uplink_limit",
            "uplink_rate_limit",
        ]

    def clean(self):
        cleaned = super().clean()
        changes = {field: cleaned[field] for field in self.Meta.fields if field in cleaned and field != "name"}
        for field, message in actions.check_settings(self.instance, changes).items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, gettext(message))
        return cleaned


class MemberForm(forms.Form):
    username = forms.CharField(label=_("Account"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)

    def clean_username(self):
        username = self.cleaned_data["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise forms.ValidationError(_("No account is named “%(name)s”."), params={"name": username})
        if user.is_staff:
            raise forms.ValidationError(_("Operators see every application already."))
        self.user = user
        return username


def preselect_only_application(field: forms.ModelChoiceField) -> None:
    """An account that can choose one application has nothing to choose: it is selected, with no empty
    choice before it. Call after the field's queryset is set (one query, of at most two rows)."""
    applications = list(field.queryset[:2])
    if len(applications) == 1:
        field.initial = applications[0].app_id
        field.empty_label = None
