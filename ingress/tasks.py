"""Periodic ingress work: uplinks kept undecoded over a codec budget are decoded later (ingress.undecoded)."""

from __future__ import annotations

from celery import shared_task

from ingress.undecoded import decode_kept as _decode_kept


@shared_task(name="ingress.decode_kept", ignore_result=True)
def decode_kept() -> dict[str, int]:
    """Decode kept uplinks of applications within their codec budget again (idempotent: SKIP LOCKED)."""
    return _decode_kept()
