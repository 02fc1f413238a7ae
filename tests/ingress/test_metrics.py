"""The real `run_ingress` process exports Prometheus metrics: one port per worker, the figures it counts."""

from __future__ import annotations

import asyncio
import socket

import pytest

from portal.ports import free_port_range
from tests.ingress.fixtures import water_device
from tests.ingress.water_codec import report
from tests.metrics import scrape, total, value, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

UPLINKS = "platform_ingress_uplinks_total"


def test_each_worker_exports_uplinks_by_result_refusals_and_ack_latency_on_its_own_port(owner_app, ingress):
    from ingress.simulator import connect

    owner_app.application.uplink_rate_limit = 100000  # every uplink stored, none limited
    owner_app.application.save()
    devices = [water_device(owner_app, f"86902000000000{n}") for n in range(2)]
    base = free_port_range(2)
    _, port = ingress(workers=2, INGRESS_METRICS_PORT=str(base))
    ports = [base, base + 1]  # INGRESS_METRICS_PORT + WORKER_INDEX of each worker

    def both() -> list:
        return [scrape(each) for each in ports]

    before = wait_for(both, lambda scraped: True)
    for samples in before:
        # Every result is a series from the first scrape (0 until it happens), so rate() and alerts see it.
        assert value(samples, UPLINKS, transport="coap", result="decode_error") == 0
        assert value(samples, UPLINKS, transport="coap", result="stored") == 0
        # Bounded labels: no device, application or address anywhere.
        for _name, labels in samples:
            assert not {key for key, _ in labels} & {"device", "deviceId", "application", "appId", "host", "address"}

    async def run() -> None:
        simulated = [await connect(device.node_id, port) for device in devices]
        for reading in range(3):
            for device in simulated:
                await device.notify(report(reading=reading))  # CON: returns once acknowledged
        for device in simulated:
            device.close()

    asyncio.run(run())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
        stray.sendto(b"\x01", ("127.0.0.1", port))  # not CoAP: refused as coap_unparsable

    def summed(scraped: list, name: str, **labels: str) -> float:
        return sum(total(samples, name, **labels) for samples in scraped)

    after = wait_for(
        both,
        lambda scraped: (
            summed(scraped, "platform_ingress_ack_seconds_count") >= 6
            and summed(scraped, "platform_ingress_refusals_total", kind="coap_unparsable") >= 1
        ),
    )
    assert summed(after, UPLINKS, result="stored") == 6
    assert summed(after, UPLINKS) == 6  # received: the sum over results
    assert summed(after, "platform_ingress_ack_seconds_count", transport="coap") == 6
    assert summed(after, "platform_ingress_refusals_total", kind="coap_unparsable") == 1
    assert summed(after, "platform_uplinks_stored_total") == 6  # the dashboard's counter, same path
    assert summed(after, "platform_ingress_batch_seconds_count") >= 1
    assert summed(after, "platform_codec_decode_seconds_count") >= 1
    assert summed(after, "platform_ingress_devices_held") == 2
    assert summed(after, "platform_ingress_queued_uplinks") == 0
    assert summed(after, "platform_dtls_sessions") == 0
    assert summed(after, "process_resident_memory_bytes") > 0
