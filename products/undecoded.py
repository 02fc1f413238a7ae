"""Uplinks the ingress kept undecoded because the product's application was over its codec budget
(ingress.budget, issue 19): a counter per product in Redis for the last UNDECODED_SECONDS, which the
codec page shows as a banner, so the developer learns why data stopped and that the uplinks are kept.

One key per product with an expiry (`INCRBY` and `EXPIRE` in one pipeline): no table, no query on the
device logs, and the count fades out once the codec is within its budget again.
"""

from __future__ import annotations

from collections.abc import Mapping

from applications.redis import get_redis, key

UNDECODED_SECONDS = 3600


def _key(product_pk: int) -> str:
    return key("codec-undecoded", product_pk)


def note_undecoded(counts: Mapping[int, int]) -> None:
    """Add {product pk: uplinks kept undecoded} from one batch (one round trip)."""
    if not counts:
        return
    pipe = get_redis().pipeline(transaction=False)
    for product_pk, count in counts.items():
        pipe.incrby(_key(product_pk), count)
        pipe.expire(_key(product_pk), UNDECODED_SECONDS)
    pipe.execute()


def recent_undecoded(product_pk: int) -> int:
    """How many of the product's uplinks were kept undecoded in about the last hour."""
    value = get_redis().get(_key(product_pk))
    return int(value) if value else 0
