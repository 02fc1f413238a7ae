"""Delivery by a real Celery worker process: killed mid-delivery, and beside a dead endpoint."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import time_machine

from portal.env import BASE_DIR
from subscriptions import actions
from subscriptions.delivery import deliver_target
from subscriptions.models import PushMessage, PushState, Subscription
from subscriptions.tasks import deliver_target as deliver_task
from tests.applications.fixtures import create_app
from tests.conftest import database_url_for_tests
from tests.subscriptions.fixtures import data_changed, subscribe


@pytest.fixture
def worker(transactional_db):
    processes = []

    def start(**env: str) -> subprocess.Popen:
        full_env = {**os.environ, "DATABASE_URL": database_url_for_tests(), "PUSH_ALLOW_PRIVATE": "true", **env}
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "threads", "--concurrency", "4",
             "-l", "warning", "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=BASE_DIR, env=full_env, start_new_session=True,
        )  # fmt: skip
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


def _wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.slow  # SIGKILL mid-delivery
def test_a_worker_killed_mid_delivery_loses_nothing(worker, receiver, settings):
    credentials = create_app()
    subscribe(credentials, receiver)
    receiver.delay = 0.3  # so the worker is mid-batch when it dies
    messages = [actions.notify(credentials.application, "deviceDataChanged", data_changed(n)) for n in range(30)]
    push_ids = {str(message.push_id) for message in messages}

    process = worker(PUSH_LEASE_SECONDS="60")
    deliver_task.delay(messages[0].target_id)
    assert receiver.arrived.wait(30), "the worker never delivered"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert PushMessage.objects.filter(state=PushState.PENDING).exists()

    # Once the dead worker's lease has expired, delivery (here in-process) sends the rest.
    receiver.delay = 0
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)):
        deliver_target(messages[0].target_id)

    received = {request.headers["x-push-id"] for request in receiver.received}
    assert push_ids <= received
    assert not PushMessage.objects.exclude(state=PushState.DELIVERED).exists()


def test_a_dead_endpoint_does_not_delay_a_healthy_one(worker, receiver):
    # A "dead" receiver accepts connections and never answers.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    dead_app, healthy_app = create_app("Dead"), create_app("Healthy")
    Subscription.objects.create(
        application=dead_app.application,
        notify_type="deviceDataChanged",
        callback_url=f"http://127.0.0.1:{blackhole.getsockname()[1]}/cb",
    )
    subscribe(healthy_app, receiver)
    worker(PUSH_READ_TIMEOUT="10", PUSH_CONNECT_TIMEOUT="10")
    dead = [actions.notify(dead_app.application, "deviceDataChanged", data_changed(n)) for n in range(20)]
    deliver_task.delay(dead[0].target_id)
    time.sleep(0.5)  # the dead target's task is now holding its connections open
    started = time.monotonic()
    healthy = [actions.notify(healthy_app.application, "deviceDataChanged", data_changed(n)) for n in range(20)]
    deliver_task.delay(healthy[0].target_id)

    _wait_for(lambda: len(receiver.received) >= 20)
    elapsed = time.monotonic() - started
    blackhole.close()
    assert elapsed < 5, f"the healthy endpoint waited {elapsed:.1f}s behind the dead one"
