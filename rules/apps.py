from django.apps import AppConfig


class RulesConfig(AppConfig):
    """Rules and alarms: the original's rule API, conditions on device data and status, actions, alarms."""

    name = "rules"
    verbose_name = "Rules"

    def ready(self) -> None:
        # Device traffic reaches rules through devices.hooks (devices cannot import us): one call per
        # stored batch and one per batch of status changes.
        from devices import hooks
        from rules import engine

        hooks.on_uplinks_stored(engine.on_reports)
        hooks.on_status_changed(engine.on_status)
