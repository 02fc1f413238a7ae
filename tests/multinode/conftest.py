from __future__ import annotations

import os
import sys
import time

import pytest

from tests.conftest import database_url_for_tests
from tests.multinode import netns


@pytest.fixture
def topology():
    """Client, balancer and two node namespaces; deleted with everything started in them, pass or fail."""
    reason = netns.unavailable()
    if reason:
        pytest.skip(reason)
    topology = netns.Topology(nodes=2)
    try:
        topology.up()
        yield topology
    finally:
        topology.down()
    assert topology.namespaces_left() == []


@pytest.fixture
def node_env(settings):
    """The environment of a node's processes: the test's database and Redis (bridged into the node)."""

    def env(**overrides: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "REDIS_URL": settings.REDIS_URL,
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "INGRESS_CODEC_MODULE": "products.codecs",
            "CODEC_VERSION_CACHE_SECONDS": "0",
            "INGRESS_HEARTBEAT_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **overrides,
        }

    return env


@pytest.fixture
def shared_channel_layer(settings):
    """This process's channel layer under the test's Redis key prefix, as the node processes have it."""
    layer = settings.CHANNEL_LAYERS["default"]
    config = {**layer["CONFIG"], "prefix": f"{settings.REDIS_KEY_PREFIX}asgi"}
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": config}}


def python() -> list[str]:
    return [sys.executable, "manage.py"]


def elapsed(started: float) -> str:
    return f"{time.monotonic() - started:.1f} s"
