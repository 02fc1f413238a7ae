"""Search-as-you-type pickers (issue 20, item 6): what the device, product and application pickers share.

A picker lists the first PICK_LIMIT rows whose keys start with the typed text. Each key is the expression
of an index (collated "C", so a prefix is a range whatever the database's collation); each (scope, key)
is one range read in index order and cut at the limit, the ranges joined by UNION ALL: a million rows
cost what twenty do, and a scope with many matches does not crowd out another's range scan.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import render

PICK_LIMIT = 20  # a picker's matches: type more to narrow them
PICK_APPLICATIONS = 100  # a picker searches at most this many applications at once (name one to go further)
HEX = frozenset("0123456789abcdef-")

Key = tuple[str, Any, str]  # (alias, indexed expression, prefix)


def fits_a_select(queryset: QuerySet) -> bool:
    """The one rule of where a picker is worth it: at most PICK_LIMIT choices stay a plain select (they
    all fit on screen); more get the search-as-you-type picker. One query of at most PICK_LIMIT + 1 pks."""
    return len(queryset.order_by().values_list("pk")[: PICK_LIMIT + 1]) <= PICK_LIMIT


def select_choices(queryset: QuerySet) -> list | None:
    """The rows of `queryset` when they fit a select (fits_a_select's rule), else None (a picker): one
    query of at most PICK_LIMIT + 1 rows, for a page that lists the choices itself."""
    rows = list(queryset[: PICK_LIMIT + 1])
    return rows if len(rows) <= PICK_LIMIT else None


def could_be_uuid_start(text: str) -> bool:
    """Whether `text` may start a deviceId or productId: 4 or more hex digits or dashes."""
    return len(text) >= 4 and all(char in HEX for char in text.lower())


def prefix_pks(scopes: list[QuerySet], keys: list[Key], *, limit: int = PICK_LIMIT) -> QuerySet:
    """The pks of the first `limit` rows of each scope whose key starts with its prefix, for each key:
    one query, each branch a range of the key's index."""
    parts = [
        scope.annotate(**{alias: expression})
        .filter(**{f"{alias}__startswith": prefix})
        .order_by(alias)
        .values_list("pk", flat=True)[:limit]
        for scope in scopes
        for alias, expression, prefix in keys
    ]
    return parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]


def picker_applications(request: HttpRequest) -> QuerySet:
    """The applications a picker searches: the account's (those it may change with `editable=1`), or the
    one named by `application` among them."""
    from applications.models import Application

    if request.GET.get("editable"):
        scope = Application.objects.editable_by(request.user)
    else:
        scope = Application.objects.visible_to(request.user)
    if request.GET.get("application"):
        scope = scope.filter(app_id=request.GET["application"])
    return scope


def application_keys(text: str) -> list[Key]:
    """(alias, expression, prefix) of each key an application picker matches the start of: the name in any
    case and the appId, each the expression of an index (application_pick_name, application_pick_id)."""
    from django.db.models.functions import Collate, Upper

    return [("name_key", Collate(Upper("name"), "C"), text.upper()), ("app_id_key", Collate("app_id", "C"), text)]


def pick_applications(scope: QuerySet, text: str, *, limit: int = PICK_LIMIT) -> list:
    """The first `limit` applications of `scope` (the account's) whose name (any case) or appId starts
    with `text`, by name. For an operator each key is a range of its index; for a member, of its few
    memberships."""
    from applications.models import Application

    text = text.strip()
    if not text:
        return []
    pks = prefix_pks([scope.order_by()], application_keys(text), limit=limit)
    return list(Application.objects.filter(pk__in=list(pks)).only("app_id", "name").order_by("name", "pk")[:limit])


def picker_text(request: HttpRequest) -> str:
    """The typed text: the field named by `qname` (a form's picker names its text field after the form
    field, so it cannot collide with another field called q), else `q`."""
    name = request.GET.get("qname") or "q"
    return request.GET.get(name, "")[:256].strip()


def render_options(request: HttpRequest, options: list[dict], text: str, *, empty: str, hint: str):
    """A picker's <li role="option"> list (applications/partials/pick_options.html). Each option is a
    dict of value (what the hidden field carries), label (what the text field shows), and optional
    code (shown monospaced first), detail and muted."""
    context = {
        "options": options,
        "note": empty if text else hint,
        "limit": PICK_LIMIT,
        "listbox": request.GET.get("listbox", ""),
    }
    return render(request, "applications/partials/pick_options.html", context)
