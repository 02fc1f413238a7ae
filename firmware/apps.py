from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    """Firmware and software upgrades: packages, upgrade tasks, their sub-tasks and rollouts."""

    name = "firmware"
    verbose_name = "Firmware"

    def ready(self) -> None:
        # Both drivers only hand work to the ingress (channel layer, downlinks), so every process
        # that runs the schedule has them; PCP frames reach us through devices.hooks.
        from devices import hooks
        from firmware import drivers
        from firmware.drivers.lwm2m import Lwm2mDriver
        from firmware.drivers.pcp import PcpDriver, on_pcp_message

        drivers.register("firmware_upgrade", Lwm2mDriver())
        drivers.register("software_upgrade", PcpDriver())
        hooks.on_pcp_message(on_pcp_message)
