from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The UI shell: layout, login, dashboard, accounts, live events."""

    name = "portal"
    verbose_name = "Portal"
