from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SubscriptionsConfig(AppConfig):
    """Subscriptions, the push outbox and its delivery: every notification of every app goes through here."""

    name = "subscriptions"
    verbose_name = "Subscriptions and push"

    def ready(self) -> None:
        from subscriptions.callbacks import parse_allowed_targets

        # A mistyped entry stops the process at start with the rule, not at the first push.
        try:
            parse_allowed_targets(settings.PUSH_ALLOWED_TARGETS)
        except ValueError as error:
            raise ImproperlyConfigured(str(error)) from None
