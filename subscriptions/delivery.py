"""Delivering the push outbox: claim due rows with a lease, POST them concurrently, record the outcome.

A worker delivers one target (an application's callback host:port) at a time, in batches of up to
`PUSH_BATCH_SIZE` rows with at most `PUSH_CONCURRENCY` requests in flight, over keep-alive
connections kept per worker thread. A slow or dead target only ever occupies its own task; after
`PUSH_BLACKLIST_FAILURES` consecutive failures it is blacklisted and probed with one push every
`PUSH_BLACKLIST_SECONDS` (F-6.6). Only HTTP 200 counts as delivered (F-6.5); redirects are not
followed. Claimed rows carry a lease: if the worker dies, they are sent again once it expires, so
every push arrives at least once; receivers drop duplicates by the `X-Push-Id` header.

A target of channel MQTTS is not POSTed to: its task asks the MQTT broker process that holds the
application's session to deliver (subscriptions.mqtts), and that process uses `claim` and `record`
here, a PUBACK counting as delivered.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from yarl import URL

from applications import metrics
from applications.models import Application
from subscriptions import mqtts
from subscriptions.actions import retry_delay
from subscriptions.callbacks import address_allowed, refusal
from subscriptions.models import Channel, PushAttempt, PushMessage, PushState, PushTarget

USER_AGENT = "iot-platform-push/1.0"


@dataclass
class Outgoing:
    id: int
    push_id: uuid.UUID
    url: str
    body: bytes
    attempts: int
    created_at: Any
    notify_type: str
    is_sample: bool


@dataclass
class Outcome:
    message_id: int
    started_at: Any
    duration_ms: int
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    acknowledged: bool = False  # MQTTS: the application's client sent its PUBACK

    @property
    def delivered(self) -> bool:
        return self.acknowledged or self.status_code == 200

    @property
    def permanent(self) -> bool:
        """A refusal that retrying will not change: a client error (but 408/429) or a redirect."""
        code = self.status_code
        return code is not None and (300 <= code < 400 or (400 <= code < 500 and code not in (408, 429)))


def claim(
    target_id: int, now, limit: int, *, message_id: int | None = None, notify_types: list[str] | None = None
) -> list[Outgoing]:
    """Lease up to `limit` due rows of a target, oldest first, skipping rows other workers hold.

    A row with an ordering key waits until every earlier row with that key has left `pending`, so
    one command's callbacks are delivered in creation order.
    """
    earlier = PushMessage.objects.filter(
        ordering_key=OuterRef("ordering_key"), id__lt=OuterRef("id"), state=PushState.PENDING
    )
    due = (
        PushMessage.objects.select_for_update(skip_locked=True)
        .filter(target_id=target_id, state=PushState.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(ordering_key="") | ~Exists(earlier))
    )
    if message_id is not None:
        due = due.filter(pk=message_id)
    if notify_types is not None:
        due = due.filter(notify_type__in=notify_types)
    fields = ("id", "push_id", "url", "body", "attempts", "created_at", "notify_type", "is_sample")
    with transaction.atomic():
        rows = list(due.order_by("id").values_list(*fields)[:limit])
        if rows:
            lease = now + dt.timedelta(seconds=settings.PUSH_LEASE_SECONDS)
            PushMessage.objects.filter(id__in=[row[0] for row in rows]).update(lease_until=lease)
    return [Outgoing(*row[:3], bytes(row[3]), *row[4:]) for row in rows]


class GuardedResolver(AbstractResolver):
    """Resolves callback host names, keeping only the addresses a push may go to (callbacks.address_allowed).

    Checking the addresses actually connected to (not the name) also stops DNS rebinding; aiohttp
    connects only to what this returns, and its DNS cache holds only these filtered answers.
    """

    def __init__(self) -> None:
        self.inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        infos = await self.inner.resolve(host, port, family)
        allowed = [info for info in infos if address_allowed(info["host"], port)]
        if not allowed:
            addresses = ", ".join(sorted({info["host"] for info in infos}))
            raise OSError(f"{host} resolves to {addresses}: {refusal(host)}")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


class Sender:
    """One event loop and its keep-alive HTTP sessions, per worker thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sessions: dict[tuple, aiohttp.ClientSession] = {}

    def send(self, application: Application, messages: list[Outgoing]) -> list[Outcome]:
        return self.loop.run_until_complete(self._send_all(application, messages))

    def close(self) -> None:
        async def close_all() -> None:
            for session in self.sessions.values():
                await session.close()

        if not self.loop.is_closed():
            self.loop.run_until_complete(close_all())
            self.sessions.clear()
            self.loop.close()

    async def _session(self, application: Application) -> aiohttp.ClientSession:
        chain = application.push_ca_chain.strip()
        session_key = (
            application.pk,
            hashlib.sha256(chain.encode()).hexdigest(),
            settings.PUSH_ALLOW_PRIVATE,
            tuple(settings.PUSH_ALLOWED_TARGETS),
            settings.PUSH_CONNECT_TIMEOUT,
            settings.PUSH_READ_TIMEOUT,
            settings.PUSH_CONCURRENCY,
        )
        session = self.sessions.get(session_key)
        if session is None or session.closed:
            if len(self.sessions) >= 256:
                for old in self.sessions.values():
                    await old.close()
                self.sessions.clear()
            context = ssl.create_default_context(cadata=chain) if chain else ssl.create_default_context()
            connector = aiohttp.TCPConnector(
                limit=settings.PUSH_CONCURRENCY, ssl=context, resolver=GuardedResolver(), keepalive_timeout=30
            )
            timeout = aiohttp.ClientTimeout(
                total=settings.PUSH_CONNECT_TIMEOUT + settings.PUSH_READ_TIMEOUT,
                sock_connect=settings.PUSH_CONNECT_TIMEOUT,
                sock_read=settings.PUSH_READ_TIMEOUT,
            )
            session = aiohttp.ClientSession(connector=connector, timeout=timeout, headers={"User-Agent": USER_AGENT})
            self.sessions[session_key] = session
        return session

    async def _send_all(self, application: Application, messages: list[Outgoing]) -> list[Outcome]:
        session = await self._session(application)
        gate = asyncio.Semaphore(settings.PUSH_CONCURRENCY)
        finished: list[Outcome] = []  # in completion order: the blacklist counts consecutive failures

        async def one(message: Outgoing) -> None:
            async with gate:
                finished.append(await _post(session, application, message))

        await asyncio.gather(*(one(message) for message in messages))
        return finished


async def _post(session: aiohttp.ClientSession, application: Application, message: Outgoing) -> Outcome:
    started_at, started = timezone.now(), time.perf_counter()
    outcome = Outcome(message.id, started_at, 0)
    headers = {
        "Content-Type": "application/json",
        "X-Push-Id": str(message.push_id),
        "X-Notify-Type": message.notify_type,
    }
    if application.push_signing_secret:
        digest = hmac.new(application.push_signing_secret.encode(), message.body, hashlib.sha256).hexdigest()
        headers["X-Signature"] = f"sha256={digest}"
    try:
        url = URL(message.url)
        host = url.host or ""
        # aiohttp skips the resolver for IP literals, so they are checked here, before each request.
        if _is_ip(host) and not address_allowed(host, url.port):
            raise OSError(refusal(host))
        async with session.post(message.url, data=message.body, headers=headers, allow_redirects=False) as response:
            outcome.status_code = response.status
            excerpt = await response.content.read(512)
            outcome.excerpt = excerpt.decode(errors="replace")
            if 300 <= response.status < 400:
                outcome.error = f"redirect to {response.headers.get('Location', '?')} not followed"
            elif response.status != 200:
                outcome.error = f"answered HTTP {response.status}; only 200 counts as delivered"
    except aiohttp.ClientConnectorCertificateError as error:
        outcome.error = f"certificate error: {error.certificate_error}"
    except aiohttp.ClientSSLError as error:
        outcome.error = f"TLS error: {error}"
    except aiohttp.ClientConnectorError as error:
        outcome.error = f"connection failed: {error.os_error or error}"
    except TimeoutError:
        outcome.error = f"timed out (connect {settings.PUSH_CONNECT_TIMEOUT}s, read {settings.PUSH_READ_TIMEOUT}s)"
    except (aiohttp.ClientError, OSError) as error:
        outcome.error = f"{error.__class__.__name__}: {error}"
    outcome.duration_ms = int((time.perf_counter() - started) * 1000)
    return outcome


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_local = threading.local()
_senders: list[Sender] = []


def sender() -> Sender:
    """This thread's sender (worker threads and the web process's request threads each have one)."""
    if not hasattr(_local, "sender"):
        _local.sender = Sender()
        _senders.append(_local.sender)
    return _local.sender


@atexit.register
def _close_senders() -> None:
    for each in _senders:
        with contextlib.suppress(Exception):  # best effort at exit: the sockets close anyway
            each.close()


def record(target_id: int, messages: list[Outgoing], outcomes: list[Outcome]) -> bool:
    """Store attempts and states in a few statements; update the target's health.

    Returns True when the target is blacklisted afterwards.
    """
    now = timezone.now()
    by_id = {message.id: message for message in messages}
    delivered = [outcome.message_id for outcome in outcomes if outcome.status_code == 200]
    acknowledged = [outcome.message_id for outcome in outcomes if outcome.acknowledged]
    failed = []
    for outcome in outcomes:
        if outcome.delivered:
            continue
        message = by_id[outcome.message_id]
        attempts = message.attempts + 1
        too_old = now - message.created_at > dt.timedelta(seconds=settings.PUSH_MAX_AGE_SECONDS)
        give_up = outcome.permanent or too_old or message.is_sample
        failed.append(
            PushMessage(
                id=message.id,
                attempts=attempts,
                state=PushState.FAILED if give_up else PushState.PENDING,
                next_attempt_at=now + retry_delay(attempts),
                lease_until=None,
                last_status_code=outcome.status_code,
                last_error=outcome.error,
            )
        )
    trailing_failures, any_success = 0, False
    for outcome in outcomes:
        if outcome.delivered:
            any_success, trailing_failures = True, 0
        else:
            trailing_failures += 1
    with transaction.atomic():
        PushAttempt.objects.bulk_create(
            PushAttempt(
                message_id=outcome.message_id,
                started_at=outcome.started_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
                response_excerpt=outcome.excerpt,
            )
            for outcome in outcomes
        )
        if delivered:
            PushMessage.objects.filter(id__in=delivered).update(
                state=PushState.DELIVERED,
                delivered_at=now,
                attempts=F("attempts") + 1,
                last_status_code=200,
                last_error="",
                lease_until=None,
            )
        if acknowledged:
            PushMessage.objects.filter(id__in=acknowledged).update(
                state=PushState.DELIVERED,
                delivered_at=now,
                attempts=F("attempts") + 1,
                last_status_code=None,
                last_error="",
                lease_until=None,
            )
        if failed:
            PushMessage.objects.bulk_update(
                failed, ["attempts", "state", "next_attempt_at", "lease_until", "last_status_code", "last_error"]
            )
        threshold = settings.PUSH_BLACKLIST_FAILURES
        targets = PushTarget.objects.filter(pk=target_id)
        if any_success:
            lifted = {"blacklisted_until": None} if trailing_failures < threshold else {}
            targets.update(consecutive_failures=trailing_failures, last_success_at=now, **lifted)
        if trailing_failures and not any_success:
            targets.update(consecutive_failures=F("consecutive_failures") + trailing_failures, last_failure_at=now)
        elif trailing_failures:
            targets.update(last_failure_at=now)
        targets.filter(consecutive_failures__gte=threshold, blacklisted_until__isnull=True).update(
            blacklisted_until=now + dt.timedelta(seconds=settings.PUSH_BLACKLIST_SECONDS)
        )
        _count_pushes(target_id, len(delivered), len(outcomes) - len(delivered))
        return targets.filter(blacklisted_until__isnull=False).exists()


def _count_pushes(target_id: int, delivered: int, failed: int) -> None:
    """The dashboard's per-minute push counters (attempts delivered and failed), once the outcomes commit."""
    application_pk = PushTarget.objects.filter(pk=target_id).values_list("application_id", flat=True).first()
    if application_pk is None:
        return

    counters = {metrics.PUSHES_DELIVERED: {application_pk: delivered}, metrics.PUSHES_FAILED: {application_pk: failed}}
    transaction.on_commit(lambda: metrics.add_many(counters))


def deliver_target(target_id: int, *, budget_seconds: float | None = None) -> int:
    """Deliver a target's due pushes until none are left, it is blacklisted, or the budget is spent.

    Returns how many were delivered. Safe to run twice at once: rows are leased, never shared.
    """
    deadline = time.monotonic() + (settings.PUSH_TASK_SECONDS if budget_seconds is None else budget_seconds)
    target = PushTarget.objects.select_related("application").filter(pk=target_id).first()
    if target is None:
        return 0
    if target.channel == Channel.MQTTS:
        mqtts.wake_broker(target.application_id)  # the broker process publishes and records
        return 0
    delivered = 0
    while time.monotonic() < deadline:
        now = timezone.now()
        target.refresh_from_db(fields=["blacklisted_until", "consecutive_failures"])
        limit = settings.PUSH_BATCH_SIZE
        if target.blacklisted_until is not None:
            if target.blacklisted_until > now:
                break
            # The probe: one push, and the next probe no sooner than another blacklist period.
            probe_slot = PushTarget.objects.filter(pk=target.pk, blacklisted_until=target.blacklisted_until).update(
                blacklisted_until=now + dt.timedelta(seconds=settings.PUSH_BLACKLIST_SECONDS)
            )
            if not probe_slot:
                break
            limit = 1
        batch = claim(target.pk, now, limit)
        if not batch:
            break
        outcomes = sender().send(target.application, batch)
        delivered += sum(outcome.delivered for outcome in outcomes)
        if record(target.pk, batch, outcomes):
            break
    return delivered


def resume_mqtts(application_pk: int, notify_types: list[str]) -> int:
    """An application's client has just subscribed: its MQTTS rows waiting out a retry delay are due now.

    Their delays came from publishing with no live session (the client had gone, a publish failed under
    it); the subscription is the reconnect they were waiting for. Rows another process holds (leased)
    stay as they are. Returns how many rows were made due."""
    return PushMessage.objects.filter(
        target__application_id=application_pk,
        target__channel=Channel.MQTTS,
        state=PushState.PENDING,
        notify_type__in=notify_types,
        next_attempt_at__gt=timezone.now(),
    ).update(next_attempt_at=timezone.now())


def claim_mqtts(application_pk: int, notify_types: list[str], limit: int) -> tuple[int | None, list[Outgoing]]:
    """The MQTT broker's claim: due pushes of the application's MQTTS target, of the notifyTypes its
    client's subscriptions cover. Returns the target's id (None without one) and the leased rows."""
    target_id = (
        PushTarget.objects.filter(application_id=application_pk, channel=Channel.MQTTS)
        .values_list("pk", flat=True)
        .first()
    )
    if target_id is None or not notify_types:
        return target_id, []
    return target_id, claim(target_id, timezone.now(), limit, notify_types=notify_types)


def deliver_message_now(message_id: int) -> PushAttempt | None:
    """Send one push immediately in this process (the debugging page) and return its attempt."""
    message = PushMessage.objects.select_related("application").get(pk=message_id)
    batch = claim(message.target_id, timezone.now(), 1, message_id=message_id)
    if not batch:
        return None
    outcomes = sender().send(message.application, batch)
    record(message.target_id, batch, outcomes)
    return PushAttempt.objects.filter(message_id=message_id).order_by("-id").first()
