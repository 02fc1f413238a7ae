"""The compiled index finds exactly the conditions a loop over every rule would: checked against brute force."""

from __future__ import annotations

import random

from rules.engine import Cond, PathIndex


def test_the_sorted_index_touches_what_brute_force_finds():
    rng = random.Random(7)
    conds = []
    for number in range(300):
        operator = rng.choice([">", ">=", "<", "<=", "=", "!=", "between", "changedBy"])
        cond = Cond(number, 0, "DEVICE_DATA", operator=operator)
        if operator == "between":
            low = rng.randint(-50, 50)
            cond.low, cond.high = low, low + rng.randint(0, 30)
        else:
            cond.threshold = rng.randint(-50, 50) if operator != "changedBy" else rng.randint(0, 40)
            cond.text = str(cond.threshold)
        conds.append(cond)
    index = PathIndex()
    for cond in conds:
        index.add(cond)

    for _ in range(2000):
        previous, value = rng.choice([None, "x", *range(-60, 61)]), rng.choice([None, "7", *range(-60, 61)])
        expected = {
            c.rule_pk
            for c in conds
            if c.compare(value, previous) or (c.operator != "changedBy" and c.compare(previous))
        }
        found = {c.rule_pk for c in index.touched(previous, value)}
        # The index may hand over a few more (a prefix covering both), never fewer.
        assert expected <= found, (previous, value, expected - found)
        assert all(c.compare(value, previous) or c.compare(previous) for c in conds if c.rule_pk in found), (
            previous,
            value,
        )
