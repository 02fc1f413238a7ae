"""Where the layers above devices plug into device traffic, without devices importing them.

The ingress (and later MQTT) calls `uplink_stored`, `pcp_received` and `downlink_outcome`; the
commands and firmware apps register handlers in their AppConfig.ready(). Handlers run in the process
that saw the event (the ingress), in a worker thread where the ORM may be used, after the event's
transaction committed. A handler that raises is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownlinkOutcome:
    """What became of one payload queued with devices.downlink.queue_downlink.

    `outcome` is one of:
    - "acked": the device acknowledged the CON message (a command becomes DELIVERED);
    - "reset": the device answered with a reset (it does not know the resource or the exchange);
    - "timeout": no answer after CoAP's retransmissions (ACK timeout x random factor, doubled each time);
    - "error": the device answered with an error code (`code`, e.g. "4.04"), or sending failed;
    - "undeliverable": no ingress worker holds a session for the device (never connected, or expired).
    """

    request_id: str
    device_pk: int
    outcome: str
    code: str = ""
    detail: str = ""


UplinkHandler = Callable[[Any, list[Any]], None]
ResponseHandler = Callable[[Any, dict[str, Any]], None]
PcpHandler = Callable[[Any, bytes], None]
OutcomeHandler = Callable[[DownlinkOutcome], None]

_uplink_handlers: list[UplinkHandler] = []
_uplinks_handlers: list[Callable[[list[tuple[Any, list[Any]]]], None]] = []
_response_handlers: list[ResponseHandler] = []
_pcp_handlers: list[PcpHandler] = []
_outcome_handlers: list[OutcomeHandler] = []
_awake_handlers: list[Callable[[list[Any]], None]] = []
_status_handlers: list[Callable[[list[tuple[Any, str | None, str]]], None]] = []


def on_uplink_stored(handler: UplinkHandler) -> UplinkHandler:
    """handler(device, reports): a report was stored; the commands layer sends cached commands now (F-5.2)."""
    _uplink_handlers.append(handler)
    return handler


def on_uplinks_stored(handler: Callable[[list[tuple[Any, list[Any]]]], None]) -> Callable:
    """handler([(device, reports), ...]): a batch of stored reports (the ingress stores in batches).
    Prefer this to on_uplink_stored on the hot path: one call, so one query, per batch."""
    _uplinks_handlers.append(handler)
    return handler


def on_device_response(handler: ResponseHandler) -> ResponseHandler:
    """handler(device, decoded): the codec decoded a deviceRsp (`mid`, `errcode`, `body`) to a command."""
    _response_handlers.append(handler)
    return handler


def on_pcp_message(handler: PcpHandler) -> PcpHandler:
    """handler(device, payload): a Huawei PCP message (software (MCU) upgrade protocol, 0xFFFE...) arrived."""
    _pcp_handlers.append(handler)
    return handler


def on_downlink_outcome(handler: OutcomeHandler) -> OutcomeHandler:
    """handler(DownlinkOutcome): a queued downlink was acknowledged, reset, timed out or undeliverable."""
    _outcome_handlers.append(handler)
    return handler


def on_device_awake(handler: Callable[[list[Any]], None]) -> Callable[[list[Any]], None]:
    """handler(devices): LwM2M queue-mode devices woke (a registration or its update): what waited for
    them may go now, in their wake window (the commands layer sends their cached commands)."""
    _awake_handlers.append(handler)
    return handler


def on_status_changed(handler: Callable[[list[tuple[Any, str | None, str]]], None]) -> Callable:
    """handler([(device, previous status or None when unknown, new status), ...]): devices changed
    status (a report brought one ONLINE, the sweep took some ABNORMAL or OFFLINE); after commit."""
    _status_handlers.append(handler)
    return handler


def _call_all(handlers: list[Callable[..., None]], *args: Any) -> None:
    for handler in list(handlers):
        try:
            handler(*args)
        except Exception:
            log.exception("device hook %r failed", handler)


def uplink_stored(device: Any, reports: list[Any]) -> None:
    """One stored report: a batch of one, so batch handlers hear of it too."""
    uplinks_stored([(device, reports)])


def uplinks_stored(items: list[tuple[Any, list[Any]]]) -> None:
    """A batch of stored reports: batch handlers once, per-device handlers for each item."""
    if items:
        _call_all(_uplinks_handlers, items)
    for device, reports in items:
        _call_all(_uplink_handlers, device, reports)


def status_changed(items: list[tuple[Any, str | None, str]]) -> None:
    if items:
        _call_all(_status_handlers, items)


def response_received(device: Any, decoded: dict[str, Any]) -> None:
    _call_all(_response_handlers, device, decoded)


def pcp_received(device: Any, payload: bytes) -> None:
    _call_all(_pcp_handlers, device, payload)


def downlink_outcome(outcome: DownlinkOutcome) -> None:
    _call_all(_outcome_handlers, outcome)


def device_awake(devices: list[Any]) -> None:
    if devices:
        _call_all(_awake_handlers, devices)
