"""Portal forms for devices and groups."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.forms import preselect_only_application
from applications.models import Application
from applications.widgets import use_application_picker, use_product_picker
from devices.actions import PSK_PATTERN
from devices.bulk import is_imei, luhn_digit
from devices.listing import SORTS
from devices.models import Device, Status
from devices.querysets import NOT_ACTIVATED
from products.forms import ProductChoiceField
from products.models import Product


class RegisterForm(forms.Form):
    application = forms.ModelChoiceField(
        label=_("Application"), queryset=Application.objects.none(), to_field_name="app_id"
    )
    node_id = forms.CharField(label=_("nodeId (IMEI)"), max_length=256)
    name = forms.CharField(label=_("Name"), max_length=256, required=False)
    product = ProductChoiceField(
        label=_("Product"), queryset=Product.objects.none(), required=False, to_field_name="product_id"
    )
    psk = forms.CharField(
        label=_("PSK"), max_length=32, required=False, help_text=_("8 to 32 hex digits; empty: generated.")
    )
    # Empty or 0: the device waits for its first connection as long as it takes. The northbound API keeps
    # the original's 180 s default (F-4.2); an operator registering by hand never meant a deadline.
    timeout = forms.IntegerField(
        label=_("Bind timeout (seconds)"),
        min_value=0,
        max_value=2147483647,
        required=False,
        help_text=_(
            "Empty or 0: the device never expires. With a number, the device is deleted if it has not "
            "connected within that many seconds."
        ),
    )
    is_secure = forms.BooleanField(label=_("Secure (DTLS only)"), required=False)

    def __init__(self, *args, applications=None, **kwargs):
        super().__init__(*args, **kwargs)
        applications = applications if applications is not None else Application.objects.none()
        self.fields["application"].queryset = applications
        preselect_only_application(self.fields["application"])
        self.fields["product"].queryset = Product.objects.filter(application__in=applications).order_by("device_type")
        use_application_picker(self.fields["application"])
        use_product_picker(self.fields["product"])

    def clean(self):
        """Every rule of a registration at once, in plain words, so the form answers in one round: the
        IMEI check digit (as bulk files are checked), a nodeId registered already, the psk, the product's
        application, the quota. The registration re-checks under its locks (a race answers the same)."""
        cleaned = super().clean()
        application, node_id = cleaned.get("application"), (cleaned.get("node_id") or "").strip()
        if node_id:
            cleaned["node_id"] = node_id
            if is_imei(node_id) and luhn_digit(node_id[:14]) != int(node_id[14]):
                expected = luhn_digit(node_id[:14])
                message = _("IMEI %(node_id)s fails its check digit: the last digit should be %(expected)s.")
                self.add_error("node_id", message % {"node_id": node_id, "expected": expected})
            elif Device.objects.filter(node_id=node_id).exists():
                self.add_error("node_id", node_id_taken(node_id))
        psk = cleaned.get("psk") or ""
        if psk and not PSK_PATTERN.match(psk):
            self.add_error("psk", _("The PSK must be 8 to 32 hexadecimal characters (0-9, a-f), or empty."))
        product = cleaned.get("product")
        if application is not None and product is not None and product.application_id != application.pk:
            self.add_error("product", _("This product belongs to another application."))
        if (
            application is not None
            and Device.objects.filter(application=application).count() >= application.device_quota
        ):
            self.add_error("application", quota_reached(application))
        return cleaned


def node_id_taken(node_id: str) -> str:
    return _("nodeId %(node_id)s is registered already: one IMEI registers one device.") % {"node_id": node_id}


def quota_reached(application: Application) -> str:
    return _("%(name)s has reached its quota of %(quota)s devices: raise it in the application's settings.") % {
        "name": application.name, "quota": application.device_quota}  # fmt: skip


class EditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=256, required=False)
    product = ProductChoiceField(
        label=_("Product"), queryset=Product.objects.none(), required=False, to_field_name="product_id"
    )
    location = forms.CharField(label=_("Location"), max_length=1024, required=False)
    mute = forms.BooleanField(label=_("Mute commands"), required=False)
    data_aging_days = forms.IntegerField(
        label=_("Data aging (days)"),
        min_value=0,
        max_value=90,
        required=False,
        help_text=_("Shorter retention for this device."),
    )

    tags = forms.CharField(
        label=_("Tags"),
        max_length=1024,
        required=False,
        help_text=_("Comma-separated words to find the device by in the list, each at most 64 characters."),
    )

    def __init__(self, *args, application=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(application=application).order_by("device_type")
        use_product_picker(self.fields["product"], application=application.app_id if application else None)

    def clean_tags(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]
        too_long = [name for name in names if len(name) > 64]
        if too_long:
            message = _("A tag is at most 64 characters: %(tag)s has %(length)s.")
            raise forms.ValidationError(message % {"tag": too_long[0], "length": len(too_long[0])})
        return names


class FilterForm(forms.Form):
    """The device list's filters and sort (devices.listing); an unknown value is ignored, never an error."""

    q = forms.CharField(required=False, max_length=256)
    status = forms.ChoiceField(
        required=False,
        choices=[("", _("all statuses")), *Status.choices, (NOT_ACTIVATED, _("not activated"))],
        widget=forms.Select(attrs={"aria-label": _("Status")}),
    )
    application = forms.CharField(required=False)
    product = forms.CharField(required=False)
    group = forms.CharField(required=False)
    tag = forms.CharField(required=False, max_length=64)
    sort = forms.ChoiceField(
        required=False,
        choices=[(name, label) for name, (label, _columns) in SORTS.items()],
        widget=forms.Select(attrs={"aria-label": _("Sort by")}),
    )


class GroupForm(forms.Form):
    application = forms.ModelChoiceField(
        label=_("Application"), queryset=Application.objects.none(), to_field_name="app_id"
    )
    name = forms.CharField(label=_("Name"), max_length=64)
    description = forms.CharField(label=_("Description"), max_length=1024, required=False)
    max_devices = forms.IntegerField(label=_("Most devices (0: no limit)"), min_value=0, max_value=2**31 - 1, initial=0)

    def __init__(self, *args, applications=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = applications if applications is not None else Application.objects.none()
        preselect_only_application(self.fields["application"])
        use_application_picker(self.fields["application"])


class GroupEditForm(forms.Form):
    """A group's name, description and limit (the application's does not change)."""

    name = forms.CharField(label=_("Name"), max_length=64, error_messages={"required": _("A group needs a name.")})
    description = forms.CharField(label=_("Description"), max_length=1024, required=False)
    max_devices = forms.IntegerField(label=_("Most devices (0: no limit)"), min_value=0, max_value=2**31 - 1)


class BulkUploadForm(forms.Form):
    """Upload a file for bulk registration: it is checked in full first (a dry run), then started."""

    application = forms.ModelChoiceField(
        label=_("Application"), queryset=Application.objects.none(), to_field_name="app_id"
    )
    file = forms.FileField(
        label=_("Devices file"),
        help_text=_(
            "CSV or XLSX, one device per row under a header row: nodeId, and product (the product id) or "
            "manufacturerId, deviceType and model; optional verifyCode, name, psk and timeout. A row without "
            "a timeout never expires; a row with one is deleted if its device has not connected in that many "
            "seconds."
        ),
    )
    mode = forms.ChoiceField(
        label=_("When some rows are bad"),
        choices=[
            ("all-or-nothing", _("Register nothing (all or nothing)")),
            ("skip-bad-rows", _("Register the good rows (skip bad rows)")),
        ],
        initial="all-or-nothing",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, applications=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = applications if applications is not None else Application.objects.none()
        preselect_only_application(self.fields["application"])
        use_application_picker(self.fields["application"])
