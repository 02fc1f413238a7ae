"""Malformed device traffic: refused without a traceback, counted by kind, logged once per source and
interval; DTLS: spoofed ClientHellos leave no state, handshakes are bounded per worker and per host."""

from __future__ import annotations

import logging
import random
import socket
import time

import pytest
import time_machine
from mbedtls import tls

from applications.redis import get_redis
from ingress import dtls
from ingress.refusals import Refusals, refusal_counts_key
from tests.ingress.fixtures import WorkerThread

pytestmark = pytest.mark.django_db(transaction=True)
BAD_URI_PATH = bytes.fromhex("400100 01 b1 ff".replace(" ", ""))  # CON GET, Uri-Path 0xff: not UTF-8
PSK_HEX = "73656372657450534b"


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


def tracebacks(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.exc_info or "Traceback" in record.getMessage() or "Exception in callback" in record.getMessage()
    ]


def wait_until(condition, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            return value
        time.sleep(0.02)
    return value


def ping(port: int) -> bytes:
    """A CoAP ping (empty CON): a live server answers with a reset."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(bytes.fromhex("40000777"), ("127.0.0.1", port))
        return sock.recv(64)


# --- the rate-limited log ---------------------------------------------------------------------------------
def test_a_refusal_is_counted_always_and_logged_once_per_kind_and_source_per_interval(settings, caplog):
    settings.INGRESS_REFUSAL_LOG_SECONDS = 60
    refusals = Refusals(logging.getLogger("ingress.test"))
    caplog.set_level(logging.WARNING, "ingress.test")

    with time_machine.travel("2026-12-07 12:00:00", tick=False) as clock:
        logged = [refusals.refuse("coap_option", "192.0.2.1", "bad Uri-Path") for _ in range(5)]
        other_source = refusals.refuse("coap_option", "192.0.2.2", "bad Uri-Path")
        other_kind = refusals.refuse("coap_unparsable", "192.0.2.1", "too short")
        clock.shift(59)
        still_quiet = refusals.refuse("coap_option", "192.0.2.1", "bad Uri-Path")
        clock.shift(2)
        again = refusals.refuse("coap_option", "192.0.2.1", "bad Uri-Path")

    assert logged == [True, False, False, False, False]
    assert (other_source, other_kind, still_quiet, again) == (True, True, False, True)
    assert refusals.counts["refused_coap_option"] == 8
    assert refusals.counts["refused_coap_unparsable"] == 1
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 4
    assert messages[-1] == "refused coap_option from 192.0.2.1: bad Uri-Path (5 more like it since the last line)"


def test_the_counts_are_added_to_one_redis_hash_for_every_process(settings):
    first, second = Refusals(logging.getLogger("ingress.test")), Refusals(logging.getLogger("ingress.test"))
    get_redis().delete(refusal_counts_key())
    for _ in range(3):
        first.refuse("coap_option", "192.0.2.1", "x")
    second.refuse("coap_option", "192.0.2.9", "x")

    first.flush()
    second.flush()
    first.flush()  # nothing new: adds nothing

    assert get_redis().hgetall(refusal_counts_key()) == {b"coap_option": b"4"}


# --- plain CoAP -------------------------------------------------------------------------------------------
def test_a_uri_path_that_is_not_utf8_is_refused_without_a_traceback(worker, caplog):
    caplog.set_level(logging.INFO)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(20):
            sock.sendto(BAD_URI_PATH, ("127.0.0.1", worker.port))

    assert wait_until(lambda: worker.worker.stats["refused_coap_option"] == 20)
    assert tracebacks(caplog) == []
    lines = [record.getMessage() for record in caplog.records if "refused coap_option" in record.getMessage()]
    assert len(lines) == 1
    assert "from 127.0.0.1: an option does not decode: UnicodeDecodeError" in lines[0]
    assert "6 bytes: 40 01 00 01 b1 ff" in lines[0]
    assert ping(worker.port)[:1] == b"\x70"  # still serving: RST to the ping


def test_a_fuzz_run_produces_no_traceback_and_each_kind_is_counted(worker, caplog):
    caplog.set_level(logging.INFO)
    fuzz = random.Random(21)
    datagrams = [BAD_URI_PATH, b"\x40", b"\x80\x01\x00\x01", b"\x40\x01\x00\x01\xbd"]  # short, version 2, cut option
    for _ in range(400):
        header = bytes([0x40 | fuzz.randrange(16), fuzz.choice([1, 2, 3, 4, 69]), 0, fuzz.randrange(256)])
        datagrams.append(header + fuzz.randbytes(fuzz.randrange(0, 40)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", worker.port))

    assert ping(worker.port)[:1] == b"\x70"
    assert tracebacks(caplog) == []
    stats = worker.worker.stats
    assert stats["refused_coap_option"] >= 1 and stats["refused_coap_unparsable"] >= 3
    refusal_lines = [record for record in caplog.records if record.getMessage().startswith("refused coap_")]
    assert len(refusal_lines) <= 3  # one per kind from this one source, however many datagrams


# --- DTLS -------------------------------------------------------------------------------------------------
class DtlsClient:
    """A DTLS-PSK client on its own UDP socket, stepped by hand so a test can stop anywhere."""

    def __init__(self, port: int, identity: str = "863703030000401", key: bytes = b"secretPSK") -> None:
        configuration = tls.DTLSConfiguration(
            ciphers=("TLS-PSK-WITH-AES-128-CCM-8",),
            pre_shared_key=(identity, key),
            validate_certificates=False,
            lowest_supported_version=tls.DTLSVersion.DTLSv1_2,
            highest_supported_version=tls.DTLSVersion.DTLSv1_2,
        )
        self.buffer = tls.ClientContext(configuration).wrap_buffers(None)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)
        self.server = ("127.0.0.1", port)

    def flight(self, received: bytes = b"") -> str:
        """Feed what the server sent, step, send what the client has to say; returns the step's end."""
        out, state = dtls.run_handshake(self.buffer, received)
        if out:
            self.sock.sendto(out, self.server)
        return state

    def receive(self) -> bytes:
        return self.sock.recv(4096)

    def handshake(self) -> None:
        state = self.flight()
        while state != "over":
            state = self.flight(self.receive())

    def send(self, plaintext: bytes) -> None:
        self.buffer.write(plaintext)
        self.sock.sendto(dtls._outgoing(self.buffer), self.server)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def secure_device(owner_app):
    from tests.ingress.fixtures import water_device

    return water_device(owner_app, "863703030000401", psk=PSK_HEX, is_secure=True)


def test_malformed_coap_inside_dtls_is_refused_without_a_traceback(worker, secure_device, caplog):
    caplog.set_level(logging.INFO)
    client = DtlsClient(worker.coaps_port)
    client.handshake()

    client.send(BAD_URI_PATH)

    assert wait_until(lambda: worker.worker.stats["refused_coap_option"] == 1)
    assert tracebacks(caplog) == []
    client.close()


def test_spoofed_client_hellos_get_a_stateless_hello_verify_request_and_evict_no_session(
    worker, secure_device, settings
):
    settings.INGRESS_DTLS_MAX_PEERS = 5
    interface = worker.worker.dtls
    device = DtlsClient(worker.coaps_port)
    device.handshake()
    assert wait_until(lambda: len(interface.peers) == 1)

    # 200 ClientHellos from addresses that never answer: what a spoofed flood looks like from here.
    spoofed = [DtlsClient(worker.coaps_port, identity=f"spoof{index}") for index in range(200)]
    for client in spoofed:
        client.flight()

    assert wait_until(lambda: interface.verify_requests == 201)  # theirs and the device's first
    assert len(interface.handshaking) == 0
    assert list(interface.peers) == [device_address(device)]  # the device's session is still there
    for client in spoofed:
        client.close()
    device.close()


def device_address(client: DtlsClient) -> tuple:
    return ("::ffff:127.0.0.1", client.sock.getsockname()[1])


def test_handshakes_past_the_cookie_are_bounded_per_host_and_expire(worker, secure_device, settings, monkeypatch):
    settings.INGRESS_DTLS_HANDSHAKES_PER_HOST = 2
    settings.INGRESS_DTLS_HANDSHAKE_SECONDS = 60
    interface = worker.worker.dtls
    clients = [DtlsClient(worker.coaps_port) for _ in range(3)]

    # Each returns its cookie (so its address is real) and then goes quiet, half-way through.
    for client in clients:
        client.flight()
        client.flight(client.receive())  # the HelloVerifyRequest: ClientHello again, with the cookie
    assert wait_until(lambda: interface.refusals.counts["refused_dtls_flood"] == 1)
    assert len(interface.handshaking) == 2

    now = time.monotonic()
    monkeypatch.setattr(dtls, "clock", lambda: now + 61)
    worker.run(interface.sweep)

    assert len(interface.handshaking) == 0 and not interface.handshaking_per_host
    late = DtlsClient(worker.coaps_port)
    late.handshake()  # room again: a whole handshake goes through
    assert wait_until(lambda: len(interface.peers) == 1)
    for client in [*clients, late]:
        client.close()


def test_a_device_that_restarts_on_the_same_port_handshakes_again_at_once(worker, secure_device):
    interface = worker.worker.dtls
    first = DtlsClient(worker.coaps_port)
    first.handshake()
    assert wait_until(lambda: len(interface.peers) == 1)
    old_session = interface.peers[device_address(first)]

    # Same socket (address and port), new DTLS state: the module rebooted behind the same NAT binding.
    restarted = DtlsClient(worker.coaps_port)
    restarted.sock.close()
    restarted.sock = first.sock
    restarted.handshake()  # no retransmission needed: the first ClientHello is answered
    restarted.send(bytes.fromhex("5000 0001"))  # a CoAP ping inside the new session

    assert wait_until(lambda: interface.peers.get(device_address(first)) not in (None, old_session))
    assert interface.peers[device_address(first)].established
    first.sock.close()
