"""Login throttling, shared by the portal sign-in and the northbound login.

Failures are counted in Redis per (account, client address) and per account, each over a sliding
window of LOGIN_FAILURE_WINDOW seconds:

- LOGIN_FAILURE_LIMIT failures from one address for one account block that pair until the oldest
  of them leaves the window; other addresses are not affected.
- LOGIN_ACCOUNT_FAILURE_LIMIT failures for one account from all addresses together (a distributed
  guess) block the account, except from addresses it logged in from successfully within
  LOGIN_KNOWN_ADDRESS_DAYS: whoever knows an appId or a user name cannot lock the real application
  server or operator out from its own address.

A blocked attempt is refused before the secret is checked and does not count, so a block ends on
time however often it is retried. Times come from `time.time()` (a controlled clock moves them in
tests); Redis expiry only cleans up.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings

from applications.redis import get_redis, key


@dataclass(frozen=True)
class Blocked:
    """Why a login is refused and for how long."""

    retry_after: int
    scope: str  # "address": this account from this address; "account": this account from unknown addresses


def _account(kind: str, account: str) -> str:
    # Hashed: an attacker chooses the account name, and keys stay short.
    return hashlib.sha256(f"{kind}\0{account.strip().lower()}".encode()).hexdigest()[:32]


def _keys(kind: str, account: str, address: str) -> tuple[str, str, str]:
    name = _account(kind, account)
    return key("login", name, "addr", address), key("login", name, "all"), key("login", name, "known")


def _wait(stamps: list[float], limit: int, window: int, now: float) -> int | None:
    """Seconds until fewer than `limit` of these failure times are inside the window, or None."""
    if len(stamps) < limit:
        return None
    return max(1, math.ceil(stamps[len(stamps) - limit] + window - now))


def check_login_allowed(kind: str, account: str, address: str) -> Blocked | None:
    """None when this login may be tried now; otherwise how long to wait."""
    window, now = settings.LOGIN_FAILURE_WINDOW, time.time()
    pair_key, account_key, known_key = _keys(kind, account, address)
    pipe = get_redis().pipeline(transaction=False)
    pipe.zrangebyscore(pair_key, f"({now - window}", "+inf", withscores=True)
    pipe.zrangebyscore(account_key, f"({now - window}", "+inf", withscores=True)
    pipe.hget(known_key, address)
    pair, everyone, known = pipe.execute()
    wait = _wait([score for _, score in pair], settings.LOGIN_FAILURE_LIMIT, window, now)
    if wait is not None:
        return Blocked(wait, "address")
    known_for = settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400
    if known is not None and float(known) > now - known_for:
        return None
    wait = _wait([score for _, score in everyone], settings.LOGIN_ACCOUNT_FAILURE_LIMIT, window, now)
    return Blocked(wait, "account") if wait is not None else None


def record_login_failure(kind: str, account: str, address: str) -> None:
    """Count one wrong secret or password for this account from this address."""
    window, now = settings.LOGIN_FAILURE_WINDOW, time.time()
    pair_key, account_key, _ = _keys(kind, account, address)
    member = f"{now:.6f}:{address}:{time.perf_counter_ns()}"  # unique even for two failures in one tick
    pipe = get_redis().pipeline(transaction=False)
    for each in (pair_key, account_key):
        pipe.zadd(each, {member: now})
        pipe.zremrangebyscore(each, "-inf", now - window)
        pipe.expire(each, window + 60)
    pipe.execute()


def record_login_success(kind: str, account: str, address: str) -> None:
    """Forget this address's failures for the account and remember the address as the account's own."""
    now = time.time()
    pair_key, _, known_key = _keys(kind, account, address)
    known_for = settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400
    pipe = get_redis().pipeline(transaction=False)
    pipe.delete(pair_key)
    pipe.hset(known_key, address, f"{now:.3f}")
    pipe.expire(known_key, known_for)
    pipe.execute()
