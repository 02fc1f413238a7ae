from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    """Firmware and software upgrades: packages, upgrade tasks, their sub-tasks and rollouts."""

    name = "firmware"
    verbose_name = "Firmware"
