"""What every kind of plugin offers the runtime: decode many payloads, encode one message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from products.codecs.errors import CodecError


@dataclass(slots=True)
class Outcome:
    """One payload's or one message's result: a value, or the error; and what the plugin logged."""

    value: Any = None
    error: CodecError | None = None
    logs: list[str] = field(default_factory=list)


class Plugin(Protocol):
    kind: str

    def decode_many(
        self,
        payloads: Sequence[bytes],
        *,
        ports: Sequence[int | None] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> list[Outcome]:
        """deviceReq or deviceRsp for each payload, in order; errors per payload, never raised.

        `ports` (one per payload, None for the default) and `variables` reach the codecs that take them
        (TTN and ChirpStack); the others ignore them.
        """
        ...

    def encode(
        self, message: Mapping[str, Any], *, fport: int | None = None, variables: Mapping[str, str] | None = None
    ) -> Outcome:
        """bytes for a cloudReq; bytes or None (no ACK, F-3.7) for a cloudRsp with `request` as bytes."""
        ...

    def decode_with_acks(
        self, payloads: Sequence[bytes], *, ports: Sequence[int | None] | None = None
    ) -> list[tuple[Outcome, Outcome]]:
        """For each payload, its decode Outcome and its report ACK's (cloudRsp, errcode 0): the ingress's
        call, so a JavaScript plugin does both in one crossing into V8."""
        ...
