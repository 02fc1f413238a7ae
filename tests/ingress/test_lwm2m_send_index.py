"""LwM2M 1.1 Send finds its device through the worker's address index (lwm2m_observe.sender), kept with the
worker's views: one dictionary lookup whatever the number of sessions, never a scan (docs/lwm2m-objects.md).
The end-to-end Send (stored before its 2.04, an unregistered address refused) is in test_standard_objects.py."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from ingress.lwm2m_observe import sender
from ingress.models import Channel
from ingress.sessions import SessionView
from ingress.worker import IngressWorker


class NoScan(dict):
    """The worker's views, refusing to be walked: a Send that scanned them would fail."""

    def values(self):
        raise AssertionError("the views were scanned")

    def items(self):
        raise AssertionError("the views were scanned")

    def __iter__(self):
        raise AssertionError("the views were scanned")


def _view(device_pk: int, host: str, port: int, **changes) -> SessionView:
    view = SessionView(
        device_pk=device_pk,
        node_id=f"86000000{device_pk:07d}",
        channel=Channel.LWM2M,
        registration_id=f"r{device_pk}",
        host=host,
        port=port,
        secure=False,
        binding="U",
        observed_path="/19/0/0",
        observe_token=None,
        previous_token=None,
        observed=False,
        lifetime=300,
    )
    return dataclasses.replace(view, **changes)


def _send_from(host: str, port: int, identity: str | None = None) -> SimpleNamespace:
    remote = SimpleNamespace(sockaddr=(f"::ffff:{host}", port, 0, 0))
    if identity is not None:
        remote.identity = identity
    return SimpleNamespace(remote=remote)


@pytest.fixture
def worker():
    worker = IngressWorker(name="send-index", coaps_port=None)
    worker.views = NoScan()
    yield worker
    for executor in (worker.db, worker.registrations, worker.misc, worker.handshakes, worker.heartbeats):
        executor.shutdown(wait=False)


def test_a_send_is_matched_by_its_address_among_many_sessions_without_a_scan(worker):
    for device_pk in range(1, 20001):
        worker._remember(_view(device_pk, f"10.0.{device_pk // 250}.{device_pk % 250}", 5683), None, established=True)

    found = sender(worker, _send_from("10.0.40.2", 5683))

    assert found is not None and found.device_pk == 10002
    assert sender(worker, _send_from("10.0.40.2", 5684)) is None  # an address with no registration: refused


def test_a_device_that_moved_is_found_at_its_new_address_only(worker):
    worker._remember(_view(7, "10.0.0.7", 40000), None, established=True)

    worker._remember(_view(7, "10.0.0.7", 40001), None, established=True)  # NAT rebinding: a new port

    assert sender(worker, _send_from("10.0.0.7", 40000)) is None
    assert sender(worker, _send_from("10.0.0.7", 40001)).device_pk == 7


def test_another_device_taking_an_address_over_is_the_sender_there(worker):
    worker._remember(_view(1, "10.0.0.1", 40000), None, established=True)
    worker._remember(_view(2, "10.0.0.1", 40000), None, established=True)  # the port was given to another
    worker._remember(_view(1, "10.0.0.1", 40002), None, established=True)  # the first moves on afterwards

    assert sender(worker, _send_from("10.0.0.1", 40000)).device_pk == 2
    assert sender(worker, _send_from("10.0.0.1", 40002)).device_pk == 1


def test_over_coaps_the_dtls_identity_must_be_the_sessions(worker):
    worker._remember(
        _view(3, "10.0.0.3", 40000, secure=True, identity="urn:imei:860000000000003"), None, established=True
    )

    assert sender(worker, _send_from("10.0.0.3", 40000, identity="urn:imei:860000000000003")).device_pk == 3
    assert sender(worker, _send_from("10.0.0.3", 40000, identity="860000000000003")).device_pk == 3  # its nodeId
    assert sender(worker, _send_from("10.0.0.3", 40000, identity="someone-else")) is None
    assert sender(worker, _send_from("10.0.0.3", 40000)) is None  # plain CoAP for a CoAPS session


def test_a_gateways_sub_device_is_never_the_sender(worker):
    worker._remember(_view(10, "10.0.0.10", 40000, lwm2m_gateway=True), None, established=True)
    worker._remember(_view(11, "10.0.0.10", 40000, gateway_pk=10, prefix="sub1"), None, established=True)

    assert sender(worker, _send_from("10.0.0.10", 40000)).device_pk == 10
