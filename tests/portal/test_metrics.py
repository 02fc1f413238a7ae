"""The real Celery worker and beat export Prometheus metrics: tasks by name and outcome from the worker,
the platform-wide gauges (live commands by state, the Celery queue) from beat."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.utils import timezone

from portal.celery import app
from portal.env import BASE_DIR
from portal.ports import free_port
from tests.applications.fixtures import create_app
from tests.conftest import database_url_for_tests
from tests.devices.fixtures import register
from tests.metrics import scrape, value, wait_for
from tests.portal.fixtures import command

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery() -> Iterator:
    """Celery processes on the test database, with this process's environment: its Redis key prefix is
    the one this process's Celery client sends to (settings fixtures change it only later)."""
    started: list[subprocess.Popen] = []

    def start(args: list[str], **overrides: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "LOG_LEVEL": "WARNING",
            **overrides,
        }
        child = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", *args, "-l", "warning"],
            cwd=BASE_DIR,
            env=env,
            start_new_session=True,
        )
        started.append(child)
        return child

    yield start
    for child in started:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def test_the_worker_exports_each_task_by_name_and_outcome_with_its_duration(celery):
    port = free_port()
    celery(
        ["worker", "--pool", "threads", "--concurrency", "2", "--without-heartbeat", "--without-mingle",
         "--without-gossip"],
        WORKER_METRICS_PORT=str(port),
    )  # fmt: skip
    before = wait_for(lambda: scrape(port), lambda samples: True)
    assert value(before, "platform_tasks_total", task="portal.tasks.heartbeat", state="SUCCESS") == 0
    assert value(before, "platform_pushes_total", outcome="delivered") == 0
    expired = command(register(create_app("Water utility", login=False), "863703030099002"), "PENDING")
    type(expired).objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    app.send_task("commands.sweep_commands")  # the sweep moves it to EXPIRED, in the worker
    for _ in range(3):
        app.send_task("portal.tasks.heartbeat")  # to the broker, even where tests run tasks eagerly
    after = wait_for(
        lambda: scrape(port),
        lambda samples: value(samples, "platform_task_seconds_count", task="portal.tasks.heartbeat") >= 3,
    )
    assert value(after, "platform_tasks_total", task="portal.tasks.heartbeat", state="SUCCESS") == 3
    assert value(after, "platform_task_seconds_count", task="portal.tasks.heartbeat") == 3
    swept = wait_for(
        lambda: scrape(port),
        lambda samples: value(samples, "platform_command_transitions_total", state="EXPIRED") >= 1,
    )
    # (The sweep may run again on its own: it is the transitions that must be exact.)
    assert value(swept, "platform_tasks_total", task="commands.sweep_commands", state="SUCCESS") >= 1
    assert value(swept, "platform_command_transitions_total", state="EXPIRED") == 1


def test_beat_exports_live_commands_by_state_and_the_queue_once_for_the_platform(tmp_path, celery):
    device = register(create_app("Water utility", login=False), "863703030099001")
    for status in ("PENDING", "PENDING", "SENT", "SUCCESSFUL"):
        command(device, status)
    port = free_port()
    # No worker: what beat schedules at its start stays in the queue.
    celery(["beat", "-s", str(tmp_path / "schedule")], BEAT_METRICS_PORT=str(port))
    samples = wait_for(lambda: scrape(port), lambda samples: value(samples, "platform_celery_queue_length") >= 1)
    assert value(samples, "platform_commands", state="PENDING") == 2
    assert value(samples, "platform_commands", state="SENT") == 1
    assert value(samples, "platform_commands", state="DELIVERED") == 0
    assert value(samples, "platform_commands", state="SUCCESSFUL") == 0  # final states are not gauges
    assert value(samples, "platform_push_outbox_pending") == 0
    command(device, "DELIVERED")
    later = wait_for(lambda: scrape(port), lambda samples: value(samples, "platform_commands", state="DELIVERED") == 1)
    assert value(later, "platform_commands", state="PENDING") == 2


def _names(text: str) -> set[str]:
    import re

    return {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in re.findall(r"platform_[a-z0-9_]+", text)}


@pytest.mark.django_db(transaction=False)
def test_the_grafana_dashboard_reads_only_documented_metrics():
    import json

    dashboard = json.loads((BASE_DIR / "docs" / "grafana-dashboard.json").read_text())
    expressions = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    documented = _names((BASE_DIR / "docs" / "observability.md").read_text())
    assert _names(expressions) and _names(expressions) <= documented
