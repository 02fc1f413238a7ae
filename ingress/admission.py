"""Admission control of registrations in one ingress worker (issue 23: the thundering herd).

After a network outage a whole fleet registers at once. A Huawei module gives up on a registration
that is not answered within 4 s (F-1.5, error 513) and starts again later; an answer it gets after
that is work thrown away, and the backlog it leaves makes the next devices late too. So a worker
answers every registration in time or refuses it at once:

- on arrival, a registration is refused with 5.03 Service Unavailable when `INGRESS_REGISTER_BACKLOG`
  registrations already wait in this worker, or when no registration thread is free and the ones
  ahead, at the registration time measured here (a moving average), would keep it past
  `INGRESS_REGISTER_ANSWER_SECONDS`;
- when its turn comes, a registration that waited longer than `INGRESS_REGISTER_ANSWER_SECONDS`
  (the estimate was wrong: a slow database, a stalled thread) is refused the same way instead of run.

A refusal carries a Max-Age drawn at random between `INGRESS_REGISTER_RETRY_MIN` and
`INGRESS_REGISTER_RETRY_MAX` seconds, so the refused devices come back spread over that window
rather than all together again. `clock` is monotonic seconds and `draw` a random number in [0, 1)
(tests pass their own).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from django.conf import settings

# Before the first registration is measured: a registration is a few database round trips.
INITIAL_SECONDS = 0.02
# Weight of the latest registration in the moving average: it follows a slowing database within ~20.
SMOOTHING = 0.1


class RegistrationGate:
    """How many registrations wait in this worker and how long one takes; whether another fits in time."""

    def __init__(
        self, threads: int, clock: Callable[[], float] = time.monotonic, draw: Callable[[], float] = random.random
    ) -> None:
        self.threads = max(1, threads)
        self.clock = clock
        self.draw = draw
        self.waiting = 0  # admitted, not yet started
        self.running = 0
        self.seconds = INITIAL_SECONDS  # moving average of one registration's time in its thread
        self._lock = threading.Lock()

    def retry_after(self) -> int:
        """A Max-Age for a refusal, spread over the retry window."""
        low = settings.INGRESS_REGISTER_RETRY_MIN
        high = max(low, settings.INGRESS_REGISTER_RETRY_MAX)
        return low + int(self.draw() * (high - low + 1))

    def expected_wait(self) -> float:
        """Seconds a registration arriving now would wait for its answer, by the measured average."""
        ahead = self.waiting + self.running
        return (ahead // self.threads + 1) * self.seconds

    def admit(self) -> float | None:
        """The arrival time of an admitted registration (pass it to `start`), or None: refuse it now."""
        with self._lock:
            if self.waiting >= settings.INGRESS_REGISTER_BACKLOG:
                return None
            # A free thread always takes it: refusing on the estimate alone, with nothing ahead, would
            # refuse forever once registrations were measured slow (nothing more would be measured).
            busy = self.waiting + self.running >= self.threads
            if busy and self.expected_wait() > settings.INGRESS_REGISTER_ANSWER_SECONDS:
                return None
            self.waiting += 1
            return self.clock()

    def start(self, arrived: float) -> float | None:
        """Its turn in a registration thread: the start time, or None when it waited too long to be
        answered in time (it leaves the gate then)."""
        with self._lock:
            self.waiting -= 1
            now = self.clock()
            if now - arrived > settings.INGRESS_REGISTER_ANSWER_SECONDS:
                return None
            self.running += 1
            return now

    def finish(self, started: float) -> None:
        """A registration that started is done (answered or refused for another reason)."""
        with self._lock:
            self.running -= 1
            self.seconds += SMOOTHING * (self.clock() - started - self.seconds)

    def cancel(self) -> None:
        """An admitted registration that will never start: its request was cancelled while it waited
        (aiocoap cancels a render whose exchange ended), so its job was taken out of the thread pool."""
        with self._lock:
            self.waiting -= 1
