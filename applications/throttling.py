"""Application-side flow control of the northbound API (F-8.2).

A fixed window per application counted in Redis, so every web process shares one count: by
default 100 calls per 60 s, the limit configurable per application. The window index comes from
the wall clock, so a controlled clock moves it in tests and Redis expiry only cleans up.
"""

from __future__ import annotations

import math
import time

from django.conf import settings

from applications.errors import GatewayError
from applications.models import Application
from applications.redis import get_redis, key


def check_rate(application: Application) -> None:
    """Count one call; raise 403 1010004 with Retry-After once the window's limit is passed."""
    window = settings.NORTHBOUND_RATE_WINDOW
    now = time.time()
    index = int(now // window)
    counter = key("rate", application.pk, index)
    pipe = get_redis().pipeline(transaction=False)
    pipe.incr(counter)
    pipe.expire(counter, window + 5)
    count, _ = pipe.execute()
    if count > application.api_rate_limit:
        retry_after = max(1, math.ceil((index + 1) * window - now))
        raise GatewayError("1010004", retry_after=retry_after)
