from django.apps import AppConfig


class CommandsConfig(AppConfig):
    """Commands: lifecycle, delivery policy, callbacks, batch tasks."""

    name = "commands"
    verbose_name = "Commands"

    def ready(self) -> None:
        # Device traffic reaches commands through devices.hooks (devices cannot import us).
        from commands import actions
        from devices import hooks

        hooks.on_uplinks_stored(lambda items: actions.on_uplinks([device for device, _reports in items]))
        hooks.on_device_response(
            lambda device, decoded: actions.on_device_response(
                device, decoded.get("mid"), decoded.get("errcode"), decoded.get("body")
            )
        )
        hooks.on_downlink_outcome(actions.on_downlink_outcome)
        hooks.on_device_awake(actions.on_uplinks)  # an LwM2M queue-mode device's Update wakes it as an uplink does
