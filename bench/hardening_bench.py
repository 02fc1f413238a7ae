"""What the hardening adds to hot paths, next to a baseline in the same run.

1. Every portal and northbound call goes through `portal.middleware.AuditContextMiddleware` (the
   client address and the audit context): timed around a bare view, which is the baseline.
2. Every push checks its target address (`subscriptions.callbacks.address_allowed`) once per name
   resolution and before each request to an IP literal: a public address, and a loopback address
   admitted by PUSH_ALLOWED_TARGETS.

In-process, best of 5 rounds; no database or network (the settings still need the variables):

    make bench BENCH=hardening
    DATABASE_URL=postgres://unused/unused REDIS_URL=redis://unused .venv/bin/python bench/hardening_bench.py
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from portal.middleware import AuditContextMiddleware  # noqa: E402
from subscriptions.callbacks import address_allowed  # noqa: E402

CALLS = 200_000


def per_call_us(function) -> float:
    return min(timeit.repeat(function, number=CALLS, repeat=5)) / CALLS * 1e6


def main() -> None:
    request = RequestFactory().get("/iocm/app/am/v1.1.0/applications/x", REMOTE_ADDR="198.51.100.7")
    answer = HttpResponse("ok")

    def view(request):
        return answer

    wrapped = AuditContextMiddleware(view)
    bare = per_call_us(lambda: view(request))
    audited = per_call_us(lambda: wrapped(request))
    print(f"bare view call (baseline)            {bare:8.2f} us")
    print(f"through AuditContextMiddleware       {audited:8.2f} us  (+{audited - bare:.2f} us per call)")
    settings.PUSH_ALLOW_PRIVATE = False
    settings.PUSH_ALLOWED_TARGETS = ["127.0.0.1:9000-9099"]
    public = per_call_us(lambda: address_allowed("93.184.215.14", 443))
    listed = per_call_us(lambda: address_allowed("127.0.0.1", 9000))
    print(f"push guard, public address           {public:8.2f} us")
    print(f"push guard, listed loopback target   {listed:8.2f} us")


if __name__ == "__main__":
    main()
