"""The hostile-input guard's cost on the northbound hot path, next to the same request without it.

What it measures, in one process, CPU only (no server, no database): Django's
`HostileInputMiddleware` (applications.guard) around a view that only reads the query and the body
(as every DRF view does, so reading them is not counted against the guard), for the requests the
northbound API sees most: a command creation (a small JSON body), a device list (query parameters),
and a body that trips the byte search (a 20-digit string, legal) so it is parsed; each next to the
same request through the view alone (the baseline), interleaved over rounds, the median shown.

    DATABASE_URL=postgres://unused/unused REDIS_URL=redis://unused .venv/bin/python bench/guard_bench.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from applications.guard import HostileInputMiddleware  # noqa: E402

CALLS = 20_000
ROUNDS = 5


def view(request):
    # What every northbound view does anyway (DRF reads the query and the body): the guard reads them
    # first, and Django keeps them on the request, so only the guard's own work is the difference.
    request.GET  # noqa: B018
    request.body  # noqa: B018
    return HttpResponse(b"")


def requests():
    factory = RequestFactory()
    command = {
        "deviceId": "4dbbc905-6012-432d-a1b0-a9718fc168be",
        "command": {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}},
        "expireTime": 0,
    }
    suspect = {**command, "command": {**command["command"], "paras": {"iccid": "89860412345678901234"}}}
    return {
        "POST deviceCommands (JSON body)": lambda: factory.post(
            "/iocm/app/cmd/v1.4.0/deviceCommands", json.dumps(command), content_type="application/json"
        ),
        "GET devices (query parameters)": lambda: factory.get(
            "/iocm/app/dm/v1.4.0/devices", {"pageNo": "0", "pageSize": "100", "status": "ONLINE"}
        ),
        "POST with a 20-digit string (parsed)": lambda: factory.post(
            "/iocm/app/cmd/v1.4.0/deviceCommands", json.dumps(suspect), content_type="application/json"
        ),
    }


def per_call(handler, make) -> float:
    built = [make() for _ in range(CALLS)]  # request construction is not measured
    started = time.process_time()
    for request in built:
        handler(request)
    return (time.process_time() - started) / CALLS * 1e6


def main() -> None:
    guarded = HostileInputMiddleware(view)
    print(f"{CALLS} calls x {ROUNDS} rounds, CPU microseconds per call (median), Python {sys.version.split()[0]}")
    print(f"{'request':40} {'view alone':>10} {'with guard':>10} {'guard costs':>12}")
    for name, make in requests().items():
        bare, guard = [], []
        for _ in range(ROUNDS):
            bare.append(per_call(view, make))
            guard.append(per_call(guarded, make))
        base, with_guard = statistics.median(bare), statistics.median(guard)
        print(f"{name:40} {base:10.2f} {with_guard:10.2f} {with_guard - base:12.2f}")


if __name__ == "__main__":
    main()
