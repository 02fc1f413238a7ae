"""Template helpers of the pickers (issue 20, item 6): a list filter's application choice and the one
rule of when a choice is a picker (applications.picking.fits_a_select)."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import QuerySet

from applications.picking import PICK_LIMIT, fits_a_select, select_choices

register = template.Library()


@register.filter(name="fits_a_select")
def fits_a_select_filter(choices: Any) -> bool:
    """Whether these choices (a queryset or a list) stay a plain select."""
    return fits_a_select(choices) if isinstance(choices, QuerySet) else len(choices) <= PICK_LIMIT


@register.inclusion_tag("applications/partials/application_filter.html")
def application_filter(applications: Any, value: Any, picker_id: str = "filter-application") -> dict[str, Any]:
    """A list filter's application: a select with "all applications" first, or past PICK_LIMIT a picker
    over the account's applications (empty: all), the chosen one shown by its label."""
    value = value or ""
    context: dict[str, Any] = {"value": value, "picker_id": picker_id}
    if isinstance(applications, QuerySet):
        listed = select_choices(applications)  # one query either way
    else:
        listed = list(applications) if len(applications) <= PICK_LIMIT else None
    if listed is not None:
        context["applications"] = listed
    else:
        if not value:
            chosen = None
        elif isinstance(applications, QuerySet):
            chosen = applications.filter(app_id=value).first()
        else:
            chosen = next((a for a in applications if a.app_id == value), None)
        context.update(picker=True, chosen=str(chosen) if chosen else "")
    return context
