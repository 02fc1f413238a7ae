"""Fixtures shared by every test: Redis isolation, a real ASGI server, Debian's Chromium."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import uvicorn

from portal.ports import free_port


@pytest.fixture(autouse=True)
def _redis_prefix(settings) -> None:
    # Every test gets its own Redis key space (flow-control counters, heartbeat), so tests share a
    # Redis server, even the machine's own, without seeing each other's keys.
    settings.REDIS_KEY_PREFIX = f"test:{uuid.uuid4().hex[:12]}:"


class LiveServer:
    """uvicorn serving portal.asgi on a real socket, in a thread of the test process.

    It uses the test database (the thread opens its own connections), so tests using it need
    `transactional_db` to see and make committed rows.
    """

    def __init__(self, **config: object) -> None:
        self.port = free_port()
        self.config = uvicorn.Config(
            "portal.asgi:application",
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            ws="websockets",
            log_level="warning",
            **config,
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.server.install_signal_handlers = lambda: None  # older uvicorn
        asyncio.run(self.server.serve())

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        scheme = "https" if self.config.ssl_certfile else "http"
        return f"{scheme}://127.0.0.1:{self.port}"


@pytest.fixture
def live_server(transactional_db) -> Iterator[LiveServer]:
    server = LiveServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    # Debian's Chromium: Playwright's own browser download does not work on these machines.
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/lib/chromium/chromium",
        "args": ["--disable-gpu", "--disable-quic", "--no-sandbox", "--disable-background-networking"],
    }
