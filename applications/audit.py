"""The audit log: operator and application changes and security events, with who, what, when, where.

Actions call `record` (or `record_many` for a batch) inside their transaction. Who and from where
come from the request context that the portal's middleware and the northbound authentication set
(`acting_as`), so actions stay free of HTTP; an action may name the actor itself (logins do).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from applications.models import ActorKind, Application, AuditEvent

__all__ = [
    "Actor",
    "ActorKind",
    "acting_as",
    "actor_columns",
    "current_actor",
    "record",
    "record_many",
    "record_refusal",
    "sweep",
]


@dataclass(frozen=True)
class Actor:
    """Who is acting in this context, and from which address."""

    kind: str = ActorKind.SYSTEM
    name: str = ""
    address: str = ""


# Actor is frozen, so one shared default is safe.
_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("audit_actor", default=Actor())  # noqa: B039


def current_actor() -> Actor:
    return _actor.get()


@contextlib.contextmanager
def acting_as(kind: str, name: str, address: str = "") -> Iterator[Actor]:
    """Attribute every event recorded inside this block to this actor."""
    actor = Actor(kind, name[:150], address)
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def set_actor(kind: str, name: str, address: str = "") -> None:
    """Attribute the rest of this context (one request) to this actor (northbound authentication)."""
    _actor.set(Actor(kind, name[:150], address or _actor.get().address))


@dataclass
class Entry:
    """One event to record; fields left empty are taken from the current actor."""

    action: str
    application: Application | None = None
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    actor_kind: str | None = None
    address: str | None = None
    application_id: int | None = None


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def actor_columns() -> tuple[str, str, str | None]:
    """The current actor as the audit table's columns (kind, name, address): for a change that writes
    its event in its own statement (commands.actions.do_create_command) instead of through record."""
    actor = current_actor()
    return actor.kind, actor.name[:150], _address(actor.address)


def record_many(entries: list[Entry]) -> None:
    """Store events in one INSERT, stamped now and attributed to the current actor where unnamed."""
    if not entries:
        return
    actor, now = current_actor(), timezone.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                occurred_at=now,
                action=entry.action,
                actor_kind=entry.actor_kind or actor.kind,
                actor=(entry.actor if entry.actor is not None else actor.name)[:150],
                address=_address(entry.address if entry.address is not None else actor.address),
                application_id=entry.application_id if entry.application is None else entry.application.pk,
                target=entry.target[:255],
                detail=entry.detail,
            )
            for entry in entries
        ]
    )


def record(
    action: str,
    *,
    application: Application | None = None,
    application_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
    actor_kind: str | None = None,
    address: str | None = None,
) -> None:
    """Store one event (the batch call with one entry)."""
    record_many([Entry(action, application, target, detail or {}, actor, actor_kind, address, application_id)])


def record_refusal(error: Exception) -> None:
    """Record the security event a refusal carries (NorthboundError.security_event), if any.

    Called where the error is answered, after the refused change's transaction has rolled back."""
    entry = getattr(error, "security_event", None)
    if entry is not None:
        record_many([entry])


def sweep(retention_days: int, *, batch: int = 10_000) -> int:
    """Delete events older than the retention, in batches so a large backlog holds no long lock."""
    cutoff = timezone.now() - dt.timedelta(days=retention_days)
    deleted = 0
    while True:
        ids = list(AuditEvent.objects.filter(occurred_at__lt=cutoff).values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += AuditEvent.objects.filter(id__in=ids).delete()[0]
