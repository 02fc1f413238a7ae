from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    """Subscriptions, the push outbox and its delivery: every notification of every app goes through here."""

    name = "subscriptions"
    verbose_name = "Subscriptions and push"
