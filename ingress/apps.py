from django.apps import AppConfig


class IngressConfig(AppConfig):
    """Device access: the CoAP/LwM2M network loop (`run_ingress`) around the uplink pipeline."""

    name = "ingress"
    verbose_name = "Ingress"
