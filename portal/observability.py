"""Prometheus metrics of the web, Celery worker and beat processes (docs/observability.md).

- web (`run_web`, each worker): the process's own figures (CPU, memory, file descriptors, GC).
- Celery worker: each task's duration by task name (the periodic sweeps among them: sweep durations),
  and tasks by outcome (counted in the worker's own process: the threads pool, as `make run` starts it;
  a prefork pool's children would count where no one scrapes); the pushes it delivered by outcome
  (applications.metrics, the dashboard's counters).
- beat (one per deployment): the platform-wide gauges, read from PostgreSQL and Redis at scrape time
  only, so each is exported once however many nodes run: live commands by state, the push outbox,
  the Celery queue. Each is one count on a partial index (a few ms at a million rows), taken per scrape.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import connections

from applications import metrics as dashboard_metrics
from applications import prometheus
from applications.prometheus import Family
from applications.redis import get_redis
from commands.actions import transition_families

# Celery's default queue: with the broker's global_keyprefix, its Redis list is prefix + "celery".
CELERY_QUEUE = "celery"
LIVE_COMMAND_STATES = ("PENDING", "SENT", "DELIVERED")


def serve_web() -> int:
    prometheus.register("web", transition_families)  # cancellations come through the web
    return prometheus.serve("WEB_METRICS_PORT")


# --- Celery worker ---------------------------------------------------------------------------------
TASK_SECONDS = prometheus.histogram(
    "task_seconds", "Duration of a Celery task, by task name (sweeps included)", prometheus.SWEEP_BUCKETS, ("task",)
)
_started: dict[str, float] = {}
_outcomes: dict[tuple[str, str], int] = {}
_lock = threading.Lock()


def task_started(task_id: str) -> None:
    with _lock:
        _started[task_id] = time.perf_counter()
        if len(_started) > 10000:  # tasks that never finished (a killed thread): forgotten, not leaked
            _started.pop(next(iter(_started)))


def task_finished(task_id: str, task_name: str, state: str) -> None:
    with _lock:
        started = _started.pop(task_id, None)
        _outcomes[(task_name, state)] = _outcomes.get((task_name, state), 0) + 1
    if started is not None:
        TASK_SECONDS.labels(task_name).observe(time.perf_counter() - started)


def worker_families() -> Iterable[Family]:
    tasks = Family("tasks", "Celery tasks finished, by task name and state", labels=("task", "state"))
    with _lock:
        outcomes = dict(_outcomes)
    for (name, state), count in outcomes.items():
        tasks.add(count, name, state)
    yield tasks
    yield from dashboard_metrics.collect()
    yield from transition_families()  # the sweeps' EXPIRED and TIMEOUT


def serve_worker() -> int:
    prometheus.register("worker", worker_families)
    return prometheus.serve("WORKER_METRICS_PORT")


# --- beat: platform-wide gauges --------------------------------------------------------------------
def platform_families() -> Iterable[Family]:
    from commands.models import Command
    from subscriptions.models import PushMessage

    try:
        commands = Family("commands", "Commands not yet final, by state", kind="gauge", labels=("state",))
        for state in LIVE_COMMAND_STATES:  # one count per state: each matches a partial index's condition
            commands.add(Command.objects.filter(status=state).count(), state)
        outbox = Family("push_outbox_pending", "Pushes waiting in the outbox (due or retrying)", kind="gauge")
        outbox.add(PushMessage.objects.filter(state="pending").count())
    finally:
        connections.close_all()  # each scrape runs in a thread of its own: its connection goes with it
    queue = Family("celery_queue_length", "Celery tasks waiting in the broker's default queue", kind="gauge")
    queue.add(get_redis().llen(settings.REDIS_KEY_PREFIX + CELERY_QUEUE))
    return [commands, outbox, queue]


def serve_beat() -> int:
    prometheus.register("platform", platform_families)
    return prometheus.serve("BEAT_METRICS_PORT")
