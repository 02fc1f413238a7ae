"""The portal's two areas and their pages. Each app adds its pages here as it gains them."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    operators_only: bool = False


@dataclass(frozen=True)
class NavArea:
    label: str
    items: tuple[NavItem, ...]


AREAS = (
    NavArea(
        _("Management Portal"),
        (
            NavItem(_("Dashboard"), "portal:dashboard"),
            NavItem(_("Devices"), "devices:list"),
            NavItem(_("Commands"), "commands:list"),
            NavItem(_("Upgrades"), "firmware:operations"),
            NavItem(_("Rules"), "rules:list"),
            NavItem(_("Alarms"), "rules:alarms"),
            NavItem(_("Applications"), "applications:list"),
            NavItem(_("Subscriptions"), "subscriptions:list"),
            NavItem(_("Push log"), "subscriptions:push-log"),
            NavItem(_("Accounts"), "portal:accounts", operators_only=True),
            NavItem(_("Audit log"), "portal:audit", operators_only=True),
        ),
    ),
    NavArea(
        _("Developer Center"),
        (
            NavItem(_("Products"), "products:list"),
            NavItem(_("Codecs"), "products:codecs"),
            NavItem(_("Application simulator"), "commands:simulator"),
            NavItem(_("Push debugging"), "subscriptions:debug"),
            NavItem(_("Device simulator"), "ingress:simulator"),
            NavItem(_("API documentation"), "swagger-ui"),
        ),
    ),
)
