from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    """Tenancy: applications, their credentials and tokens, portal memberships."""

    name = "applications"
    verbose_name = "Applications"

    def ready(self) -> None:
        from applications import schema  # noqa: F401  (registers the OpenAPI description of our auth)
