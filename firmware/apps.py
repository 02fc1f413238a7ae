from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    """Firmware and software upgrades: packages, upgrade tasks, their sub-tasks and rollouts."""

    name = "firmware"
    verbose_name = "Firmware"

    def ready(self) -> None:
        # The driver only hands work to the ingress (channel layer), so every process that runs the
        # schedule has it.
        from firmware import drivers
        from firmware.drivers.lwm2m import Lwm2mDriver

        drivers.register("firmware_upgrade", Lwm2mDriver())
