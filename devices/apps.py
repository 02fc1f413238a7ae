from django.apps import AppConfig


class DevicesConfig(AppConfig):
    """The device registry: binding, status, shadow, history, logs, groups, bulk registration."""

    name = "devices"
    verbose_name = "Devices"

    def ready(self) -> None:
        # A product with registered devices is locked (F-2.9); products cannot import us, so we tell it.
        from devices.querysets import count_devices_by_product
        from products.locks import register_device_counter

        register_device_counter(count_devices_by_product)

        # The dashboard's running counts follow every status change (devices.counts).
        from devices import counts, hooks, live

        hooks.on_status_changed(counts.on_status_changed)
        hooks.on_status_changed(live.on_status_changed)  # the device's open page shows it
