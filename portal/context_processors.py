from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from portal.navigation import AREAS


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_areas": []}
    current = request.path
    areas = []
    for area in AREAS:
        items = []
        for item in area.items:
            if item.operators_only and not user.is_staff:
                continue
            url = reverse(item.url_name)
            active = current == url or (url != "/" and current.startswith(url))
            items.append({"label": item.label, "url": url, "active": active})
        areas.append({"label": area.label, "items": items})
    return {"nav_areas": areas}
