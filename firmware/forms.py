"""Portal forms for packages and upgrade tasks."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.forms import preselect_only_application
from applications.models import Application
from devices.models import DeviceGroup
from firmware.models import FileType, Package


class PackageForm(forms.Form):
    application = forms.ModelChoiceField(
        label=_("Application"), queryset=Application.objects.none(), to_field_name="app_id"
    )
    file = forms.FileField(label=_("Package (zip, at most 35 MB)"))
    file_type = forms.ChoiceField(label=_("Kind"), choices=FileType.choices)
    version = forms.CharField(label=_("Version"), max_length=64)
    device_type = forms.CharField(label=_("Device type"), max_length=64)
    manufacturer_name = forms.CharField(label=_("Manufacturer name"), max_length=128)
    model = forms.CharField(label=_("Model"), max_length=64)
    protocol_type = forms.CharField(label=_("Protocol"), max_length=16, initial="LWM2M")
    source_versions = forms.CharField(label=_("Source versions (space-separated)"), required=False, max_length=1024)
    description = forms.CharField(label=_("Description"), required=False, max_length=1024)

    def __init__(self, *args, applications=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = applications if applications is not None else Application.objects.none()
        preselect_only_application(self.fields["application"])


class OperationForm(forms.Form):
    package = forms.ModelChoiceField(label=_("Package"), queryset=Package.objects.none(), to_field_name="file_id")
    group = forms.ModelChoiceField(
        label=_("Device group"), queryset=DeviceGroup.objects.none(), to_field_name="dev_group_id", required=False
    )
    node_ids = forms.CharField(
        label=_("Or devices (nodeIds, one per line)"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    execute_type = forms.ChoiceField(
        label=_("When"),
        choices=[("now", _("now")), ("device_online", _("when each device comes online"))],
        initial="now",
    )
    rate_per_minute = forms.IntegerField(label=_("Devices per minute (0: no limit)"), min_value=0, initial=0)
    max_concurrent = forms.IntegerField(label=_("Devices upgrading at once (0: no limit)"), min_value=0, initial=0)
    abort_failure_ratio = forms.IntegerField(
        label=_("Abort when this percentage of finished devices failed (empty: never)"),
        min_value=1,
        max_value=100,
        required=False,
    )
    retry_times = forms.IntegerField(label=_("Retries per device (0 to 5)"), min_value=0, max_value=5, initial=0)

    def __init__(self, *args, applications=None, **kwargs):
        super().__init__(*args, **kwargs)
        applications = applications if applications is not None else Application.objects.none()
        self.fields["package"].queryset = Package.objects.filter(application__in=applications).defer("data")
        self.fields["group"].queryset = DeviceGroup.objects.filter(application__in=applications)
