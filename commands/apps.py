from django.apps import AppConfig


class CommandsConfig(AppConfig):
    """Commands: lifecycle, delivery policy, callbacks, batch tasks."""

    name = "commands"
    verbose_name = "Commands"
