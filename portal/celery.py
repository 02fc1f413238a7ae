"""The Celery application of the worker and beat processes (`celery -A portal worker|beat`)."""

import os

from celery import Celery, signals

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


# --- metrics (portal.observability): WORKER_METRICS_PORT / BEAT_METRICS_PORT, off by default ---------------
@signals.worker_init.connect
def _worker_metrics(**kwargs: object) -> None:
    from portal import observability

    observability.serve_worker()


@signals.beat_init.connect
def _beat_metrics(**kwargs: object) -> None:
    from portal import observability

    observability.serve_beat()


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, **kwargs: object) -> None:
    from portal import observability

    if task_id:
        observability.task_started(task_id)


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, task: object = None, state: str | None = None, **kwargs: object) -> None:
    from portal import observability

    if task_id:
        observability.task_finished(task_id, getattr(task, "name", "?"), state or "UNKNOWN")
