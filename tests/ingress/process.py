"""The real `manage.py run_ingress` process (supervisor and workers) for tests, and its live workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from applications.redis import get_redis
from devices.downlink import worker_key
from portal.env import BASE_DIR
from tests.conftest import database_url_for_tests
from tests.ingress.fixtures import free_udp_port


@pytest.fixture
def ingress(settings):
    """`run_ingress` (supervisor and workers) against the test database, on a free port."""
    processes = []

    def start(workers: int = 2, port: int | None = None, **overrides: str) -> tuple[subprocess.Popen, int]:
        """`port`: the CoAP port of an ingress started before (a restart), else a free one."""
        port = port or free_udp_port()
        before = set(live_workers().values())
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "INGRESS_CODEC_MODULE": "products.codecs",
            "COAPS_PORT": str(free_udp_port()),
            "INGRESS_HEARTBEAT_SECONDS": "1",
            "INGRESS_ACK_TIMEOUT": "0.5",
            "LOG_LEVEL": "WARNING",
            **overrides,
        }
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_ingress", "--workers", str(workers), "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            start_new_session=True,
        )
        processes.append(process)
        deadline = time.monotonic() + 60  # a cap, not a wait: a loaded 2-core machine has taken over 20 s
        # Workers of this process: a killed one's heartbeat outlives it for a few seconds.
        while len(set(live_workers().values()) - before) < workers:
            assert time.monotonic() < deadline, "the ingress workers did not start"
            assert process.poll() is None, "run_ingress exited"
            time.sleep(0.05)
        return process, port

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def live_workers() -> dict[str, str]:
    """{channel name: worker name "ingress-<pid>-..."} of the workers with a heartbeat."""
    redis = get_redis()
    prefix = worker_key("")
    return {
        name.decode()[len(prefix) :]: (redis.get(name) or b"").decode() for name in redis.scan_iter(match=prefix + "*")
    }
