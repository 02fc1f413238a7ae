"""The Celery application of the worker and beat processes (`celery -A portal worker|beat`)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    sender.add_periodic_task(settings.HEARTBEAT_INTERVAL, sender.signature("portal.tasks.heartbeat"), name="heartbeat")
    sender.add_periodic_task(
        settings.PUSH_SWEEP_SECONDS, sender.signature("subscriptions.sweep_pushes"), name="sweep pushes"
    )
    sender.add_periodic_task(
        settings.DEVICE_SWEEP_SECONDS, sender.signature("devices.sweep_devices"), name="sweep devices"
    )
    sender.add_periodic_task(3600, sender.signature("devices.maintain_history"), name="history partitions")
    sender.add_periodic_task(
        settings.DEVICE_COUNTS_RECONCILE_SECONDS,
        sender.signature("devices.reconcile_counts"),
        name="reconcile device counts",
    )
    sender.add_periodic_task(
        settings.COMMAND_SWEEP_SECONDS, sender.signature("commands.sweep_commands"), name="sweep commands"
    )
    sender.add_periodic_task(
        settings.CODEC_UNDECODED_SWEEP_SECONDS, sender.signature("ingress.decode_kept"), name="decode kept uplinks"
    )
    sender.add_periodic_task(settings.RULES_SWEEP_SECONDS, sender.signature("rules.sweep_rules"), name="sweep rules")
    sender.add_periodic_task(
        settings.AUDIT_SWEEP_SECONDS, sender.signature("applications.sweep_audit"), name="audit retention"
    )
    sender.add_periodic_task(
        settings.FIRMWARE_SWEEP_SECONDS, sender.signature("firmware.sweep_upgrades"), name="sweep upgrades"
    )
