"""The Developer Center's device simulator page: a payload sent as a device through the real ingress."""

from __future__ import annotations

import pytest
from django.test import Client

from devices.models import DataHistory, Device
from tests.devices.fixtures import WATER_METER, register
from tests.ingress.fixtures import WorkerThread, water_product
from tests.ingress.water_codec import report
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(settings):
    thread = WorkerThread().start()
    settings.COAP_PORT = thread.port
    yield thread
    thread.stop()


@pytest.fixture
def personas():
    people = create_personas()
    water_product(people.app)
    register(people.app, "863703030000777", info=WATER_METER)
    return people


def history():
    device = Device.objects.get(node_id="863703030000777")
    return list(DataHistory.objects.filter(device_id=device.pk))


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_sends_hex_and_sees_decoded_result_ack_and_log(personas, worker):
    page = client_for(personas.owner).post(
        "/ingress/simulator/",
        {"node_id": "863703030000777", "payload": report(reading=4711).hex(), "confirmable": "on", "wait": "0.5"},
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="simulator-ack">yes' in html
    assert "/19/1/0: AAAA0000" in html  # the codec's cloudRsp, received by the simulated device
    assert "LwM2M uplink: WaterMeter" in html and "4711" in html
    assert [row.data["currentReading"] for row in history()] == ["4711"]


def test_a_payload_the_codec_cannot_decode_shows_the_reason(personas, worker):
    page = client_for(personas.owner).post(
        "/ingress/simulator/", {"node_id": "863703030000777", "payload": "7f 01", "confirmable": "on", "wait": "0"}
    )

    content = page.content.decode()
    assert "decode failed: CODEC_JS_EXCEPTION" in content and "unknown messageId 0x7F at byte offset 0" in content
    assert not history()


def test_bad_hex_is_refused_before_anything_is_sent(personas, worker):
    page = client_for(personas.owner).post(
        "/ingress/simulator/", {"node_id": "863703030000777", "payload": "0x12zz", "wait": "0"}
    )

    assert "Use hexadecimal digits" in page.content.decode()
    assert "simulator-result" not in page.content.decode()


@pytest.mark.parametrize("persona", ["viewer", "outsider"])
def test_only_those_who_may_change_the_device_may_send_as_it(personas, worker, persona):
    page = client_for(getattr(personas, persona)).post(
        "/ingress/simulator/", {"node_id": "863703030000777", "payload": report().hex(), "wait": "0"}
    )

    assert "No device with this nodeId that you may send as" in page.content.decode()
    assert not history()


def test_anonymous_callers_are_sent_to_the_login(db):
    page = Client().get("/ingress/simulator/")
    assert page.status_code == 302 and "/login/" in page["Location"]


def test_the_page_lists_the_devices_one_may_send_as(personas):
    html = client_for(personas.owner).get("/ingress/simulator/").content.decode()
    assert '<option value="863703030000777">' in html
    assert (
        '<option value="863703030000777">'
        not in client_for(personas.outsider).get("/ingress/simulator/").content.decode()
    )


def test_the_simulator_acts_as_a_conformant_lwm2m_1_1_client(personas, worker):
    page = client_for(personas.owner).post(
        "/ingress/simulator/",
        {"node_id": "863703030000777", "payload": report(reading=4712).hex(), "confirmable": "on", "wait": "0.5",
         "client": "1.1"},
    )  # fmt: skip

    html = page.content.decode()
    # The cloudRsp is written to the resource instance, as the specification has it for 1.1.
    assert "/19/1/0/0: AAAA0000" in html
    assert [row.data["currentReading"] for row in history()] == ["4712"]
