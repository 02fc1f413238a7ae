from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    """Tenancy: applications, their credentials and tokens, portal memberships."""

    name = "applications"
    verbose_name = "Applications"
