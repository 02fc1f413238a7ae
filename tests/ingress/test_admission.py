"""Registrations after an outage (issue 23): answered within the 4 s a Huawei module waits, or refused at
once with 5.03 and a Max-Age spread over the retry window (ingress.admission)."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator

import psycopg
import pytest
from aiocoap import Message
from aiocoap.numbers import codes
from aiocoap.numbers.types import ACK, CON

from ingress.admission import RegistrationGate
from ingress.models import DeviceSession
from tests.conftest import database_url_for_tests
from tests.ingress.fixtures import WorkerThread, water_device


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gate_settings(settings):
    settings.INGRESS_REGISTER_BACKLOG = 3
    settings.INGRESS_REGISTER_ANSWER_SECONDS = 3.0
    settings.INGRESS_REGISTER_RETRY_MIN = 5
    settings.INGRESS_REGISTER_RETRY_MAX = 60
    return settings


def test_the_backlog_limit_refuses_the_next_registration(gate_settings):
    gate = RegistrationGate(threads=2, clock=Clock())

    admitted = [gate.admit() for _ in range(4)]

    assert admitted[:3] == [1000.0] * 3 and admitted[3] is None
    assert gate.waiting == 3


def test_a_registration_that_would_wait_past_the_answer_time_is_refused_on_arrival(gate_settings):
    # given: registrations measured at 1 s each on 2 threads, 2 running
    gate_settings.INGRESS_REGISTER_BACKLOG = 100
    gate = RegistrationGate(threads=2, clock=Clock())
    gate.seconds = 1.0
    for _ in range(2):
        gate.start(gate.admit())

    # when: four more arrive, each answered in a later round of the two threads
    arrived = [gate.admit() for _ in range(4)]

    # then: with 5 ahead the next would be answered in the third round (3 s), with 6 in the fourth: refused
    assert None not in arrived and gate.expected_wait() == 4.0
    assert gate.admit() is None and gate.waiting == 4
    gate.start(arrived[0])  # one leaves the queue for a thread (3 running): still 6 ahead
    assert gate.admit() is None


def test_a_registration_that_waited_too_long_is_refused_when_its_turn_comes(gate_settings):
    clock = Clock()
    gate = RegistrationGate(threads=2, clock=clock)
    early, late = gate.admit(), gate.admit()

    clock.now += 3.0
    assert gate.start(early) is not None  # exactly the answer time: still run
    clock.now += 0.01
    assert gate.start(late) is None
    assert gate.waiting == 0 and gate.running == 1


def test_the_registration_time_is_a_moving_average(gate_settings):
    clock = Clock()
    gate = RegistrationGate(threads=2, clock=clock)
    for _ in range(50):
        started = gate.start(gate.admit())
        clock.now += 0.5
        gate.finish(started)

    assert gate.seconds == pytest.approx(0.5, rel=0.01)
    assert gate.running == 0 and gate.waiting == 0


def test_max_age_is_spread_over_the_retry_window(gate_settings):
    draws = iter([0.0, 0.5, 0.999999])
    gate = RegistrationGate(threads=2, draw=lambda: next(draws))

    assert [gate.retry_after() for _ in range(3)] == [5, 33, 60]


# --- the real worker, flooded ------------------------------------------------------------------------
FLOOD = 24


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


@pytest.fixture
def sessions_locked(transactional_db) -> Iterator[psycopg.Connection]:
    """Registrations stall on their session row (a slow database): the table locked from another
    connection until the test commits."""
    with psycopg.connect(database_url_for_tests()) as locker:
        locker.execute(f"LOCK TABLE {DeviceSession._meta.db_table} IN EXCLUSIVE MODE")
        yield locker


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def empty_ack(mid: int) -> bytes:
    message = Message(code=codes.EMPTY)
    message.mtype, message.mid = ACK, mid
    return message.encode()


class Fleet:
    """Devices registering at once from one address, one source port each, CoAP encoded by aiocoap."""

    def __init__(self, node_ids: list[str], port: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.sockets = []
        self.sent: list[float] = []
        self.answers: dict[int, tuple[Message, float]] = {}
        for index, node_id in enumerate(node_ids):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            self.sockets.append(sock)
            self.selector.register(sock, selectors.EVENT_READ, index)
            request = Message(
                code=codes.POST,
                uri_path=("rd",),
                uri_query=(f"ep={node_id}", "lt=3600", "b=U"),
                content_format=40,
                payload=b"</19/0>",
            )
            request.mtype, request.mid, request.token = CON, index + 1, bytes([index])
            self.sent.append(time.monotonic())
            sock.send(request.encode())

    def receive(self, seconds: float = 0.05) -> None:
        """Final answers, by device (an empty ACK is not one; a separate response is acknowledged)."""
        for selected, _ in self.selector.select(timeout=seconds):
            index = selected.data
            try:
                message = Message.decode(self.sockets[index].recv(2048))
            except OSError:
                continue
            if message.mtype == CON and message.code.is_response():
                self.sockets[index].send(empty_ack(message.mid))
            if message.code.is_response() and message.token == bytes([index]) and index not in self.answers:
                self.answers[index] = (message, time.monotonic())

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()

    def outcome(self) -> tuple[list[float], list[int]]:
        """Seconds to each 2.01; the Max-Age of each 5.03. Any other answer fails the test."""
        created, refused = [], []
        for index, (message, at) in self.answers.items():
            if message.code == codes.CREATED:
                created.append(at - self.sent[index])
            else:
                assert message.code == codes.SERVICE_UNAVAILABLE, message
                refused.append(message.opt.max_age)
        return created, refused


@pytest.mark.django_db(transaction=True)
def test_a_flood_of_registrations_is_answered_in_time_or_refused_with_5_03_and_max_age(
    owner_app, worker, gate_settings, sessions_locked
):
    # given: a fleet whose registrations pile up behind a stalled database
    devices = [water_device(owner_app, f"8637030300{number:05d}") for number in range(FLOOD)]
    fleet = Fleet([device.node_id for device in devices], worker.port)
    gate = worker.worker.gate
    try:
        # when: the two registration threads are stalled and the backlog is full
        wait_for(lambda: (fleet.receive(), gate.running == 2 and len(fleet.answers) == FLOOD - 2 - gate.waiting)[1])
        admitted = gate.running + gate.waiting
        sessions_locked.commit()  # the database is back
        wait_for(lambda: (fleet.receive(), len(fleet.answers) == FLOOD)[1])
    finally:
        fleet.close()

    # then: every device got an answer, 2.01 within 4 s or 5.03 with a Max-Age in the retry window
    created, refused = fleet.outcome()
    # The backlog (3) fills before or after the two threads took theirs, as the burst meets them.
    assert 3 <= admitted <= 2 + 3
    assert len(refused) == FLOOD - len(created) >= FLOOD - admitted
    assert all(seconds < 4.0 for seconds in created) and len(created) >= 2
    assert all(5 <= max_age <= 60 for max_age in refused)
    assert DeviceSession.objects.filter(device__in=devices).count() == len(created)
    assert worker.worker.stats["register_backlog"] == FLOOD - admitted


@pytest.mark.django_db(transaction=True)
def test_registrations_that_waited_past_the_answer_time_are_refused_not_run(
    owner_app, worker, gate_settings, sessions_locked
):
    # given: the gate's clock is the test's; two registrations stalled, three waiting behind them
    clock = Clock()
    gate = worker.worker.gate
    gate.clock = clock
    devices = [water_device(owner_app, f"8637030301{number:05d}") for number in range(5)]
    fleet = Fleet([device.node_id for device in devices], worker.port)
    try:
        wait_for(lambda: gate.running == 2 and gate.waiting == 3)
        # when: they have waited longer than the answer time, and the database is back
        clock.now += 3.5
        sessions_locked.commit()
        wait_for(lambda: (fleet.receive(), len(fleet.answers) == 5)[1])
    finally:
        fleet.close()

    # then: the two that ran are registered; the three late ones were refused without registering
    created, refused = fleet.outcome()
    assert len(created) == 2 and len(refused) == 3
    assert all(5 <= max_age <= 60 for max_age in refused)
    assert DeviceSession.objects.filter(device__in=devices).count() == 2
    assert worker.worker.stats["register_late"] == 3


def test_a_free_thread_takes_a_registration_however_slow_the_last_ones_were(gate_settings):
    # given: registrations measured far slower than the answer time (a database that was stalled)
    gate = RegistrationGate(threads=2, clock=Clock())
    gate.seconds = 10.0

    # then: one is still tried on each free thread (and measured), a third waits for nothing in time
    first, second = gate.admit(), gate.admit()
    assert first is not None and second is not None
    assert gate.admit() is None


@pytest.mark.django_db(transaction=True)
def test_a_registration_cancelled_while_it_waits_leaves_the_gate(owner_app, worker, gate_settings, sessions_locked):
    # given: both registration threads stalled, one registration waiting behind them
    gate = worker.worker.gate
    devices = [water_device(owner_app, f"8637030302{number:05d}") for number in range(3)]
    fleet = Fleet([device.node_id for device in devices], worker.port)
    try:
        wait_for(lambda: gate.running == 2 and gate.waiting == 1)

        # when: the waiting one's job is cancelled before its turn (as when aiocoap cancels its render)
        jobs = worker.worker.registrations._work_queue  # ThreadPoolExecutor's queue of work items
        while not jobs.empty():
            job = jobs.get_nowait()
            if job is not None:
                job.future.cancel()
        sessions_locked.commit()
        wait_for(lambda: (fleet.receive(), gate.running == 0)[1])
    finally:
        fleet.close()

    # then: the gate counts nothing waiting, so the next registrations are admitted
    assert gate.waiting == 0 and gate.admit() is not None
