from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from portal.navigation import AREAS


def navigation(request: HttpRequest) -> dict:
    """The navigation areas for this account, the current page's item marked active."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_areas": []}
    current = request.path
    areas = []
    for area in AREAS:
        items = [
            {"label": item.label, "url": reverse(item.url_name), "active": False}
            for item in area.items
            if user.is_staff or not item.operators_only
        ]
        areas.append({"label": area.label, "items": items})
    # The item whose URL is the longest prefix of this page is the current one.
    matches = [
        item
        for area in areas
        for item in area["items"]
        if current == item["url"] or (item["url"] != "/" and current.startswith(item["url"]))
    ]
    if matches:
        max(matches, key=lambda item: len(item["url"]))["active"] = True
    return {"nav_areas": areas}
