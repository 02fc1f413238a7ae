"""Fixtures shared by every test: Redis isolation, a real ASGI server, Debian's Chromium."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import uvicorn

from portal.env import BASE_DIR
from portal.ports import free_port


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser, deployment and multi-node tests are in the slow tier (`make test-slow`, CONTRIBUTING.md
    # "Test tiers"), marked slow or not.
    for item in items:
        slow_kind = any(item.get_closest_marker(kind) for kind in ("browser", "deployment", "multinode"))
        if slow_kind or "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


class _BrowserTestsLast:
    """Browser tests go last: pytest-playwright keeps an event loop running in the main thread for the
    rest of the session, after which Django refuses synchronous ORM calls. Last of all the reorderings
    (pytest-django's by database use came after this sort and undid it in `make test-slow`)."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items.sort(key=lambda item: "page" in getattr(item, "fixturenames", ()))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_BrowserTestsLast(), "browser-tests-last")


@pytest.fixture(autouse=True)
def _redis_prefix(settings) -> None:
    # Every test gets its own Redis key space (flow-control counters, heartbeat), so tests share a
    # Redis server, even the machine's own, without seeing each other's keys.
    settings.REDIS_KEY_PREFIX = f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture(autouse=True)
def _no_token_cache(settings) -> None:
    # Calls are counted in queries by many tests: each asks the database for its token, as with the
    # cache off. tests/applications/test_token_cache.py turns it on.
    from applications.actions import forget_tokens

    settings.NORTHBOUND_TOKEN_CACHE_SECONDS = 0
    forget_tokens(here_only=True)


@pytest.fixture(autouse=True)
def _forget_history_partitions() -> Iterator[None]:
    # devices.history remembers a partition once its creation commits; a test that runs its captured
    # on-commit callbacks (django_capture_on_commit_callbacks(execute=True)) remembers one its rolled-back
    # transaction takes with it, and a later test's insert for that day then finds no partition.
    yield
    from devices import history

    history._known_days.clear()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class LiveServer:
    """uvicorn serving portal.asgi on a real socket, in a thread of the test process.

    It uses the test database (the thread opens its own connections), so tests using it need
    `transactional_db` to see and make committed rows.
    """

    def __init__(self, config: uvicorn.Config | None = None) -> None:
        self.config = config or uvicorn.Config(
            "portal.asgi:application",
            host="127.0.0.1",
            port=free_port(),
            lifespan="off",
            ws="websockets-sansio",
            log_level="warning",
        )
        self.port = self.config.port
        self.screenshot_dir = BASE_DIR / "test-results"
        self.screenshot_dir.mkdir(exist_ok=True)
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


def database_url_for_tests() -> str:
    """DATABASE_URL of the test database, for subprocesses that must see what the test wrote."""
    from django.db import connection

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def manage(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run `manage.py` in a subprocess against the test database."""
    full_env = {**os.environ, "DATABASE_URL": database_url_for_tests(), **(env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=full_env, capture_output=True, text=True, **kwargs
    )


@pytest.fixture(autouse=True)
def _live_server_helper() -> None:
    """Replaces pytest-django's helper for its WSGI live_server, which ours (ASGI) supersedes."""


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


@pytest.fixture
def outcomes():
    """Downlink outcomes reported through devices.hooks during the test: (list, event set at each)."""
    from devices import hooks

    received: list = []
    arrived = threading.Event()

    def handler(outcome) -> None:
        received.append(outcome)
        arrived.set()

    hooks.on_downlink_outcome(handler)
    yield received, arrived
    hooks._outcome_handlers.remove(handler)  # only ours: the apps' own handlers stay
