"""Malformed and refused device traffic: counted by kind, logged at most once per (kind, source) per
interval, never with a traceback.

A device (or anyone) can send the ingress as many bad datagrams, records or packets as it likes; each
one that produced a log line (let alone aiocoap's 24-line traceback for a Uri-Path that is not UTF-8)
would be a cheap way to fill the disks. Every transport reports its refusals here instead:

- `Refusals.refuse(kind, source, reason)` counts the refusal under `kind` in the process's figures
  (the worker's or the MQTT server's `stats` counter, as `refused_<kind>`), and logs it with the reason
  unless the same kind from the same source (an IP address, not a port: a fuzzer changes ports) was
  logged less than `INGRESS_REFUSAL_LOG_SECONDS` ago; the next line says how many were left out.
- `flush()` adds the counts since the last flush to one Redis hash (`refusal_counts_key()`), so the
  figures of every worker process can be read in one place (`redis-cli HGETALL <prefix>ingress:refused`).

Kinds in use: `coap_unparsable` (not CoAP: too short, wrong version, options cut short), `coap_option`
(an option value that does not decode, such as a Uri-Path that is not UTF-8), `coap_dispatch` (a
message that decoded but made our handling fail: a bug, logged with its traceback once per interval),
`dtls_handshake` (a failed handshake), `dtls_record` (a record that does not belong to the session),
`dtls_flood` (handshake state refused: too many half-open handshakes), `mqtt_connect_timeout`,
`mqtt_keepalive`, `mqtt_address_limit`, `mqtt_auth` (credentials refused: counted
by the MQTT server, which logs it itself), `mqtt_connect_invalid` (not a CONNECT, a malformed one, or the
socket closed before it), `mqtt_session_error` (an error amqtt did not handle: logged with its
traceback once per interval).
"""

from __future__ import annotations

import collections
import logging
import threading
import time

from django.conf import settings

from applications.redis import get_redis, key

# How many (kind, source) pairs the rate limiter remembers; the oldest are forgotten first.
REMEMBERED_SOURCES = 10000


def refusal_counts_key() -> str:
    return key("ingress", "refused")


class Refusals:
    """Counts refusals by kind and logs them at most once per (kind, source) per interval."""

    def __init__(self, logger: logging.Logger, counts: collections.Counter | None = None) -> None:
        self.log = logger
        self.counts: collections.Counter = counts if counts is not None else collections.Counter()
        self.unflushed: collections.Counter = collections.Counter()
        self.logged: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()
        self.left_out: collections.Counter = collections.Counter()
        self.lock = threading.Lock()  # DTLS handshakes report from their threads

    def refuse(self, kind: str, source: str, reason: str, *, traceback: BaseException | None = None) -> bool:
        """Count one refusal; log it unless this (kind, source) was logged within the interval.
        Returns whether it was logged."""
        now = time.time()
        pair = (kind, source)
        with self.lock:
            self.counts[f"refused_{kind}"] += 1
            self.unflushed[kind] += 1
            last = self.logged.get(pair)
            if last is not None and now - last < settings.INGRESS_REFUSAL_LOG_SECONDS:
                self.left_out[pair] += 1
                return False
            left_out = self.left_out.pop(pair, 0)
            self.logged[pair] = now
            self.logged.move_to_end(pair)
            while len(self.logged) > REMEMBERED_SOURCES:
                forgotten, _ = self.logged.popitem(last=False)
                self.left_out.pop(forgotten, None)
        more = f" ({left_out} more like it since the last line)" if left_out else ""
        self.log.warning("refused %s from %s: %s%s", kind, source, reason, more, exc_info=traceback)
        return True

    def flush(self) -> None:
        """Add the counts since the last flush to the shared Redis hash (one round trip)."""
        with self.lock:
            counts, self.unflushed = self.unflushed, collections.Counter()
        if not counts:
            return
        pipe = get_redis().pipeline(transaction=False)
        for kind, count in counts.items():
            pipe.hincrby(refusal_counts_key(), kind, count)
        try:
            pipe.execute()
        except Exception:
            with self.lock:
                self.unflushed.update(counts)  # kept for the next flush
            raise


def source_of(address: tuple | str | None) -> str:
    """The IP address of a socket address, v4-mapped IPv6 shown as IPv4."""
    host = address[0] if isinstance(address, tuple) else (address or "?")
    return host[7:] if isinstance(host, str) and host.startswith("::ffff:") else str(host)
