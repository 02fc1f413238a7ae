"""Sockets the broker does not keep: no CONNECT in time, silent past the keep-alive, too many from one
address. amqtt 0.12.1 alone held 1,000 sockets that never sent CONNECT (0 of 20 closed after 150 s)."""

from __future__ import annotations

import logging
import random
import socket
import struct
import time

import pytest

from ingress.mqtt import auth
from tests.mqtt.fixtures import ServerThread, hour_now, mqtt_device, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(settings):
    settings.MQTT_CONNECT_TIMEOUT = 1
    settings.MQTT_MAX_PENDING_PER_ADDRESS = 3
    settings.MQTT_MAX_CONNECTIONS_PER_ADDRESS = 5
    thread = ServerThread().start()
    yield thread
    thread.stop()


def open_socket(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the socket (recv gives EOF or a reset), or None if it did not."""
    started = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - started < seconds:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
        if data == b"":
            return time.monotonic() - started
    return None


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        digit, length = length % 128, length // 128
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(out)


def connect_packet(client_id: str, username: str, password: str, keep_alive: int) -> bytes:
    """An MQTT 3.1.1 CONNECT, clean session, user name and password."""
    variable = _string("MQTT") + bytes([4, 0b11000010]) + struct.pack("!H", keep_alive)
    payload = _string(client_id) + _string(username) + _string(password)
    body = variable + payload
    return bytes([0x10]) + _remaining_length(len(body)) + body


def test_a_socket_that_sends_no_connect_is_closed_after_the_connect_timeout(server, caplog):
    caplog.set_level(logging.INFO)
    idle = open_socket(server.port)

    took = closed_within(idle, 6)

    assert took is not None and 0.8 <= took < 4
    assert server.server.stats["refused_mqtt_connect_timeout"] == 1
    assert any("no CONNECT within 1 s" in record.getMessage() for record in caplog.records)
    assert not any(record.exc_info for record in caplog.records)
    assert not any("Failed to initialize client session" in record.getMessage() for record in caplog.records)


def test_a_connected_device_silent_past_one_and_a_half_keep_alives_is_closed(owner_app, server):
    device = mqtt_device(owner_app)
    hour = hour_now()
    sock = open_socket(server.port)
    sock.sendall(
        connect_packet(f"{device.device_id}_0_0_{hour}", device.device_id, auth.password(device.secret, hour), 1)
    )
    sock.settimeout(5)
    assert sock.recv(4) == b"\x20\x02\x00\x00"  # CONNACK, accepted

    took = closed_within(sock, 6)

    # Keep-alive 1 s: closed after 1.5 s of silence (2 s, rounded up), not before a whole keep-alive.
    assert took is not None and 1.0 <= took < 4
    assert wait_for(lambda: server.server.stats["refused_mqtt_keepalive"] == 1)


def test_a_device_that_pings_within_its_keep_alive_stays_connected(owner_app, server):
    device = mqtt_device(owner_app)
    hour = hour_now()
    sock = open_socket(server.port)
    sock.sendall(
        connect_packet(f"{device.device_id}_0_0_{hour}", device.device_id, auth.password(device.secret, hour), 1)
    )
    sock.settimeout(5)
    assert sock.recv(4) == b"\x20\x02\x00\x00"

    for _ in range(4):  # 3.2 s in all, past two keep-alives and a half
        time.sleep(0.8)  # the device's own ping interval, not a wait for the server
        sock.sendall(b"\xc0\x00")  # PINGREQ
        assert sock.recv(2) == b"\xd0\x00"  # PINGRESP

    assert server.server.stats["refused_mqtt_keepalive"] == 0
    sock.close()


def test_one_address_holds_a_bounded_number_of_sockets_waiting_for_connect(server):
    held = [open_socket(server.port) for _ in range(3)]
    assert wait_for(lambda: server.server.limits.pending["127.0.0.1"] == 3)

    refused = open_socket(server.port)

    assert closed_within(refused, 1) is not None
    assert server.server.stats["refused_mqtt_address_limit"] == 1
    # The three held ones are closed by the CONNECT deadline, and the address may connect again.
    assert all(closed_within(sock, 5) is not None for sock in held)
    assert wait_for(lambda: not server.server.limits.pending and not server.server.limits.open)
    later = open_socket(server.port)
    assert closed_within(later, 0.5) is None
    later.close()


def test_one_address_holds_a_bounded_number_of_connections(owner_app, server, settings):
    settings.MQTT_MAX_PENDING_PER_ADDRESS = 50
    devices = [mqtt_device(owner_app, f"86400000000010{index}") for index in range(6)]
    hour = hour_now()
    connected = []
    for device in devices[:5]:
        sock = open_socket(server.port)
        password = auth.password(device.secret, hour)
        sock.sendall(connect_packet(f"{device.device_id}_0_0_{hour}", device.device_id, password, 60))
        sock.settimeout(5)
        assert sock.recv(4) == b"\x20\x02\x00\x00"
        connected.append(sock)

    sixth = open_socket(server.port)

    assert closed_within(sixth, 1) is not None
    assert server.server.stats["refused_mqtt_address_limit"] == 1
    assert all(closed_within(sock, 0.2) is None for sock in connected)
    for sock in connected:
        sock.close()


def test_malformed_connects_are_refused_without_a_traceback_and_logged_once(server, settings, caplog):
    settings.MQTT_MAX_PENDING_PER_ADDRESS = settings.MQTT_MAX_CONNECTIONS_PER_ADDRESS = 100
    caplog.set_level(logging.INFO)
    fuzz = random.Random(21)
    sent = 0
    for index in range(60):
        if index % 3 == 0:
            data = fuzz.randbytes(fuzz.randrange(1, 64))  # not MQTT at all
        else:  # a CONNECT with random flags, levels and lengths, whole or cut short
            body = b"\x00\x04MQTT" + bytes([fuzz.choice([3, 4, 5, 255]), fuzz.randrange(256)]) + fuzz.randbytes(12)
            data = bytes([0x10, len(body)]) + body
            data = data if index % 3 == 1 else data[: fuzz.randrange(1, 10)]
        with open_socket(server.port) as sock:
            sock.sendall(data)
            sent += 1
        # closed at once from our side: amqtt's own close then meets a socket that is gone

    stats = server.server.stats
    # Each is refused at once (invalid) or at the CONNECT deadline (a CONNECT cut short: amqtt waits for the rest).
    assert wait_for(lambda: stats["refused_mqtt_connect_invalid"] + stats["refused_mqtt_connect_timeout"] == sent)
    assert wait_for(lambda: not server.server.limits.open)
    assert server.server.stats["refused_mqtt_session_error"] == 0
    assert not [record for record in caplog.records if record.exc_info or "Traceback" in record.getMessage()]
    lines = [record for record in caplog.records if "refused mqtt_connect_invalid" in record.getMessage()]
    assert len(lines) == 1  # one source, one interval
    assert not [record for record in caplog.records if record.name.startswith("amqtt") and record.levelno >= 30]
