"""Portal forms for packages and upgrade tasks."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.forms import preselect_only_application
from applications.models import Application
from applications.widgets import use_application_picker, use_product_picker
from devices.models import DeviceGroup
from firmware.models import FileType, Package
from products.forms import ProductChoiceField
from products.models import Product


class PackageForm(forms.Form):
    application = forms.ModelChoiceField(
        label=_("Application"), queryset=Application.objects.none(), to_field_name="app_id"
    )
    product = ProductChoiceField(
        label=_("Product"),
        queryset=Product.objects.none(),
        to_field_name="product_id",
        required=False,
        help_text=_("The package is for this product's devices; or leave it empty and type the three below."),
    )
    file = forms.FileField(label=_("Package (zip, at most 35 MB)"))
    file_type = forms.ChoiceField(label=_("Kind"), choices=FileType.choices)
    version = forms.CharField(label=_("Version"), max_length=64)
    device_type = forms.CharField(label=_("Device type"), max_length=64, required=False)
    manufacturer_name = forms.CharField(label=_("Manufacturer name"), max_length=128, required=False)
    model = forms.CharField(label=_("Model"), max_length=64, required=False)
    protocol_type = forms.CharField(label=_("Protocol"), max_length=16, initial="LWM2M")
    source_versions = forms.CharField(label=_("Source versions (space-separated)"), required=False, max_length=1024)
    description = forms.CharField(label=_("Description"), required=False, max_length=1024)

    def __init__(self, *args, applications=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = applications if applications is not None else Application.objects.none()
        preselect_only_application(self.fields["application"])
        self.fields["product"].queryset = Product.objects.filter(application__in=self.fields["application"].queryset)
        use_application_picker(self.fields["application"])
        use_product_picker(self.fields["product"])

    def clean(self):
        """A picked product gives device type, manufacturer and model; without one, all three are needed."""
        cleaned = super().clean()
        product, application = cleaned.get("product"), cleaned.get("application")
        if product is not None:
            if application is not None and product.application_id != application.pk:
                self.add_error("product", _("This product belongs to another application."))
            cleaned.update(device_type=product.device_type, manufacturer_name=product.manufacturer_name,
                           model=product.model)  # fmt: skip
        else:
            for name in ("device_type", "manufacturer_name", "model"):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(
                        name, _("Pick a product above, or give its device type, manufacturer name and model.")
                    )
        return cleaned


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
