"""Subscribing, notifying and managing delivery: every app notifies through `notify()` here.

`notify()` and `notify_url()` write an outbox row in the caller's transaction; after it commits,
a worker is woken for the row's target (at most one wake-up per target per second), and beat's
sweep catches anything a wake-up missed. Nothing is sent before the change it reports is committed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg import sql

from applications import audit
from applications.errors import NorthboundError
from applications.models import Application, PushProtocol
from applications.redis import get_redis, key
from subscriptions import mqtts
from subscriptions import notify_types as nt
from subscriptions.callbacks import CallbackAddressRefused, CallbackUrl, CallbackUrlError, parse_callback_url
from subscriptions.models import Channel, PushMessage, PushState, PushTarget, Subscription
from subscriptions.payloads import encode


def check_callback_url(application: Application, url: Any, *, ignore: Subscription | None = None) -> CallbackUrl:
    """400 100222 for a URL that breaks F-6.1/F-6.3, 403 100234 for a host:port other than the application's (F-6.7)."""
    try:
        callback = parse_callback_url(url, https_only=application.push_protocol == PushProtocol.HTTPS)
    except CallbackUrlError as error:
        raise _illegal_callback(application, url, error) from None
    current = current_host_port(application, ignore=ignore)
    if current is not None and current != callback.host_port:
        host, port = current
        raise NorthboundError(
            "100234",
            "The host field of the callbackUrl is in conflict with existing callbackUrl: "
            f"this application pushes to {host}:{port}; delete its subscriptions to change it.",
        )
    return callback


def _illegal_callback(application: Application, url: Any, error: CallbackUrlError) -> NorthboundError:
    """400 100222; a refused address also carries the security event the caller audits once rolled back."""
    refused = NorthboundError("100222", f"The request callbackurl is illegal: {error}.")
    if isinstance(error, CallbackAddressRefused):
        refused.security_event = audit.Entry(
            "callback.refused", application=application, target=str(url)[:255], detail={"reason": str(error)}
        )
    return refused


def current_host_port(application: Application, *, ignore: Subscription | None = None) -> tuple[str, int] | None:
    """The host:port all of the application's subscriptions share, or None without subscriptions."""
    existing = Subscription.objects.for_app(application).filter(channel=Channel.HTTP)
    if ignore is not None:
        existing = existing.exclude(pk=ignore.pk)
    first = existing.only("callback_url").first()
    if first is None:
        return None
    return _lenient(first.callback_url).host_port


def _lenient(url: str) -> CallbackUrl:
    # Stored URLs were checked when written; read them back without checking again.
    parts = urlsplit(url)
    return CallbackUrl(url, parts.scheme, (parts.hostname or "").lower(), parts.port or 0)


def _check_type(notify_type: Any, allowed: tuple[str, ...], code: str = "100022") -> str:
    if notify_type not in allowed:
        raise NorthboundError(code, f"The input is invalid: notifyType must be one of {', '.join(allowed)}.")
    return notify_type


def check_channel(channel: Any) -> str:
    """`HTTP` (also when absent) or `MQTTS`; anything else is 400 100022 naming the field."""
    if channel in (None, ""):
        return Channel.HTTP
    if channel not in Channel.values:
        raise NorthboundError("100022", "The input is invalid: channel must be HTTP or MQTTS.")
    return channel


@transaction.atomic
def do_subscribe(
    application: Application, notify_type: Any, callback_url: Any, channel: Any = Channel.HTTP
) -> Subscription:
    """A new subscription; 409 200002 when the type is subscribed already on that channel.

    An MQTTS subscription's pushes go to the application's topic on the MQTT broker: its callbackUrl
    is not pushed to, so it is kept as sent and not checked (the original's clients send one anyway).
    """
    notify_type = _check_type(notify_type, nt.BUSINESS)
    channel = check_channel(channel)
    url = str(callback_url or "") if channel == Channel.MQTTS else check_callback_url(application, callback_url).url
    if Subscription.objects.for_app(application).filter(notify_type=notify_type, channel=channel).exists():
        raise NorthboundError("200002")
    try:
        with transaction.atomic():
            subscription = Subscription.objects.create(
                application=application, notify_type=notify_type, callback_url=url, channel=channel
            )
    except IntegrityError:  # a concurrent subscribe of the same type won
        raise NorthboundError("200002") from None
    _audit_subscribed(subscription)
    return subscription


def _audit_subscribed(subscription: Subscription) -> None:
    audit.record(
        "subscription.saved",
        application=subscription.application,
        target=subscription.notify_type,
        detail={"callbackUrl": subscription.callback_url}
        | ({"channel": subscription.channel} if subscription.channel != Channel.HTTP else {}),
    )


@transaction.atomic
def do_upsert_subscription(
    application: Application, notify_type: Any, callback_url: Any, *, allowed: tuple[str, ...]
) -> Subscription:
    """The legacy and management subscribe calls: subscribing a type again replaces its URL.

    Old clients call these at every start, so a repeat must not be an error.
    """
    notify_type = _check_type(notify_type, allowed)
    existing = (
        Subscription.objects.for_app(application)
        .select_for_update()
        .filter(notify_type=notify_type, channel=Channel.HTTP)
        .first()
    )
    callback = check_callback_url(application, callback_url, ignore=existing)
    if existing is not None:
        existing.callback_url = callback.url
        existing.save(update_fields=["callback_url"])
        _audit_subscribed(existing)
        return existing
    subscription = Subscription.objects.create(
        application=application, notify_type=notify_type, callback_url=callback.url
    )
    _audit_subscribed(subscription)
    return subscription


def do_delete_subscription(application: Application, subscription_id: str) -> None:
    deleted, _ = Subscription.objects.for_app(application).filter(subscription_id=subscription_id).delete()
    if not deleted:
        raise NorthboundError("200001")
    audit.record("subscription.deleted", application=application, target=str(subscription_id))


def do_delete_subscriptions(
    application: Application, *, notify_type: str | None, callback_url: str | None, channel: str | None
) -> int:
    """Batch delete by notifyType / callbackUrl / channel: `HTTP` or `MQTTS` deletes that channel's
    subscriptions, an empty one both, any other value nothing (section 4.3)."""
    if channel not in (None, "", *Channel.values):
        return 0
    subscriptions = Subscription.objects.for_app(application)
    if channel:
        subscriptions = subscriptions.filter(channel=channel)
    if notify_type:
        subscriptions = subscriptions.filter(notify_type=notify_type)
    if callback_url:
        subscriptions = subscriptions.filter(callback_url=callback_url)
    deleted, _ = subscriptions.delete()
    if deleted:
        detail = {"notifyType": notify_type, "callbackUrl": callback_url, "count": deleted}
        if channel:
            detail["channel"] = channel
        audit.record("subscription.deleted", application=application, target=notify_type or "*", detail=detail)
    return deleted


def _target(application: Application, callback: CallbackUrl | None) -> PushTarget:
    """The callback's host:port, or the application's MQTTS target for None."""
    if callback is None:
        return mqtts.target_for(application)
    target, _ = PushTarget.objects.get_or_create(
        application=application, channel=Channel.HTTP, host=callback.host, port=callback.port
    )
    return target


def _destination(application: Application, callback: CallbackUrl | None, notify_type: str) -> str:
    """What a row is sent to: the callback URL, or the MQTTS topic."""
    return callback.url if callback is not None else mqtts.topic(application.app_id, notify_type)


def _enqueue(
    application: Application,
    callback: CallbackUrl | None,
    notify_type: str,
    payload: dict,
    *,
    ordering_key: str = "",
    is_sample: bool = False,
) -> PushMessage:
    now = timezone.now()
    target = _target(application, callback)
    message = PushMessage.objects.create(
        application=application,
        target=target,
        notify_type=notify_type,
        url=_destination(application, callback, notify_type),
        body=encode(payload),
        # Each channel keeps its own order: an MQTTS row never waits behind an HTTP one.
        ordering_key=f"mqtts:{ordering_key}" if callback is None and ordering_key else ordering_key,
        is_sample=is_sample,
        next_attempt_at=now,
        created_at=now,
    )
    if not is_sample:
        transaction.on_commit(lambda: wake(target.pk))
    return message


def notify(application: Application, notify_type: str, payload: dict, *, ordering_key: str = "") -> PushMessage | None:
    """Queue a notification for the application's subscriptions to `notify_type`: one row per channel
    subscribed (HTTP, MQTTS). Returns the HTTP row, else the MQTTS one, else None.

    Call it inside the transaction of the change it reports: the row commits (or not) with it.
    """
    messages = [
        _enqueue(application, callback, notify_type, payload, ordering_key=ordering_key)
        for callback in _subscribed(application, notify_type)
    ]
    return messages[0] if messages else None


def _subscribed(application: Application, notify_type: str) -> list[CallbackUrl | None]:
    """The destinations of the application's subscriptions to `notify_type`, HTTP first: a callback
    URL, or None for MQTTS. One query."""
    subscriptions = (
        Subscription.objects.for_app(application)
        .filter(notify_type=notify_type)
        .order_by("channel")
        .values_list("channel", "callback_url")
    )
    return [_lenient(url) if channel == Channel.HTTP else None for channel, url in subscriptions]


def notify_many(application: Application, notify_type: str, payloads: list[dict]) -> int:
    """`notify()` for many bodies of one type at once (sweeps, bulk registration): one query and one COPY.

    The rows are those `notify()` writes. COPY, because bulk_create cost 200 µs a row in Python
    (model instances, a parameter per column) against 13 µs: it capped bulk registration at 2,500
    devices a second (docs/performance.md, Devices).
    """
    destinations = _subscribed(application, notify_type) if payloads else []
    for callback in destinations:
        _copy_rows(application, callback, notify_type, payloads)
    return len(payloads) if destinations else 0


def _copy_rows(application: Application, callback: CallbackUrl | None, notify_type: str, payloads: list[dict]) -> None:
    target = _target(application, callback)
    now = timezone.now()
    prototype = PushMessage(
        application=application, target=target, notify_type=notify_type,
        url=_destination(application, callback, notify_type), next_attempt_at=now, created_at=now,
    )  # fmt: skip
    fields = [field for field in PushMessage._meta.concrete_fields if not field.primary_key]
    row = [field.get_db_prep_save(getattr(prototype, field.attname), connection) for field in fields]
    names = [field.name for field in fields]
    push_id, body = names.index("push_id"), names.index("body")
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(PushMessage._meta.db_table), sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for payload in payloads:
            row[push_id], row[body] = uuid.uuid4(), encode(payload)
            copy.write_row(row)
    transaction.on_commit(lambda: wake(target.pk))


def notify_url(
    application: Application,
    url: str,
    payload: dict,
    *,
    notify_type: str = nt.COMMAND_CALLBACK,
    ordering_key: str = "",
) -> PushMessage:
    """Queue a push to a URL of the caller's choosing (a command's callbackUrl), checked like a subscription's."""
    return _enqueue(application, check_callback_url(application, url), notify_type, payload, ordering_key=ordering_key)


def notify_webhook(application: Application, url: str, payload: dict, *, notify_type: str) -> PushMessage:
    """Queue a push to a webhook of the application's own (a rule's WEBHOOK action): checked as a URL
    (F-6.1), but not held to the subscriptions' single host:port (F-6.7), which concerns callbacks.
    Delivery, retries, blacklisting and the SSRF guard are the outbox's, as for every push."""
    try:
        callback = parse_callback_url(url)
    except CallbackUrlError as error:
        raise NorthboundError("100222", f"The request callbackurl is illegal: {error}.") from None
    return _enqueue(application, callback, notify_type, payload)


def wake(target_id: int) -> None:
    """Start a delivery task for the target, at most once a second (the sweep covers the rest)."""
    from subscriptions.tasks import deliver_target

    if get_redis().set(key("push", "wake", target_id), 1, nx=True, px=1000):
        deliver_target.delay(target_id)


@transaction.atomic
def do_redeliver(message: PushMessage) -> None:
    """Send a push again now, whatever its state (the portal's redeliver button)."""
    PushMessage.objects.filter(pk=message.pk).update(
        state=PushState.PENDING, next_attempt_at=timezone.now(), lease_until=None, delivered_at=None
    )
    transaction.on_commit(lambda: wake(message.target_id))


@transaction.atomic
def do_lift_blacklist(target: PushTarget) -> None:
    """End a blacklist now (the portal's lift button); pending pushes go out at once."""
    PushTarget.objects.filter(pk=target.pk).update(blacklisted_until=None, consecutive_failures=0)
    transaction.on_commit(lambda: wake(target.pk))


def do_send_sample(application: Application, notify_type: str, url: str):
    """POST a sample of `notify_type` to `url` now and return the attempt (the debugging page).

    The push is kept in the push log like any other; it is sent once and not retried.
    """
    from subscriptions.delivery import deliver_message_now
    from subscriptions.payloads import sample

    try:
        callback = parse_callback_url(url)
    except CallbackUrlError as error:
        raise _illegal_callback(application, url, error) from None
    with transaction.atomic():
        message = _enqueue(application, callback, notify_type, sample(notify_type), is_sample=True)
    return deliver_message_now(message.pk)


def retry_delay(attempts: int) -> dt.timedelta:
    """Backoff after the n-th failed attempt (PUSH_RETRY_DELAYS, the last one repeating)."""
    delays = settings.PUSH_RETRY_DELAYS
    return dt.timedelta(seconds=delays[min(attempts, len(delays)) - 1])
