"""Per-minute counters: batches add up per application and minute; a window reads whole minutes only."""

from __future__ import annotations

import datetime as dt

from applications import metrics
from applications.redis import get_redis, key

T0 = dt.datetime(2026, 3, 1, 8, 0, 15, tzinfo=dt.UTC)


def test_batches_add_up_per_application_and_minute():
    metrics.add(metrics.UPLINKS, {1: 3, 2: 5}, now=T0)
    metrics.add(metrics.UPLINKS, {1: 4}, now=T0 + dt.timedelta(seconds=40))  # same minute
    metrics.add(metrics.UPLINKS, {1: 2}, now=T0 + dt.timedelta(minutes=1))

    at = T0 + dt.timedelta(minutes=2)
    assert metrics.recent([metrics.UPLINKS], 1, minutes=3, now=at) == {metrics.UPLINKS: [0, 7, 2]}
    assert metrics.recent([metrics.UPLINKS], 2, minutes=3, now=at) == {metrics.UPLINKS: [0, 5, 0]}


def test_the_current_minute_is_not_read_until_it_is_whole():
    metrics.add(metrics.UPLINKS, {1: 9}, now=T0)
    assert metrics.recent([metrics.UPLINKS], 1, minutes=1, now=T0) == {metrics.UPLINKS: [0]}
    assert metrics.recent([metrics.UPLINKS], 1, minutes=1, now=T0 + dt.timedelta(minutes=1)) == {metrics.UPLINKS: [9]}


def test_minutes_expire():
    metrics.add_many({metrics.UPLINKS: {1: 1}, metrics.PUSHES_FAILED: {1: 0}}, now=T0)
    minute = int(T0.timestamp()) // 60
    assert 0 < get_redis().ttl(key("metrics", metrics.UPLINKS, minute)) <= metrics.KEEP_SECONDS
    assert not get_redis().exists(key("metrics", metrics.PUSHES_FAILED, minute))  # zero counts write nothing
