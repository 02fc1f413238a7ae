"""Everything that changes applications, their credentials and memberships.

`check_*` functions authorize and validate; `do_*` functions change data and schedule effects.
Views, API views and commands call these; nothing here knows about HTTP.
"""

from __future__ import annotations

import copy
import datetime as dt
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from applications import audit, events, login_throttle
from applications.errors import GatewayError, NorthboundError
from applications.models import Application, ApplicationToken, Membership, Role, hash_secret
from applications.redis import get_redis
from applications.redis import key as redis_key

_ALPHABET = string.ascii_letters + string.digits


def _random_string(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_app_id() -> str:
    # The original's appIds are 28 characters of letters, digits and underscores; ours keep the
    # length and leave out the underscore so they need no escaping anywhere.
    return _random_string(28)


def new_secret() -> str:
    return _random_string(28)


@dataclass(frozen=True)
class TokenPair:
    """The clear tokens of one login, returned once and never stored."""

    access_token: str
    refresh_token: str
    expires_in: int

    def as_response(self) -> dict[str, Any]:
        # Field order of the original's DTO: accessToken, tokenType, refreshToken, expiresIn, scope.
        return {
            "accessToken": self.access_token,
            "tokenType": "bearer",
            "refreshToken": self.refresh_token,
            "expiresIn": self.expires_in,
            "scope": "default",
        }


@transaction.atomic
def do_create_application(
    name: str, *, owner: AbstractBaseUser | None = None, **fields: Any
) -> tuple[Application, str]:
    """Create an application; return it with its secret, which is never shown again."""
    secret = new_secret()
    fields.setdefault("api_rate_limit", settings.NORTHBOUND_RATE_LIMIT)
    application = Application.objects.create(app_id=new_app_id(), name=name, secret_hash=hash_secret(secret), **fields)
    if owner is not None and not owner.is_staff:
        Membership.objects.create(user=owner, application=application, role=Role.OWNER)
    events.publish(application.pk, "application.created", {"appId": application.app_id, "name": name})
    audit.record("application.created", application=application, target=application.app_id, detail={"name": name})
    return application, secret


@transaction.atomic
def do_reset_secret(application: Application) -> str:
    """Give the application a new secret and end its tokens: the old secret stops working at once."""
    secret = new_secret()
    Application.objects.filter(pk=application.pk).update(secret_hash=hash_secret(secret), updated_at=timezone.now())
    ApplicationToken.objects.filter(application=application).delete()
    application.secret_hash = hash_secret(secret)
    events.publish(application.pk, "application.secret_reset", {"appId": application.app_id})
    audit.record("application.secret_reset", application=application, target=application.app_id)
    forget_tokens()
    return secret


SETTING_FIELDS = (
    "name",
    "storage_mode",
    "push_protocol",
    "abnormal_after",
    "offline_after",
    "data_retention_days",
    "device_quota",
    "api_rate_limit",
    "device_uplink_limit",
    "uplink_rate_limit",
    "is_active",
)


def check_settings(application: Application, changes: dict[str, Any]) -> dict[str, str]:
    """Validate a change of settings as a whole; return {field: message}, empty when valid.

    Messages are English (the northbound API answers in English); the portal translates them.
    """
    errors: dict[str, str] = {}
    unknown = set(changes) - set(SETTING_FIELDS)
    for field in sorted(unknown):
        errors[field] = gettext_noop("is not a setting of an application")
    abnormal = changes.get("abnormal_after", application.abnormal_after)
    offline = changes.get("offline_after", application.offline_after)
    if abnormal < 60:
        errors["abnormal_after"] = gettext_noop("must be at least 60 seconds")
    if offline < 60:
        errors["offline_after"] = gettext_noop("must be at least 60 seconds")
    if not errors and abnormal >= offline:
        errors["offline_after"] = gettext_noop("must be longer than the abnormal time")
    retention = changes.get("data_retention_days", application.data_retention_days)
    if not 0 <= retention <= 90:
        errors["data_retention_days"] = gettext_noop("must be between 0 and 90 days")
    if changes.get("api_rate_limit", application.api_rate_limit) < 1:
        errors["api_rate_limit"] = gettext_noop("must be at least 1")
    for field in ("device_uplink_limit", "uplink_rate_limit"):
        if changes.get(field, getattr(application, field)) < 1:
            errors[field] = gettext_noop("must be at least 1")
    return errors


@transaction.atomic
def do_update_settings(application: Application, changes: dict[str, Any]) -> Application:
    """Apply validated settings (call check_settings first)."""
    for field, value in changes.items():
        setattr(application, field, value)
    application.save(update_fields=[*changes, "updated_at"])
    audit.record(
        "application.settings_changed",
        application=application,
        target=application.app_id,
        detail={field: _jsonable(value) for field, value in changes.items()},
    )
    forget_tokens()
    events.publish(application.pk, "application.updated", {"appId": application.app_id, "fields": sorted(changes)})
    return application


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _issue_tokens(application: Application) -> TokenPair:
    forget_tokens()  # the application's previous access token ends here
    now = timezone.now()
    pair = TokenPair(secrets.token_hex(16), secrets.token_hex(16), settings.ACCESS_TOKEN_LIFETIME)
    ApplicationToken.objects.update_or_create(
        application=application,
        defaults={
            "access_hash": hash_secret(pair.access_token),
            "access_expires_at": now + dt.timedelta(seconds=settings.ACCESS_TOKEN_LIFETIME),
            "refresh_hash": hash_secret(pair.refresh_token),
            "refresh_expires_at": now + dt.timedelta(seconds=settings.REFRESH_TOKEN_LIFETIME),
            "issued_at": now,
        },
    )
    return pair


def _authenticate_app(app_id: str, secret: str) -> Application:
    application = Application.objects.filter(app_id=app_id, is_active=True).first()
    if application is None or not application.check_secret(secret):
        raise NorthboundError("100208")
    return application


def _authenticate_throttled(app_id: str, secret: str, address: str) -> Application:
    """The application, or 401 100208 (counted), or 403 1010004 with Retry-After while throttled."""
    blocked = login_throttle.check_login_allowed("northbound", app_id, address)
    if blocked is not None:
        audit.record(
            "login.throttled",
            actor=app_id[:150],
            actor_kind=audit.ActorKind.APPLICATION,
            address=address,
            detail={"api": "northbound", "scope": blocked.scope, "retryAfter": blocked.retry_after},
        )
        raise GatewayError("1010004", retry_after=blocked.retry_after)
    try:
        application = _authenticate_app(app_id, secret)
    except NorthboundError:
        login_throttle.record_login_failure("northbound", app_id, address)
        audit.record(
            "login.failed",
            actor=app_id[:150],
            actor_kind=audit.ActorKind.APPLICATION,
            address=address,
            detail={"api": "northbound"},
        )
        raise
    login_throttle.record_login_success("northbound", app_id, address)
    return application


def do_login(app_id: str, secret: str, address: str = "") -> TokenPair:
    """Log an application in; its previous access token stops working (as in the original).

    Wrong secrets are counted per (appId, address) and per appId (applications.login_throttle)."""
    application = _authenticate_throttled(app_id, secret, address)
    with transaction.atomic():
        audit.record("login.succeeded", application=application, detail={"api": "northbound"}, **_as_app(application))
        return _issue_tokens(application)


def _as_app(application: Application) -> dict[str, Any]:
    return {"actor": application.app_id, "actor_kind": audit.ActorKind.APPLICATION}


def do_refresh(app_id: str, secret: str, refresh_token: str, address: str = "") -> TokenPair:
    """Trade a live refresh token of this application for a new pair (both tokens rotate)."""
    application = _authenticate_throttled(app_id, secret, address)
    with transaction.atomic():
        return _refresh(application, refresh_token)


def _refresh(application: Application, refresh_token: str) -> TokenPair:
    token = (
        ApplicationToken.objects.select_for_update()
        .filter(application=application, refresh_hash=hash_secret(refresh_token))
        .first()
    )
    if token is None or token.refresh_expires_at <= timezone.now():
        raise NorthboundError("100006")
    return _issue_tokens(application)


def do_logout(access_token: str) -> bool:
    """End an access token (the original's deprecated logout); True when one was live."""
    ended = (
        ApplicationToken.objects.filter(
            access_hash=hash_secret(access_token), access_expires_at__gt=timezone.now()
        ).update(access_expires_at=timezone.now())
        == 1
    )
    forget_tokens()
    return ended


def check_access_token(app_key: str, access_token: str) -> Application:
    """The application a bearer token belongs to, or 403 1010005 (missing, wrong, expired, other app).

    Every northbound call asks this. A token found live is remembered by this process for
    NORTHBOUND_TOKEN_CACHE_SECONDS (its expiry still checked at each call), which saves a query and
    its compilation per call (bench/commands_bench.py). What is remembered is stamped with the token
    generation, a Redis counter that every login, refresh, logout, secret reset and settings change
    raises once committed (`forget_tokens`): a call that finds another generation asks the database,
    so a token ended in any web process is refused by every other one from the next call on, for
    one Redis GET per call (cheaper than the query it saves). Each call gets its own copy of the
    application."""
    digest = hash_secret(access_token)
    caching = settings.NORTHBOUND_TOKEN_CACHE_SECONDS > 0
    generation = _generation() if caching else 0  # read before the database: a later end raises it
    found = _tokens.get(digest)
    if found is None or found[0] <= time.monotonic() or found[3] != generation:
        token = ApplicationToken.objects.select_related("application").filter(access_hash=digest).first()
        if token is None:
            raise GatewayError("1010005")
        found = (
            time.monotonic() + settings.NORTHBOUND_TOKEN_CACHE_SECONDS,
            token.application,
            token.access_expires_at,
            generation,
        )
        if caching:
            _remember(digest, found)
    _, application, expires_at, _ = found
    if application.app_id != app_key or not application.is_active or expires_at <= timezone.now():
        raise GatewayError("1010005")
    return copy.copy(application)


_tokens: dict[str, tuple[float, Application, dt.datetime, int]] = {}
MAX_CACHED_TOKENS = 10_000


def _generation_key() -> str:
    return redis_key("token-generation")


def _generation() -> int:
    return int(get_redis().get(_generation_key()) or 0)


def _remember(digest: str, found: tuple[float, Application, dt.datetime, int]) -> None:
    if len(_tokens) >= MAX_CACHED_TOKENS:
        now = time.monotonic()
        for stale in [key for key, (until, *_) in list(_tokens.items()) if until <= now] or list(_tokens):
            _tokens.pop(stale, None)
    _tokens[digest] = found


def forget_tokens(*, here_only: bool = False) -> None:
    """Tokens or applications changed: this process forgets what it remembers now, every web process
    at its next call once the change is committed (the token generation rises then: raised earlier,
    another process could read the old token again before the commit and remember it).
    `here_only`: this process only (tests start from an empty memory)."""
    _tokens.clear()
    if not here_only:
        transaction.on_commit(_raise_generation)


def _raise_generation() -> None:
    get_redis().incr(_generation_key())


@transaction.atomic
def do_add_member(application: Application, user: AbstractBaseUser, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(application=application, user=user, defaults={"role": role})
    audit.record("member.added", application=application, target=user.get_username(), detail={"role": role})
    return membership


@transaction.atomic
def do_remove_member(application: Application, user_id: int) -> bool:
    deleted, _ = Membership.objects.filter(application=application, user_id=user_id).delete()
    if deleted:
        audit.record("member.removed", application=application, target=f"user {user_id}")
    return deleted > 0


def check_portal_login(username: str, address: str) -> login_throttle.Blocked | None:
    """None when this portal sign-in may be tried; otherwise how long to wait (the refusal is audited)."""
    blocked = login_throttle.check_login_allowed("portal", username, address)
    if blocked is not None:
        audit.record(
            "login.throttled",
            actor=username[:150],
            actor_kind=audit.ActorKind.USER,
            address=address,
            detail={"api": "portal", "scope": blocked.scope, "retryAfter": blocked.retry_after},
        )
    return blocked


def do_record_portal_login(username: str, address: str, *, succeeded: bool) -> None:
    """Count a failed portal sign-in (or clear this address's count on success) and audit it."""
    if succeeded:
        login_throttle.record_login_success("portal", username, address)
    else:
        login_throttle.record_login_failure("portal", username, address)
    audit.record(
        "login.succeeded" if succeeded else "login.failed",
        actor=username[:150],
        actor_kind=audit.ActorKind.USER,
        address=address,
        detail={"api": "portal"},
    )
