"""Form widgets of the portal: the search-as-you-type picker for a ModelChoiceField (issue 20, item 6)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from applications.picking import fits_a_select

APPLICATION_HELP = _("Type the start of an application's name or appId; arrow keys and Enter to choose.")
PRODUCT_HELP = _("Type the start of a device type, manufacturer, model or productId; arrow keys and Enter to choose.")


class PickerWidget(forms.Select):
    """A ModelChoiceField's choice as a search-as-you-type combobox (applications/partials/picker.html)
    that never lists every choice: the text field asks `view` for the first matches, a hidden input named
    after the field carries the chosen value (the field's to_field_name), and the field validates it as
    ever (its queryset refuses a forged one, with the field's own error). The current value shows its
    label (the field's label_from_instance).

    The one rule for small lists (applications.picking.fits_a_select, at render time): at most PICK_LIMIT
    choices render as the plain select it extends, with preselect_only_application's single application
    chosen.
    """

    picker_template = "applications/partials/picker.html"

    def __init__(self, view: str, *, label: Any, help_text: Any, editable: bool = False, application: str | None = None,
                 attrs=None):  # fmt: skip
        super().__init__(attrs)
        self.view, self.label, self.help_text, self.editable = view, label, help_text, editable
        self.application = application  # an appId: the endpoint offers only its rows

    def is_small(self) -> bool:
        queryset = getattr(self.choices, "queryset", None)
        return queryset is None or fits_a_select(queryset)

    def chosen_label(self, value: Any) -> str:
        """The label of the choice `value` names among the field's, or "" (none, or a forged one)."""
        if value in (None, ""):
            return ""
        field = self.choices.field
        try:
            instance = field.queryset.filter(**{field.to_field_name or "pk": value}).first()
        except (ValueError, TypeError, ValidationError):
            return ""
        return field.label_from_instance(instance) if instance is not None else ""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        if self.is_small():
            return super().render(name, value, attrs, renderer)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        final = self.build_attrs(self.attrs, attrs)
        context = {
            "picker_id": final.get("id") or f"id_{name}",
            "picker_name": name,
            "picker_label": self.label,
            "picker_nolabel": True,  # the form's <label for> names the combobox
            "picker_help": self.help_text,
            "picker_view": self.view,
            "picker_value": "" if value is None else str(value),
            "picker_text": self.chosen_label(value),
            "picker_query": f"{name}-q",
            "picker_editable": self.editable,
            "picker_application": self.application,
            "picker_describedby": final.get("aria-describedby", ""),
            "picker_invalid": final.get("aria-invalid") == "true",
        }
        return render_to_string(self.picker_template, context)


def use_picker(
    field: forms.ModelChoiceField, view: str, help_text: Any, *, editable: bool = False, application: str | None = None
) -> None:
    """Render `field` with a PickerWidget asking `view` (its queryset must be the picker endpoint's scope,
    or a part of it: the field validates). Call after the field's queryset is set."""
    widget = PickerWidget(view, label=field.label, help_text=help_text, editable=editable, application=application)
    widget.choices = field.choices
    widget.is_required = field.required
    field.widget = widget


def use_application_picker(field: forms.ModelChoiceField, *, editable: bool = True) -> None:
    use_picker(field, "applications:pick", APPLICATION_HELP, editable=editable)


def use_product_picker(field: forms.ModelChoiceField, *, editable: bool = True, application: str | None = None) -> None:
    use_picker(field, "products:pick", PRODUCT_HELP, editable=editable, application=application)
