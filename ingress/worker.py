"""One ingress worker process: aiocoap on the shared CoAP port, thin around the pipeline.

Several workers bind COAP_PORT with SO_REUSEPORT; the kernel hashes each device's address to one of
them. A worker:

- answers registrations (LwM2M `/rd`, Huawei `/t/r`) from a thread pool of its own, so a backlog of
  uplinks never delays a registration (F-1.5: modules give up after 4 s);
- observes the device's uplink resource (`/19/0/0`, `/t/d`) with a random 8-byte token stored in the
  database, so any worker recognises it;
- takes every notification carrying a known token out of aiocoap's message layer before aiocoap sees
  it (aiocoap would acknowledge it on receipt, and answer an unknown token with a reset, which would
  end the module's observation), runs the pipeline on it in a database thread, and acknowledges a
  confirmable notification only once the pipeline has stored it;
- receives downlinks for the devices it holds from its channel-layer channel and sends them with
  aiocoap's retransmission tuned to the original's values, reporting the outcome to devices.hooks.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import gc
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiocoap
from aiocoap import Message, error, resource
from aiocoap.numbers import codes
from aiocoap.numbers.constants import TransportTuning
from aiocoap.numbers.types import ACK, CON, NON, RST
from aiocoap.transports.udp6 import UDP6EndpointAddress
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from applications.redis import get_redis, key
from devices import hooks, logs
from devices.downlink import DOWNLINK_MESSAGE, worker_key
from devices.models import Device, LogKind
from firmware.drivers.lwm2m import UPGRADE_MESSAGE
from ingress import (
    admission,
    aiocoap_adapter,
    endpoints,
    firmware,
    lwm2m_bootstrap,
    lwm2m_gateway,
    lwm2m_management,
    lwm2m_observe,
    object19,
    pipeline,
    sessions,
    threads,
)
from ingress import metrics as ingress_metrics
from ingress.dtls import DTLSAddress, DTLSInterface
from ingress.formats import LINK_FORMAT, FormatError, carries_no_instances, parse_link_format
from ingress.models import Channel
from ingress.refusals import Refusals
from ingress.sessions import Refused, SessionView

log = logging.getLogger("ingress")

# How long a NON downlink's token stays known, for the device's optional NON answer.
NON_ANSWER_SECONDS = 5.0

CODES = {
    "4.00": codes.BAD_REQUEST,
    "4.03": codes.FORBIDDEN,
    "4.04": codes.NOT_FOUND,
    "4.29": codes.TOO_MANY_REQUESTS,
    "5.03": codes.SERVICE_UNAVAILABLE,
}


class PlatformTuning(TransportTuning):
    """The original's retransmission for the platform's confirmable messages (F-5.4), from settings;
    a command's own maxRetransmit (0-3) replaces INGRESS_MAX_RETRANSMIT for its downlink."""

    def __init__(self, reliable: bool = True, max_retransmit: int | None = None) -> None:
        self.ACK_TIMEOUT = settings.INGRESS_ACK_TIMEOUT
        self.ACK_RANDOM_FACTOR = settings.INGRESS_ACK_RANDOM_FACTOR
        self.MAX_RETRANSMIT = settings.INGRESS_MAX_RETRANSMIT if max_retransmit is None else max_retransmit
        self.MAX_LATENCY = settings.INGRESS_MAX_LATENCY
        self.reliability = reliable


@dataclasses.dataclass
class TokenState:
    view: SessionView
    established: bool  # the device answered the observe request: what follows are uplinks
    lwm2m_path: str = ""  # a standard object's mapped path (or "/", composite) observed (ingress.lwm2m_observe)


@dataclasses.dataclass
class Pending:
    """An uplink waiting for the pipeline, and how to answer it."""

    uplink: pipeline.Uplink
    remote: Any
    mid: int
    mtype: Any
    view: SessionView


def plain_host(sockaddr: tuple) -> str:
    host = sockaddr[0]
    return host[7:] if host.startswith("::ffff:") else host


def tune_aiocoap() -> None:
    """Process-wide aiocoap settings (device-protocols.md section 1): a short MAX_LATENCY bounds the
    memory of aiocoap's duplicate cache (our own deduplication covers the 160 s of NB-IoT
    retransmissions), a longer EMPTY_ACK_DELAY keeps answers piggybacked, and a higher GC threshold takes
    the garbage collector off the hot path."""
    TransportTuning.MAX_LATENCY = settings.INGRESS_MAX_LATENCY
    # Answers piggybacked on the ACK unless they take longer than this (aiocoap's default is 0.1 s, after
    # which it sends an empty ACK and a separate response): Wakaama's client never completes a
    # registration answered separately, and a busy registration thread takes more than 0.1 s.
    TransportTuning.EMPTY_ACK_DELAY = settings.INGRESS_EMPTY_ACK_DELAY
    gc.set_threshold(50000, 20, 1000)


class IngressSite(resource.Resource):
    """The root of the CoAP server: routes /rd, /rd/<id> and /t/r to the worker."""

    def __init__(self, worker: IngressWorker) -> None:
        super().__init__()
        self.worker = worker

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        # Packages (/fw/...) answer each Block2 request themselves: any block, from memory (F-7.9).
        return request.opt.uri_path[:1] != ("fw",)

    async def render(self, request: Message) -> Message:
        return await self.worker.handle_request(request)


class IngressWorker:
    """The worker's state and its network loop. `start()` binds, `stop()` releases everything."""

    def __init__(
        self, *, host: str | None = None, port: int | None = None, coaps_port: int | None = 0, name: str = ""
    ) -> None:
        self.host = host or settings.INGRESS_BIND_ADDRESS
        self.port = port or settings.COAP_PORT
        # CoAPS: COAPS_PORT by default (0), another port, or None for none.
        self.coaps_port = settings.COAPS_PORT if coaps_port == 0 else coaps_port
        self.psk_cache: dict[str, tuple[bytes | None, float]] = {}
        self.name = name or f"ingress-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.channel_name = ""
        self.tokens: dict[bytes, TokenState] = {}
        self.device_tokens: dict[int, set[bytes]] = collections.defaultdict(set)
        self.views: dict[int, SessionView] = {}
        # The devices (not sub-devices) by the address of their session: who sent a Send (lwm2m_observe.sender).
        self.addresses: dict[tuple[str, int], int] = {}
        # Mapped paths' tokens observed but not yet stored with the session (ingress.lwm2m_observe).
        self.observing: set[bytes] = set()
        self.observing_devices: set[int] = set()  # ... and the devices whose mapped paths are being observed
        self.without_mapping: set[int] = set()  # ... and those with no mapped path to observe (till they register)
        # Updates that came while the device's mapped paths were being observed (lwm2m_observe.refresh).
        self.refresh_waiting: dict[int, SessionView] = {}
        self.owned: set[int] = set()
        # Devices whose new holder (this worker) is being recorded: their uplinks wait for it (see heard).
        self.hearing: dict[int, asyncio.Task] = {}
        # Devices whose notification format was checked for how they take object 19 downlinks, and the
        # checks under way (a reply to the uplink waits for its device's: _reply).
        self.format_checked: set[int] = set()
        self.format_learning: dict[int, asyncio.Task] = {}
        self.unknown_tokens: collections.OrderedDict[bytes, float] = collections.OrderedDict()
        self.resolving: dict[bytes, list[Message]] = {}
        self.pending_observes: dict[bytes, asyncio.Future] = {}
        self.pending_remotes: dict[bytes, Any] = {}
        self.queues: list[collections.deque[Pending]] = []
        self.wakeups: list[asyncio.Event] = []
        self.queued = 0
        self.stats = collections.Counter()
        self.refusals = Refusals(log, self.stats)  # malformed datagrams: counted, logged once per interval
        self.tasks: list[asyncio.Task] = []
        self.spawned: set[asyncio.Task] = set()
        self.db = ThreadPoolExecutor(settings.INGRESS_DB_THREADS, thread_name_prefix="ingress-db")
        self.registrations = ThreadPoolExecutor(2, thread_name_prefix="ingress-reg")
        self.gate = admission.RegistrationGate(threads=2)  # answered in time or refused at once
        self.misc = ThreadPoolExecutor(2, thread_name_prefix="ingress-misc")
        self.handshakes = ThreadPoolExecutor(2, thread_name_prefix="ingress-dtls")
        self.heartbeats = ThreadPoolExecutor(1, thread_name_prefix="ingress-heartbeat")
        self.context: aiocoap.Context | None = None
        self.packages = firmware.PackageServer(self)

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        tune_aiocoap()
        self.loop = asyncio.get_running_loop()
        self.context = await aiocoap.Context.create_server_context(
            IngressSite(self), bind=(self.host, self.port), transports=["udp6"]
        )
        self.token_manager = self.context.request_interfaces[0]
        self.messages = self.token_manager.token_interface
        self.interface = self.messages.message_interface
        aiocoap_adapter.guard_udp6(self.interface, self.refusals)
        sock = self.interface.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, settings.INGRESS_RCVBUF)
        self.messages.dispatch_message = self._hook(self.messages, self.token_manager)
        self.dtls = None
        if self.coaps_port is not None:
            await self.context._append_tokenmanaged_messagemanaged_transport(
                lambda manager: DTLSInterface.create(
                    manager,
                    host=self.host,
                    port=self.coaps_port,
                    lookup=self.psk,
                    executor=self.handshakes,
                    refusals=self.refusals,
                )
            )
            self.dtls_token_manager = self.context.request_interfaces[-1]
            self.dtls_messages = self.dtls_token_manager.token_interface
            self.dtls = self.dtls_messages.message_interface
            self.dtls_messages.dispatch_message = self._hook(self.dtls_messages, self.dtls_token_manager)
        # A layer of its own: receive() must not be shared with another loop (tests run two workers).
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER) if get_channel_layer() is not None else None
        self.layer = layer
        self.channel_name = await layer.new_channel("ingress.") if layer is not None else self.name
        await self.run_misc(self._heartbeat_once)
        for index in range(max(1, settings.INGRESS_DB_THREADS)):
            self.queues.append(collections.deque())
            self.wakeups.append(asyncio.Event())
            self.tasks.append(asyncio.create_task(self._consume(index), name=f"uplinks-{index}"))
        self.tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        if layer is not None:
            self.tasks.append(asyncio.create_task(self._receive_downlinks(), name="downlinks"))
        log.info("ingress worker %s listening on CoAP [%s]:%s", self.name, self.host, self.port)

    async def stop(self) -> None:
        tasks = [*self.tasks, *self.spawned, *self.hearing.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.context is not None:
            await self.context.shutdown()
        with_redis = self.channel_name
        if with_redis:
            await self.run_misc(lambda: get_redis().delete(worker_key(self.channel_name)))
        for executor in (self.db, self.registrations, self.misc, self.handshakes, self.heartbeats):
            executor.shutdown(wait=True, cancel_futures=True)

    async def run_misc(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ORM or Redis work on the worker's small thread pool (never in the event loop)."""
        return await self.loop.run_in_executor(self.misc, lambda: threads.closing(function, *args, **kwargs))

    def _heartbeat_once(self) -> None:
        # Alive for three intervals (at least 10 s): a loaded machine must not make a live worker look gone.
        seconds = settings.INGRESS_HEARTBEAT_SECONDS
        get_redis().set(worker_key(self.channel_name), self.name, ex=max(3 * seconds, 10))

    def _live_workers(self) -> set[str]:
        prefix = worker_key("")
        redis = get_redis()
        return {name.decode()[len(prefix) :] for name in redis.scan_iter(match=prefix + "*", count=1000)}

    async def _housekeeping(self) -> None:
        """Heartbeat; take over the sessions of workers that are gone and observe them again; expire."""
        rounds = 0
        while True:
            try:
                # Its own thread: a busy misc pool must not delay the heartbeat.
                await self.loop.run_in_executor(self.heartbeats, self._heartbeat_once)
                await self.loop.run_in_executor(self.heartbeats, self.refusals.flush)
                if rounds % 6 == 0:
                    await self.reobserve_orphans()
                if rounds % 12 == 0:
                    await self.run_misc(sessions.expire_sessions)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ingress housekeeping failed")
            rounds += 1
            await asyncio.sleep(settings.INGRESS_HEARTBEAT_SECONDS)

    async def reobserve_orphans(self) -> int:
        """After a restart: observe again the devices whose worker is gone, with the token they already
        use (RFC 7641: the same token refreshes the observation, so no token the device may still be
        using is ever dropped). The answer may reach another worker (the kernel picks by the device's
        address), which recognises the ACK's token from the database."""
        total = 0
        rate = max(1, settings.INGRESS_REOBSERVE_RATE)
        while True:
            live = await self.run_misc(self._live_workers)
            claimed = await self.run_misc(sessions.claim_orphans, self.channel_name, live, rate)
            for view in claimed:
                self._remember(view, view.previous_token, established=True)
                # Established: whatever comes on this token is an uplink, even while our GET is pending (the
                # device may notify before it sees it; whether its first answer was recorded is a race).
                self._spawn(self.observe(view, view.observe_token, established=True))
            total += len(claimed)
            if len(claimed) < rate:
                if total:
                    log.info("re-observing %d devices of workers that are gone", total)
                return total
            await asyncio.sleep(1)

    # --- the message layer hook --------------------------------------------------------------------
    def _hook(self, manager: Any, token_manager: Any) -> Callable[[Message], None]:
        original = manager.dispatch_message
        original_error = manager.dispatch_error

        def dispatch(message: Message) -> None:
            self.dispatch_message(message, original, token_manager)

        def dispatch_error(problem: BaseException, remote: Any) -> None:
            # An ICMP error for a device ends aiocoap's exchanges with it; our observe waits too.
            for token, pending_remote in list(self.pending_remotes.items()):
                waiter = self.pending_observes.get(token)
                if pending_remote == remote and waiter is not None and not waiter.done():
                    waiter.set_exception(error.NetworkError(str(problem)))
            original_error(problem, remote)

        manager.dispatch_error = dispatch_error
        return dispatch

    def _manager(self, remote: Any) -> Any:
        return self.dtls_messages if isinstance(remote, DTLSAddress) else self.messages

    def psk(self, identity: str) -> bytes | None:
        """The key of the device whose nodeId is `identity` (DTLS handshakes ask from a thread), or the
        bootstrap server's (ingress.lwm2m_bootstrap)."""
        bootstrap = lwm2m_bootstrap.bootstrap_key(identity)
        if bootstrap is not None:
            return bootstrap
        cached = self.psk_cache.get(identity)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            # An IMEI, or urn:imei:<IMEI>... (ingress.endpoints)
            only_keys = Device.objects.only("node_id", "psk_encrypted")
            device = sessions.find_device(endpoints.parse(identity), only_keys)
            key = bytes.fromhex(device.psk) if device is not None and device.psk else None
        except ValueError:
            key = None
        finally:
            close_old_connections()
        if key is None:
            log.info("DTLS handshake with unknown identity %r", identity)
        self.psk_cache[identity] = (key, time.monotonic() + 30)
        while len(self.psk_cache) > 100000:
            self.psk_cache.pop(next(iter(self.psk_cache)))
        return key

    def dispatch_message(self, message: Message, original: Callable[[Message], None], token_manager: Any) -> None:
        """Runs for every datagram aiocoap decoded, before aiocoap's own message layer."""
        if message.code.is_response() and message.token:
            message.received_at = timezone.now()
            state = self.tokens.get(message.token)
            if state is not None:
                self._observe_message(message, state)
                return
            if (
                message.mtype in (CON, NON)
                and message.opt.observe is not None
                and (message.token, message.remote) not in (token_manager.outgoing_requests or {})
            ):
                self._resolve(message)
                return
        original(message)

    def _resolve(self, message: Message) -> None:
        """A notification on a token this process does not know: look it up before answering."""
        token = message.token
        if token in self.unknown_tokens:
            self._reset(message)
            return
        if token in self.resolving:
            if len(self.resolving[token]) < 8:
                self.resolving[token].append(message)
            return
        if len(self.resolving) >= 1000:
            self.stats["resolve_overflow"] += 1
            return  # no answer: the device retransmits
        self.resolving[token] = [message]
        self.loop.create_task(self._resolve_token(token))

    async def _resolve_token(self, token: bytes) -> None:
        try:
            view = await self.run_misc(sessions.by_token, token)
        except Exception:
            log.exception("token lookup failed")
            view = None
            self.resolving.pop(token, None)
            return  # unanswered: the device retransmits
        waiting = self.resolving.pop(token, [])
        if view is None:
            self.unknown_tokens[token] = time.monotonic()
            while len(self.unknown_tokens) > 10000:
                self.unknown_tokens.popitem(last=False)
            for message in waiting:
                self._reset(message)
            return
        established = not (token == view.observe_token and not view.observed)
        self._remember(view, token, established=established)
        for message in waiting:
            self._observe_message(message, self.tokens[token])

    def _reset(self, message: Message) -> None:
        if message.mtype is CON:
            rst = Message(code=codes.EMPTY, payload=b"")
            rst.mtype, rst.mid = RST, message.mid
            rst.remote = message.remote.as_response_address()
            self._manager(message.remote)._send_initially(rst)

    def _ack(self, remote: Any, mid: int) -> None:
        self._manager(remote)._send_empty_ack(remote, mid, "uplink handled")

    def _remember(self, view: SessionView, token: bytes | None, *, established: bool) -> None:
        self._index(view)
        tokens = self.device_tokens[view.device_pk]
        # The mapped paths' observations stored with the session (ingress.lwm2m_observe): after a restart, the
        # view that resolved one of their tokens (sessions.by_token) teaches the worker all of them.
        mapped = {observation.token: observation.path for observation in view.observations}
        for mapped_token, path in mapped.items():
            tokens.add(mapped_token)
            if mapped_token not in self.tokens:
                self.tokens[mapped_token] = TokenState(view, established=True, lwm2m_path=path)
        if token is not None:
            tokens.add(token)
            self.tokens[token] = TokenState(view, established, lwm2m_path=mapped.get(token, ""))
        # Keep the current and previous tokens of a device, forget older ones (and a conformant client's
        # previous one, which a new registration drops: sessions.register); keep the mapped paths' tokens the
        # session holds and those being observed, forget the others (a new registration has none yet).
        keep = {view.observe_token, view.previous_token, token, *mapped, *(tokens & self.observing)}
        for old in list(tokens - keep):
            tokens.discard(old)
            self.tokens.pop(old, None)
        for other in tokens:
            if other in self.tokens:
                self.tokens[other].view = view

    def forget_tokens(self, device_pk: int, tokens: list[bytes]) -> None:
        """Tokens the device no longer observes on (a refused observe, a registration that moved on)."""
        for token in tokens:
            self.observing.discard(token)
            self.device_tokens[device_pk].discard(token)
            self.tokens.pop(token, None)

    def _index(self, view: SessionView) -> None:
        """The view the worker keeps of the device, and the device by its address (for a Send: sender())."""
        previous = self.views.get(view.device_pk)
        self.views[view.device_pk] = view
        if view.gateway_pk is not None:
            return  # a gateway's sub-device shares its gateway's address: a Send from there is the gateway's
        moved = previous is not None and (previous.host, previous.port) != (view.host, view.port)
        if moved and self.addresses.get((previous.host, previous.port)) == view.device_pk:
            del self.addresses[(previous.host, previous.port)]
        self.addresses[(view.host, view.port)] = view.device_pk

    def _observe_message(self, message: Message, state: TokenState) -> None:
        token = message.token
        waiter = self.pending_observes.pop(token, None)
        if message.mtype is ACK:
            # The answer to an observe request, piggybacked on the ACK: the observation stands. It
            # carries the resource's current value, not an uplink. An ACK answering another worker's
            # request is recognised by its token alone (the kernel may hash the device to us).
            self._manager(message.remote)._remove_exchange(message)  # stops retransmitting our GET
            state.established = message.code.is_successful()
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            else:
                self._spawn(self._established(state.view, token, message))
            return
        # A CON or NON response on our token is an uplink, even while an observe GET is pending: a
        # module may notify before it sees the GET, and whether a GET was answered is not known until
        # its ACK arrives. (A device answering the GET with an empty ACK and then a separate response
        # has that response's value stored as an uplink: a repeated value rather than a lost one.)
        if waiter is not None and not waiter.done():
            waiter.set_result(message)  # the observation is alive
        state.established = True
        if not message.code.is_successful() or not message.payload:
            # The device ended the observation (e.g. 4.04), or sent nothing: nothing to store.
            if message.mtype is CON:
                self._ack(message.remote, message.mid)
            self.stats["observation_ended"] += 1
            return
        view = state.view
        if view.gateway_pk is not None and not view.listed:
            # A gateway notifies for a prefix it no longer lists: refused, and the reset ends the observation.
            self.stats["gateway_unlisted_refused"] += 1
            self._reset(message)
            self._spawn(self.run_misc(lwm2m_gateway.refuse_unlisted, view))
            return
        host, port = plain_host(message.remote.sockaddr), message.remote.sockaddr[1]
        if (host, port) != (view.host, view.port) or view.device_pk not in self.owned:
            view = dataclasses.replace(view, host=host, port=port)
            self._remember(view, token, established=True)
            self.owned.add(view.device_pk)
            hearing = self.loop.create_task(
                self.run_misc(
                    sessions.heard,
                    view.device_pk,
                    worker=self.channel_name,
                    host=host,
                    port=port,
                    lifetime=view.lifetime,
                    at=timezone.now(),
                )
            )
            hearing.add_done_callback(_log_failure)
            self.hearing[view.device_pk] = hearing
        if self.queued >= settings.INGRESS_MAX_PENDING:
            # Overloaded: do not acknowledge (the device retransmits later); memory stays bounded.
            self.stats["overload"] += 1
            return
        self._learn_from_format(view, message.opt.content_format)
        uplink = pipeline.Uplink(
            device_pk=view.device_pk,
            payload=message.payload,
            content_format=message.opt.content_format,
            message_id=message.mid,
            # A sub-device's data come over its gateway's DTLS session, with the gateway's identity.
            secure=isinstance(message.remote, DTLSAddress)
            and message.remote.identity in (view.node_id, view.gateway_node_id, view.dtls_identity),
            transport=("LwM2M gateway" if view.gateway_pk else "LwM2M") if view.channel == Channel.LWM2M else "CoAP",
            gateway_pk=view.gateway_pk,
            channel=state.lwm2m_path or view.observed_path,  # the codec's fPort by resource (products.codecs.ports)
            lwm2m_path=state.lwm2m_path,
        )
        pending = Pending(uplink, message.remote, message.mid, message.mtype, view)
        hearing = self.hearing.get(view.device_pk)
        if hearing is not None and not hearing.done():
            # The device just came to this worker (another node or worker died, or the balancer moved
            # it): its uplink's hooks send its waiting commands, which must find this worker as the
            # device's holder (devices.downlink.holder), so the uplink waits for that to be recorded.
            # Each waits for the one before it (the last one is the device's entry), so order is kept.
            waiting = self.loop.create_task(self._enqueue_after(hearing, pending))
            waiting.add_done_callback(_log_failure)
            self.hearing[view.device_pk] = waiting
        else:
            self.hearing.pop(view.device_pk, None)
            self.enqueue(pending)

    async def _enqueue_after(self, before: asyncio.Task, pending: Pending) -> None:
        await asyncio.wait([before])
        self.enqueue(pending)

    def _store_observed_value(self, view: SessionView, answer: Message) -> None:
        """The observe's piggybacked answer: its value is an uplink (no ACK to send: it is one)."""
        self.stats["first_value"] += 1
        uplink = pipeline.Uplink(
            device_pk=view.device_pk,
            payload=answer.payload,
            content_format=answer.opt.content_format,
            message_id=None,  # the ACK's message id is the platform's own: not the device's to deduplicate
            secure=isinstance(answer.remote, DTLSAddress) and answer.remote.identity == view.dtls_identity,
            transport="LwM2M gateway" if view.gateway_pk else "LwM2M",
            gateway_pk=view.gateway_pk,
        )
        self.enqueue(Pending(uplink, answer.remote, answer.mid, answer.mtype, view))

    def _learn_from_format(self, view: SessionView, content_format: int | None) -> None:
        """A notification in a format that carries resource instances tells how the device takes object 19
        downlinks (sessions.learn_from_format): checked once per device and worker, off the loop."""
        if (
            content_format in object19.MULTIPLE_VALUE_FORMATS
            and view.channel == Channel.LWM2M
            and view.gateway_pk is None
            and object19.huawei_form(view.downlink_forms)
            and view.device_pk not in self.format_checked
        ):
            self.format_checked.add(view.device_pk)
            task = self.loop.create_task(self._learned_from_format(view.device_pk, content_format))
            task.add_done_callback(_log_failure)
            self.format_learning[view.device_pk] = task
            task.add_done_callback(lambda _, device_pk=view.device_pk: self.format_learning.pop(device_pk, None))

    async def _learned_from_format(self, device_pk: int, content_format: int) -> None:
        forms = await self.run_misc(sessions.learn_from_format, device_pk, content_format)
        view = self.views.get(device_pk)
        if forms is not None and view is not None:
            self.stats["downlink_form_from_format"] += 1
            self._remember(dataclasses.replace(view, downlink_forms=forms), None, established=True)

    async def _established(self, view: SessionView, token: bytes, message: Message) -> None:
        host, port = plain_host(message.remote.sockaddr), message.remote.sockaddr[1]
        at = getattr(message, "received_at", None) or timezone.now()
        await self.run_misc(
            sessions.observed,
            view.device_pk,
            token,
            worker=self.channel_name,
            host=host,
            port=port,
            code=str(message.code.dotted),
            at=at,
        )
        self.owned.add(view.device_pk)

    def _spawn(self, awaitable: Any) -> None:
        task = self.loop.create_task(awaitable)
        self.spawned.add(task)
        task.add_done_callback(self.spawned.discard)
        task.add_done_callback(_log_failure)

    # --- uplinks -----------------------------------------------------------------------------------
    def enqueue(self, pending: Pending) -> None:
        index = pending.uplink.device_pk % len(self.queues)  # one device, one queue: order is kept
        self.queues[index].append(pending)
        self.queued += 1
        self.wakeups[index].set()

    async def _consume(self, index: int) -> None:
        queue, wakeup = self.queues[index], self.wakeups[index]
        batch_size = settings.INGRESS_BATCH_SIZE
        while True:
            await wakeup.wait()
            wakeup.clear()
            while queue:
                batch = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
                # LwM2M queue mode: an uplink opens the device's wake window before its cached commands
                # are looked for (after the pipeline stored it); what was held for it goes after.
                queued = sorted({pending.view.device_pk for pending in batch if pending.view.queue_mode})
                started = time.perf_counter()
                try:
                    outcomes = await self.loop.run_in_executor(
                        self.db, _wake_and_handle, queued, [pending.uplink for pending in batch]
                    )
                    outcomes, held = outcomes
                except Exception:
                    log.exception("uplink batch failed")
                    outcomes = [pipeline.Outcome(pipeline.FAILED, acknowledge=False)] * len(batch)
                    held = {}
                finally:
                    self.queued -= len(batch)
                for messages in held.values():
                    for message in messages:
                        self._spawn(self._downlink(message))
                for pending, outcome in zip(batch, outcomes, strict=True):
                    self.stats[outcome.result] += 1
                    if pending.mtype is CON and outcome.acknowledge:
                        self._ack(pending.remote, pending.mid)
                    if outcome.reply is not None:
                        self._spawn(self._reply(pending.view, outcome))
                ingress_metrics.batch_done(batch, outcomes, started, CON)

    async def _reply(self, view: SessionView, outcome: pipeline.Outcome) -> None:
        """The codec's cloudRsp to an uplink, in the object 19 form its notification taught, if it did."""
        learning = self.format_learning.get(view.device_pk)
        if learning is not None:
            await asyncio.wait([learning])
        latest = self.views.get(view.device_pk)
        if latest is not None and latest.downlink_forms != view.downlink_forms:
            view = dataclasses.replace(view, downlink_forms=latest.downlink_forms)
        await self.send_downlink(
            view,
            outcome.reply,
            request_id=None,
            confirmable=settings.INGRESS_CLOUDRSP_CONFIRMABLE,
            method=outcome.reply_method,
        )

    # --- requests: registration --------------------------------------------------------------------
    async def handle_request(self, request: Message) -> Message:
        path = tuple(request.opt.uri_path)
        query = dict(item.partition("=")[::2] for item in request.opt.uri_query)
        try:
            if path == ("rd",) and request.code == codes.POST:
                return await self._register(request, query)
            if len(path) == 2 and path[0] == "rd" and request.code in (codes.POST, codes.PUT):
                return await self._update(request, path[1], query)
            if len(path) == 2 and path[0] == "rd" and request.code == codes.DELETE:
                secure = isinstance(request.remote, DTLSAddress)
                await self.loop.run_in_executor(self.registrations, lambda: sessions.deregister(path[1], secure=secure))
                return Message(code=codes.DELETED)
            if path == ("bs",) and request.code == codes.POST:
                return await lwm2m_bootstrap.request(self, request, query)  # LwM2M bootstrap
            if path == ("dp",) and request.code == codes.POST:
                return await lwm2m_observe.send(self, request)  # LwM2M 1.1 Send
            if path == ("t", "r") and request.code == codes.POST:
                return await self._register_huawei(request, query)
            if len(path) == 2 and path[0] == "fw":
                return await self.packages.serve(request, path[1])
        except Refused as refused:
            return self._refusal(refused)
        except FormatError as bad:
            return Message(code=codes.BAD_REQUEST, payload=str(bad).encode()[:200])
        if path[:1] in (("rd",), ("t",)):
            return Message(code=codes.METHOD_NOT_ALLOWED)
        return Message(code=codes.NOT_FOUND)

    def _refusal(self, refused: Refused) -> Message:
        response = Message(code=CODES.get(refused.code, codes.FORBIDDEN), payload=refused.reason.encode()[:200])
        if refused.retry_after is not None:
            response.opt.max_age = refused.retry_after
        self.stats[f"refused_{refused.code}"] += 1
        return response

    def _where(self, request: Message) -> tuple[str, int]:
        return plain_host(request.remote.sockaddr), request.remote.sockaddr[1]

    def _overloaded(self) -> bool:
        return self.queued >= settings.INGRESS_MAX_PENDING

    async def _register(self, request: Message, query: dict[str, str]) -> Message:
        if self._overloaded():
            raise Refused("5.03", "overloaded, try again", retry_after=5)
        endpoint = query.get("ep")
        if not endpoint:
            raise Refused("4.00", "registration needs the endpoint name (ep=)")
        objects = parse_link_format(request.payload) if request.payload else []
        if request.payload and request.opt.content_format not in (None, LINK_FORMAT):
            raise Refused("4.00", "registration payload must be link format (40)")
        host, port = self._where(request)
        view = await self._admitted(
            lambda: sessions.register(
                channel=Channel.LWM2M,
                node_id=endpoint,
                host=host,
                port=port,
                worker=self.channel_name,
                secure=isinstance(request.remote, DTLSAddress),
                identity=getattr(request.remote, "identity", None),
                lifetime=_int(query.get("lt")),
                binding=_binding(query),
                version=query.get("lwm2m", ""),
                objects=objects,
            ),
        )
        self._after_registration(view)
        if not view.lwm2m_gateway:
            # Standard objects mapped by its product: Write-Attributes and observe (ingress.lwm2m_observe).
            self.loop.call_soon(lambda: self._spawn(lwm2m_observe.start(self, view)))
        if view.lwm2m_gateway:
            # Its object 25 is read once the registration's answer is on its way (ingress.lwm2m_gateway).
            self.loop.call_soon(lambda: self._spawn(lwm2m_gateway.sync(self, view, fresh=True)))
        return Message(code=codes.CREATED, location_path=("rd", view.registration_id))

    async def _update(self, request: Message, registration_id: str, query: dict[str, str]) -> Message:
        objects = parse_link_format(request.payload) if request.payload else None
        host, port = self._where(request)
        view = await self.loop.run_in_executor(
            self.registrations,
            lambda: sessions.update(
                registration_id,
                host=host,
                port=port,
                worker=self.channel_name,
                secure=isinstance(request.remote, DTLSAddress),
                lifetime=_int(query.get("lt")),
                binding=_binding(query) if "b" in query or "Q" in query else None,
                objects=objects,
            ),
        )
        self.owned.add(view.device_pk)
        token = view.observe_token
        self._remember(view, token, established=view.observed)
        # (Not for an LwM2M gateway: its links change with its end devices, and lwm2m_gateway.sync takes them.)
        relisted = (
            view.links_changed
            and not view.lwm2m_gateway
            and objects is not None
            and sessions.lists_path(objects, view.observed_path)
        )
        if (not view.observed or relisted) and token is not None and token not in self.pending_observes:
            # Never answered our observe (asleep then, refused with 4.04 before the instance existed, or a
            # restart): the device is awake now; or its links changed: observed again (the same token
            # replaces the observation, RFC 7641 3.1). A first answer's value is stored (see observe()).
            self._spawn(self.observe(view, token, first=not view.observed))
        if view.channel == Channel.LWM2M and not view.lwm2m_gateway and view.gateway_pk is None:
            # Standard objects mapped by its product: observed again if its objects changed or the
            # observations were lost (ingress.lwm2m_observe.refresh).
            self.loop.call_soon(lambda: self._spawn(lwm2m_observe.refresh(self, view)))
        if view.queue_mode:
            self.loop.call_soon(lambda: self._spawn(self.wake([view.device_pk], registered=True)))
        if view.lwm2m_gateway:
            # New links: its end devices may have changed (object 25 is read again); else its sub-devices'
            # sessions moved with it.
            again = lwm2m_gateway.sync(self, view, fresh=False) if objects else lwm2m_gateway.refresh(self, view)
            self.loop.call_soon(lambda: self._spawn(again))
        return Message(code=codes.CHANGED)

    async def _register_huawei(self, request: Message, query: dict[str, str]) -> Message:
        if self._overloaded():
            raise Refused("5.03", "overloaded, try again", retry_after=5)
        endpoint = query.get("ep")
        if not endpoint:
            raise Refused("4.00", "t/r registration needs ep=<IMEI>")
        host, port = self._where(request)
        view = await self._admitted(
            lambda: sessions.register(
                channel=Channel.HUAWEI,
                node_id=endpoint,
                host=host,
                port=port,
                worker=self.channel_name,
                secure=isinstance(request.remote, DTLSAddress),
                identity=getattr(request.remote, "identity", None),
            ),
        )
        self._after_registration(view)
        return Message(code=codes.CREATED)

    async def _admitted(self, register: Callable[[], SessionView]) -> SessionView:
        """Run a registration on the registration threads if it can be answered in time, else refuse it
        with 5.03 and a spread Max-Age (ingress.admission: the thundering herd after an outage)."""
        arrived = self.gate.admit()
        if arrived is None:
            self.stats["register_backlog"] += 1
            raise Refused("5.03", "registrations backlog, try again", retry_after=self.gate.retry_after())

        def run() -> SessionView:
            started = self.gate.start(arrived)
            if started is None:
                self.stats["register_late"] += 1
                raise Refused("5.03", "registrations backlog, try again", retry_after=self.gate.retry_after())
            try:
                return register()
            finally:
                self.gate.finish(started)

        job = self.registrations.submit(run)
        # A job cancelled before its turn never runs `start`: it leaves the gate here, or the gate would
        # count it as waiting forever and refuse every registration once enough had been cancelled.
        job.add_done_callback(lambda done: done.cancelled() and self.gate.cancel())
        return await asyncio.wrap_future(job)

    def _after_registration(self, view: SessionView) -> None:
        self.owned.add(view.device_pk)
        self._remember(view, view.previous_token, established=True)
        # Observe once the registration's answer is on its way.
        self.loop.call_soon(lambda: self._spawn(self.observe(view, view.observe_token, first=True)))
        if view.queue_mode:
            self.loop.call_soon(lambda: self._spawn(self.wake([view.device_pk], registered=True)))

    async def wake(self, device_pks: list[int], *, registered: bool) -> None:
        """LwM2M queue-mode devices are listening (devices.downlink): what was held for them goes now."""
        held = await self.loop.run_in_executor(
            self.registrations, lambda: sessions.wake(device_pks, registered=registered)
        )
        for messages in held.values():
            for message in messages:
                self._spawn(self._downlink(message))

    # --- observing ----------------------------------------------------------------------------------
    async def observe(
        self,
        view: SessionView,
        token: bytes,
        *,
        confirmable: bool = True,
        attempts: int = 3,
        established: bool = False,
        first: bool = False,
    ) -> bool:
        """GET <uplink resource> with Observe=0 and our token. True once the device accepted it.

        A device may not listen yet right after registering (lwm2m-node-lib opens its server socket
        then; the ICMP error ends aiocoap's retransmission at once): after a network error or no
        answer, the request is sent again, up to `attempts` times, with growing pauses. A reset or an
        error code from the device is final.

        `first`: the observation of a new registration, whose answer carries the resource's current value
        (RFC 7641 section 4.1): a value the device set before its first notification, stored as an uplink."""
        self._remember(view, token, established=established)
        problem: BaseException | None = None
        for attempt in range(attempts):
            request = Message(code=codes.GET, observe=0, transport_tuning=PlatformTuning(confirmable))
            request.opt.uri_path = tuple(part for part in view.observed_path.split("/") if part)
            request.token = token
            request.mtype = CON if confirmable else NON
            request.remote = self.remote(view)
            if request.remote is None:
                problem = error.MessageError("no DTLS session with the device: it must handshake again")
                break
            waiter = self.loop.create_future()
            self.pending_observes[token] = waiter
            self.pending_remotes[token] = request.remote

            def on_reset(waiter: asyncio.Future = waiter) -> None:
                if not waiter.done():
                    waiter.set_exception(error.MessageError("reset"))

            tuning = request.transport_tuning
            try:
                self._manager(request.remote).send_message(request, on_reset)
                limit = tuning.MAX_TRANSMIT_WAIT if confirmable else 2 * tuning.ACK_TIMEOUT
                answer = await asyncio.wait_for(waiter, timeout=limit)
            except error.MessageError as reset:
                problem = reset
                break
            except (TimeoutError, error.Error) as failure:
                problem = failure
                await asyncio.sleep(tuning.ACK_TIMEOUT * 2**attempt)
                continue
            finally:
                self.pending_observes.pop(token, None)
                self.pending_remotes.pop(token, None)
            await self._established(view, token, answer)
            if first and answer.mtype is ACK and answer.code.is_successful():
                self._learn_from_format(view, answer.opt.content_format)
                if not carries_no_instances(answer.opt.content_format, answer.payload):
                    self._store_observed_value(view, answer)
            return answer.code.is_successful()
        current = await self.run_misc(sessions.by_device, view.device_pk)
        if current is not None and current.observe_token == token and current.observed:
            return True  # answered, to another worker
        summary = f"no answer to observing {view.observed_path}: {problem or 'timeout'}"
        await self.run_misc(logs.log_device, view.device_pk, LogKind.INFO, summary)
        return False

    def remote(self, view: SessionView) -> UDP6EndpointAddress | DTLSAddress | None:
        if view.secure:
            # A gateway's sub-device shares the gateway's DTLS session (the gateway's identity).
            identity = view.dtls_identity
            return self.dtls.session_for(view.host, view.port, identity) if self.dtls is not None else None
        host = view.host if ":" in view.host else f"::ffff:{view.host}"
        return UDP6EndpointAddress((host, view.port, 0, 0), self.interface)

    # --- downlinks ----------------------------------------------------------------------------------
    async def _receive_downlinks(self) -> None:
        while True:
            message = await self.layer.receive(self.channel_name)
            if message.get("type") == UPGRADE_MESSAGE:
                sub_operation, updating = int(message["sub_operation"]), bool(message.get("updating"))
                self._spawn(firmware.Lwm2mUpgrade(self, sub_operation, updating=updating).run())
            elif message.get("type") in (DOWNLINK_MESSAGE, lwm2m_management.MANAGE_MESSAGE):
                self._spawn(self._downlink(message))

    async def _downlink(self, message: dict[str, Any]) -> None:
        if message.get("type") == lwm2m_management.MANAGE_MESSAGE:  # LwM2M Read, Write, Execute... (sent or held)
            await lwm2m_management.run(self, message)
            return
        device_pk = int(message["device"])
        view = self.views.get(device_pk) or await self.run_misc(sessions.by_device, device_pk)
        request_id = message.get("request_id")
        if view is not None and message.get("gateway") is not None:
            # A gateway's sub-device: sent at the gateway's current address, to the sub-device's prefix.
            gateway_pk = int(message["gateway"])
            gateway_view = self.views.get(gateway_pk) or await self.run_misc(sessions.by_device, gateway_pk)
            if gateway_view is None or view.gateway_pk != gateway_pk or not view.listed:
                view = None  # undeliverable: the gateway is gone, or no longer lists the sub-device
            else:
                view = dataclasses.replace(
                    view, host=gateway_view.host, port=gateway_view.port, secure=gateway_view.secure
                )
        if view is None:
            await self.run_misc(
                hooks.downlink_outcome,
                hooks.DownlinkOutcome(request_id, device_pk, "undeliverable", detail="no session"),
            )
            return
        if message.get("path"):  # a command mapped to a standard resource: Write or Execute there
            await lwm2m_management.send_mapped(self, view, message)
            return
        await self.send_downlink(
            view,
            bytes.fromhex(message["payload"]),
            request_id=request_id,
            confirmable=message.get("confirmable", True),
            max_retransmit=message.get("max_retransmit"),
            method=message.get("method"),
        )

    async def send_downlink(
        self,
        view: SessionView,
        payload: bytes,
        *,
        request_id: str | None,
        confirmable: bool = True,
        max_retransmit: int | None = None,
        method: str | None = None,
    ) -> str:
        """Send a payload to the device's downlink resource; report the outcome when it has a request id.

        LwM2M writes to object 19 go in the session's first form (ingress.object19); a device that refuses
        it (4.00, 4.05, 4.15) gets the second once, and the one it took is learned for the device."""
        base = view.downlink_path  # /19/1/0, /{prefix}/19/1/0 for a gateway's sub-device, or /t/d
        forms: tuple[str, ...] = (object19.OPAQUE_FORM,)
        if view.channel == Channel.LWM2M:
            method = codes.POST if (method or settings.INGRESS_LWM2M_DOWNLINK) == "execute" else codes.PUT
            if method == codes.PUT:
                forms = view.downlink_forms or forms
        else:
            method = codes.POST
        tried: list[str] = []
        form: str | None = forms[0]
        while form is not None:
            path, content_format, body = (
                object19.request_parts(form, base, payload) if method == codes.PUT else (base, 42, payload)
            )
            outcome, code, detail = await self._send_once(
                view, method, path, content_format, body, confirmable=confirmable, max_retransmit=max_retransmit
            )
            tried.append(form)
            following = object19.next_form(forms, tried, code) if outcome == "error" and method == codes.PUT else None
            if following is None:
                break
            self.stats["downlink_form_fallback"] += 1
            await self.run_misc(
                logs.log_device,
                view.device_pk,
                LogKind.INFO,
                f"the device refused the {form} write to {'/'.join(path)} ({detail}): trying the {following} form",
            )
            form = following
        if len(tried) > 1 and outcome == "acked":
            view = dataclasses.replace(view, downlink_forms=(tried[-1], tried[0]))
            self.views[view.device_pk] = view
            await self.run_misc(sessions.learn_form, view.device_pk, tried[-1])
        self.stats[f"downlink_{outcome}"] += 1
        kind = "cloudRsp ACK" if request_id is None else f"downlink {request_id}"
        summary = f"{kind} to {'/'.join(path)}: {outcome}" + (f" ({detail})" if detail else "")
        report = hooks.DownlinkOutcome(request_id, view.device_pk, outcome, code, detail) if request_id else None
        if request_id is not None or outcome not in ("acked", "sent"):
            # A delivered (or sent NON) cloudRsp ACK is routine (one per uplink): only failures are logged.
            await self.run_misc(threads.after_downlink, view.device_pk, summary, payload, report)
        return outcome

    async def _send_once(
        self,
        view: SessionView,
        method: Any,
        path: tuple[str, ...],
        content_format: int,
        payload: bytes,
        *,
        confirmable: bool,
        max_retransmit: int | None,
    ) -> tuple[str, str, str]:
        """One request to the device: (outcome, the device's answer code, detail)."""
        request = Message(code=method, payload=payload, transport_tuning=PlatformTuning(confirmable, max_retransmit))
        request.opt.uri_path = path
        request.opt.content_format = content_format
        request.remote = self.remote(view)
        outcome, code, detail = "acked" if confirmable else "sent", "", ""
        try:
            if request.remote is None:
                outcome, detail = "undeliverable", "no DTLS session with the device: it must handshake again"
            elif confirmable:
                timeout = request.transport_tuning.MAX_TRANSMIT_WAIT + 1
                # Shielded: cancelling aiocoap's own future breaks its later error dispatch (InvalidStateError).
                pending = self.context.request(request).response
                pending.add_done_callback(_retrieve)
                response = await asyncio.wait_for(asyncio.shield(pending), timeout=timeout)
                code = str(response.code.dotted)
                if not response.code.is_successful():
                    outcome, detail = "error", answer_text(response)
            else:
                # NON: the device may answer (a NON 2.04) but nothing waits for it; aiocoap keeps the
                # request's token only for NON_ANSWER_SECONDS, so unanswered NONs cost no memory later.
                pending = self.context.request(request, handle_blockwise=False).response
                pending.add_done_callback(_retrieve)
                self.loop.call_later(NON_ANSWER_SECONDS, pending.cancel)
        except error.ConRetransmitsExceeded:
            outcome, detail = "timeout", "no acknowledgement after CoAP's retransmissions"
        except TimeoutError:
            outcome, detail = "timeout", "no answer"
        except error.MessageError:
            outcome, detail = "reset", "the device answered with a reset"
        except error.Error as problem:
            outcome, detail = "error", str(problem) or type(problem).__name__
        return outcome, code, detail


def answer_text(response: Message) -> str:
    """ "the device answered 4.00 Bad Request", with its diagnostic payload when it sent one (RFC 7252 5.5.2)."""
    text = f"the device answered {response.code.dotted} {response.code.name_printable}"
    diagnostic = response.payload[:200].decode("utf-8", "replace").strip() if response.payload else ""
    return f"{text}: {diagnostic}" if diagnostic else text


def _binding(query: dict[str, str]) -> str:
    """The binding, with queue mode however the client declared it: `b=UQ` (1.0) or the `Q` parameter (1.1)."""
    binding = query.get("b") or "U"
    return binding + "Q" if "Q" in query and "Q" not in binding else binding


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        raise Refused("4.00", f"{value!r} is not a whole number") from None


def _wake_and_handle(
    queued: list[int], uplinks: list[pipeline.Uplink]
) -> tuple[list[pipeline.Outcome], dict[int, list[dict[str, Any]]]]:
    """The pipeline, after marking the queue-mode devices among the senders awake; and what was held for them."""
    held = sessions.wake(queued, registered=False) if queued else {}
    return pipeline.handle_uplinks(uplinks), held


def _retrieve(future: asyncio.Future) -> None:
    """Mark a future's exception as seen (its waiter may have given up already)."""
    if not future.cancelled():
        future.exception()


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("ingress task failed", exc_info=task.exception())


def stats_key(name: str) -> str:
    return key("ingress", "stats", name)
