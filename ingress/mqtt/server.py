"""The MQTT device access: an embedded amqtt 0.12.1 broker (MQTT 3.1.1) around the uplink pipeline.

Why amqtt and not the machine's Mosquitto: an OceanConnect device's password is an HMAC of the
current hour, which a password file cannot check; amqtt runs in our process, so our own plugins do it
(device-protocols.md sections 4 and 6). amqtt is ~7-9x slower than Mosquitto; an external broker
with an HTTP auth hook (EMQX) is the way to scale out.

- `DeviceAuthPlugin` checks the static or dynamic connection (ingress.mqtt.auth) in a thread (ORM) and
  keeps the device's identity on the amqtt session; a dynamic connection is sent the device's secret
  once it subscribes to its secretNotify topic, and its secretACK is logged; `DeviceTopicPlugin`
  allows a device its own data topics (publish) and command topics (subscribe) only, and logs every
  refusal on the device.
- amqtt acknowledges a QoS 1 PUBLISH (PUBACK) before its plugins see it (handler.py
  `_handle_qos1_message_flow`). `DeviceHandler` replaces amqtt's `handle_publish` for the devices'
  data topics: the message goes into the pipeline (batched across connections) and the PUBACK is
  sent only once it is stored (or refused for a reason a retransmission would not change). No
  window remains for QoS 1. QoS 0 is at most once by nature. QoS 2 is stored before amqtt's PUBREC.
- Sockets are bounded (`DeviceBroker`; amqtt 0.12.1 has none of this): one that sent no CONNECT
  within MQTT_CONNECT_TIMEOUT is closed; a connection silent for 1.5 x its keep-alive (MQTT 3.1.1
  3.1.2.10; amqtt's broker times the read out and carries on) or, with keep-alive 0 or a longer one, for
  MQTT_MAX_IDLE_SECONDS, is closed as if it had dropped (its will is sent); one IP address holds at
  most MQTT_MAX_CONNECTIONS_PER_ADDRESS connections, of which MQTT_MAX_PENDING_PER_ADDRESS may be
  waiting for their CONNECT. A socket that sends no valid CONNECT is refused. Each refusal is counted
  and logged through `ingress.refusals` (amqtt's own lines for them are filtered out).
- Downlinks: the server registers itself as the owner of each connected device in Redis, under the
  same keys as the CoAP workers (devices.downlink), so `queue_downlink` reaches it over the channel
  layer. It publishes the payload with QoS 1 to `/huawei/v1/devices/{deviceId}/command/json` (JSON
  mode: the product has no codec) or `/binary`, and the device's PUBACK is the "acked" outcome.
- Pushes over MQTTS (subscriptions.mqtts): an application server connects over TLS with its appId and
  secret and subscribes under `/huawei/v1/apps/{appId}/`. The server then records itself in Redis as
  the holder of that application's session, claims the application's due MQTTS pushes from the outbox
  (those of the notifyTypes its subscriptions cover), publishes each with QoS 1 to that session and
  records the PUBACK as delivered (subscriptions.delivery's `claim` and `record`); the worker's delivery
  task for the MQTTS target reaches it over the channel layer.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import math
import os
import ssl
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action, ListenerType
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.publish import PublishPacket
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from django.utils import timezone

from applications.redis import get_redis
from devices import gateways, hooks, logs
from devices.downlink import DOWNLINK_MESSAGE, owner_key, worker_key
from devices.models import LogKind
from ingress import metrics as ingress_metrics
from ingress import pipeline, threads
from ingress.mqtt import auth, gateway
from ingress.refusals import Refusals, source_of
from subscriptions import delivery, mqtts
from subscriptions import notify_types as nt

log = logging.getLogger("ingress.mqtt")

# amqtt logs one or two lines (at ERROR for a socket closed before CONNECT) for each session it could not
# start; `DeviceBroker` refuses those through ingress.refusals (counted, once per source per interval).
REFUSED_BY_US = "refused by the platform"
AMQTT_REFUSAL_LINES = ("No data from", "Invalid connection from", "Can't read first packet as CONNECT")


class _QuietRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return REFUSED_BY_US not in message and not any(line in message for line in AMQTT_REFUSAL_LINES)


logging.getLogger("amqtt.broker").addFilter(_QuietRefusals())

# MQTT packet ids go into the pipeline's (device, message id) deduplication above CoAP's 16-bit range.
PACKET_ID_BASE = 0x10000


def _server(context: Any) -> MqttServer:
    # amqtt gives plugins the broker only through its context; ours carries the server.
    return context._broker_instance.server


class DeviceAuthPlugin(BaseAuthPlugin):
    """Static connection: client id, user name = deviceId, HMAC-SHA256 of the hour over the secret."""

    async def authenticate(self, *, session: Session) -> bool | None:
        server = _server(self.context)
        check = partial(auth.authenticate, tls=getattr(session, "over_tls", False))
        try:
            identity = await server.run_misc(
                check, session.client_id, session.username, session.password, timezone.now()
            )
        except auth.Refused as refusal:
            log.info("MQTT connection %r refused: %s", session.client_id, refusal)
            server.stats["refused_mqtt_auth"] += 1  # not "refused": that is the pipeline's result for an uplink
            return False
        session.identity = identity
        if identity.is_application:
            server.stats["application_connected"] += 1
        elif not identity.provisioning:  # a dynamic connection only fetches the secret: it takes no downlinks
            await server.connected(identity, session)
        return True

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Session) -> None:
        identity = getattr(client_session, "identity", None)
        if identity is not None and identity.is_application:
            await _server(self.context).application_disconnected(identity, client_session)
        elif identity is not None and not identity.provisioning:
            await _server(self.context).disconnected(identity, client_session)

    async def on_broker_client_subscribed(self, *, client_id: str, topic: str, qos: int) -> None:
        """Dynamic connection: the device subscribed to its secretNotify topic; send it its secret. An
        application subscribed to its push topics: deliver its pushes."""
        server = _server(self.context)
        session, handler = server.broker._sessions.get(client_id, (None, None))
        identity = getattr(session, "identity", None)
        if identity is not None and identity.is_application:
            await server.application_subscribed(identity, session, topic)
            return
        if identity is None or not identity.provisioning or topic != identity.secret_topic("secretNotify"):
            return
        try:
            await handler.mqtt_publish(
                topic, identity.secret_notification(), 1, False, ack_timeout=settings.MQTT_ACK_TIMEOUT
            )
            server.stats["secret_sent"] += 1
            outcome = "sent"
        except Exception as problem:
            server.stats["secret_unacknowledged"] += 1
            outcome = f"not acknowledged ({str(problem) or type(problem).__name__})"
        await server.run_misc(logs.log_device, identity.device_pk, LogKind.INFO, f"MQTT secret on {topic}: {outcome}")


class DeviceTopicPlugin(BaseTopicPlugin):
    """A device publishes to its own data topics and subscribes to its own command topics, nothing else."""

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        identity = getattr(session, "identity", None)
        if identity is None:
            return False
        if identity.is_application:  # it receives its pushes; it publishes nothing
            allowed = action != Action.PUBLISH and identity.may_subscribe(topic or "")
            if not allowed and action == Action.SUBSCRIBE:
                log.info("MQTT application %s refused to subscribe to %r (not its topic)", identity.app_id, topic)
            return allowed
        if action == Action.PUBLISH:
            allowed = auth.may_publish(identity, topic or "") is not None
        else:
            allowed = auth.may_subscribe(identity, topic or "")
        if not allowed:
            verb = "publish to" if action == Action.PUBLISH else "subscribe to"
            summary = f"MQTT: refused to {verb} {topic!r} (not this device's topic)"
            _server(self.context).spawn_misc(auth.log_refusal, identity.device_pk, summary)
        return allowed


class DeviceHandler(BrokerProtocolHandler):
    """amqtt's protocol handler with PUBLISH from devices going through the pipeline before PUBACK."""

    server: MqttServer

    async def handle_publish(self, publish_packet: PublishPacket) -> None:
        identity = getattr(self.session, "identity", None)
        topic, data, qos = publish_packet.topic_name, publish_packet.data, publish_packet.qos
        if identity is None or topic is None or data is None:
            return
        packet_id = publish_packet.packet_id
        if identity.is_application:
            # Applications only receive: acknowledged and dropped (3.1.1 has no negative PUBACK).
            self.server.stats["refused_publish"] += 1
            if qos == 1 and packet_id is not None:
                await self._send_packet(PubackPacket.build(packet_id))
            return
        if auth.is_secret_ack(identity, topic):
            if qos == 1 and packet_id is not None:
                await self._send_packet(PubackPacket.build(packet_id))
            self.server.stats["secret_ack"] += 1
            summary = "MQTT: the device acknowledged its secret (secretACK); it reconnects statically"
            await self.server.run_misc(logs.log_device, identity.device_pk, LogKind.INFO, summary)
            return
        kind = auth.may_publish(identity, topic)
        if kind in gateway.KINDS:  # a gateway acting for its sub-devices
            await gateway.handle(self.server, self, identity, kind, bytes(data), publish_packet)
            return
        if kind is None:
            await self.server.broker._topic_filtering(self.session, topic, Action.PUBLISH)  # logs the refusal
            if qos == 1 and packet_id is not None:
                # MQTT 3.1.1 has no negative PUBACK: acknowledge and drop, as Mosquitto does.
                await self._send_packet(PubackPacket.build(packet_id))
            self.server.stats["refused_publish"] += 1
            return
        outcome = await self.server.ingest(identity, bytes(data), kind, qos, packet_id, publish_packet.dup_flag)
        if outcome.result == pipeline.LIMITED:
            await self.server.run_misc(
                logs.log_device, identity.device_pk, LogKind.INFO, "MQTT: disconnected for flooding"
            )
            await self.handle_connection_closed()
            return
        if qos == 1 and packet_id is not None:
            if outcome.acknowledge:
                await self._send_packet(PubackPacket.build(packet_id))
        elif qos == 2 and outcome.acknowledge:
            await super().handle_publish(publish_packet)
        if outcome.reply is not None:
            # The codec's cloudRsp ACK (F-3.7) goes where the device reads binary commands, at most once.
            topic = auth.COMMAND_TOPIC.format(device_id=identity.device_id, kind="binary")
            await self.mqtt_publish(topic, outcome.reply, 0, False)

    def handle_read_timeout(self) -> None:
        """Nothing from the client for its keep-alive and a half: it is gone (amqtt's broker ignores this)."""
        session = self.session
        source = source_of(getattr(session, "remote_address", None))
        reason = f"{session.client_id if session else '?'} silent for {session.keep_alive if session else '?'} s"
        self.server.refusals.refuse("mqtt_keepalive", source, reason)
        self.server.spawn(self.handle_connection_closed())


class DeviceBroker(Broker):
    """amqtt's broker with our protocol handler for every connection."""

    def __init__(self, config: dict[str, Any], server: MqttServer) -> None:
        super().__init__(config)
        self.server = server

    async def _create_server_instance(
        self,
        listener_name: str,
        listener_type: ListenerType,
        address: str | None,
        port: int,
        ssl_context: ssl.SSLContext | None,
    ) -> Any:
        if listener_type != ListenerType.TCP:
            return await super()._create_server_instance(listener_name, listener_type, address, port, ssl_context)
        # SO_REUSEPORT: `run_mqtt --workers N` processes share the port and the kernel spreads the
        # devices' connections over them; downlinks find the right one through the owner key in Redis.
        return await asyncio.start_server(
            partial(self.stream_connected, listener_name=listener_name),
            address,
            port,
            reuse_address=True,
            reuse_port=True,
            ssl=ssl_context,
        )

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        """Every connection: within the per-address limits, or closed at once."""
        host = source_of(writer.get_extra_info("peername"))
        limits = self.server.limits
        if limits.open[host] >= settings.MQTT_MAX_CONNECTIONS_PER_ADDRESS:
            reason = f"{limits.open[host]} connections from this address already"
        elif limits.pending[host] >= settings.MQTT_MAX_PENDING_PER_ADDRESS:
            reason = f"{limits.pending[host]} connections from this address have not sent CONNECT yet"
        else:
            reason = ""
        if reason:
            self.server.refusals.refuse("mqtt_address_limit", host, reason)
            writer.close()
            return
        limits.accept(host, writer)
        try:
            await super().stream_connected(reader, writer, listener_name)
        except Exception as problem:
            # amqtt handles its own errors; anything else escaped it (asyncio would print a traceback per
            # connection): counted, and logged with its traceback once per source and interval.
            self.server.refusals.refuse("mqtt_session_error", host, repr(problem), traceback=problem)
            writer.close()
        finally:
            limits.release(host, writer)

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        # The auth plugin needs to know whether the connection came over TLS (applications only do).
        session.over_tls = bool(listener.get("ssl")) if isinstance(listener, dict) else bool(listener.ssl)
        return await super()._authenticate(session, listener)

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        """amqtt reads the CONNECT; ours gives it MQTT_CONNECT_TIMEOUT and bounds the keep-alive."""
        source = source_of(remote_address)
        try:
            _, session = await asyncio.wait_for(
                super()._initialize_client_session(reader, writer, remote_address, remote_port),
                settings.MQTT_CONNECT_TIMEOUT,
            )
        except TimeoutError:
            reason = f"no CONNECT within {settings.MQTT_CONNECT_TIMEOUT} s"
            self.server.refusals.refuse("mqtt_connect_timeout", source, reason)
            await writer.close()
            raise AMQTTError(f"{REFUSED_BY_US}: {reason}") from None
        except (AMQTTError, MQTTError, NoDataError, OSError) as problem:
            # Not a CONNECT, a malformed one, or the socket gone before it came (amqtt's close of an
            # already closed socket raises OSError past its own handling).
            reason = f"{type(problem).__name__}: {problem}" if str(problem) else type(problem).__name__
            self.server.refusals.refuse("mqtt_connect_invalid", source, reason)
            raise AMQTTError(f"{REFUSED_BY_US}: {reason}") from None
        finally:
            self.server.limits.connected(getattr(writer, "_writer", None))  # amqtt's adapter around it
        # amqtt times the read out after session.keep_alive seconds: make that 1.5 x the client's
        # keep-alive (MQTT 3.1.1 3.1.2.10), and MQTT_MAX_IDLE_SECONDS for none (0) or a longer one.
        requested = session.keep_alive
        session.keep_alive = min(
            math.ceil(requested * 1.5) or settings.MQTT_MAX_IDLE_SECONDS, settings.MQTT_MAX_IDLE_SECONDS
        )
        # amqtt's handler holds no state before attach(): ours takes its place.
        handler = DeviceHandler(self.plugins_manager, loop=self._loop)
        handler.server = self.server
        return handler, session


class AddressLimits:
    """Open connections per IP address, and those of them still waiting for their CONNECT."""

    def __init__(self) -> None:
        self.open: collections.Counter[str] = collections.Counter()
        self.pending: collections.Counter[str] = collections.Counter()
        self.waiting: dict[int, str] = {}  # id(stream writer) -> host, until its CONNECT came

    def accept(self, host: str, writer: asyncio.StreamWriter) -> None:
        self.open[host] += 1
        self.pending[host] += 1
        self.waiting[id(writer)] = host

    def connected(self, writer: asyncio.StreamWriter | None) -> None:
        """The connection's CONNECT came (or it gave up waiting): no longer pending."""
        host = self.waiting.pop(id(writer), None)
        if host is not None:
            self._decrement(self.pending, host)

    def release(self, host: str, writer: asyncio.StreamWriter) -> None:
        self.connected(writer)
        self._decrement(self.open, host)

    @staticmethod
    def _decrement(counter: collections.Counter[str], host: str) -> None:
        counter[host] -= 1
        if counter[host] <= 0:
            del counter[host]


class MqttServer:
    """The broker, the batched pipeline consumers and the downlink receiver. `start()` / `stop()`."""

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        tls_port: int | None = 0,
        certfile: str | None = None,
        keyfile: str | None = None,
        name: str = "",
    ) -> None:
        self.host = host or settings.INGRESS_BIND_ADDRESS
        self.port = port or settings.MQTT_PORT
        # MQTTS: MQTTS_PORT by default (0) when a certificate is configured, another port, or None.
        self.certfile = certfile or settings.MQTT_TLS_CERT_FILE
        self.keyfile = keyfile or settings.MQTT_TLS_KEY_FILE
        self.tls_port = settings.MQTTS_PORT if tls_port == 0 else tls_port
        if not (self.certfile and self.keyfile):
            self.tls_port = None
        self.name = name or f"mqtt-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.channel_name = ""
        self.stats: collections.Counter = collections.Counter()
        self.refusals = Refusals(log, self.stats)  # sockets refused or closed: counted, logged once per interval
        self.limits = AddressLimits()
        self.sessions: dict[int, Session] = {}  # device pk -> its live amqtt session
        # application pk -> its subscribed session and the topic filters granted to it (MQTTS pushes)
        self.applications: dict[int, tuple[Session, set[str]]] = {}
        self.pushing: set[int] = set()  # applications with a delivery loop running
        self.push_again: set[int] = set()  # ... and asked to look again once it ends
        # One queue per database thread, a device always in the same one: its uplinks keep their order,
        # and two concurrent batches never update the same device rows (which could deadlock).
        self.queues: list[asyncio.Queue[tuple[pipeline.Uplink, int | None, asyncio.Future]]] = [
            asyncio.Queue() for _ in range(max(1, settings.INGRESS_DB_THREADS))
        ]
        self.tasks: list[asyncio.Task] = []
        self.spawned: set[asyncio.Task] = set()
        self.db = ThreadPoolExecutor(settings.INGRESS_DB_THREADS, thread_name_prefix="mqtt-db")
        self.misc = ThreadPoolExecutor(4, thread_name_prefix="mqtt-misc")
        self.broker: DeviceBroker | None = None
        self.layer = None

    def _bind(self, port: int) -> str:
        return f":{port}" if self.host in ("", "::", "0.0.0.0") else f"{self.host}:{port}"

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        listeners: dict[str, Any] = {"default": {"type": "tcp", "bind": self._bind(self.port)}}
        if self.tls_port is not None:
            listeners["tls"] = {
                "type": "tcp",
                "bind": self._bind(self.tls_port),
                "ssl": True,
                "certfile": self.certfile,
                "keyfile": self.keyfile,
            }
        config = {
            "listeners": listeners,
            "plugins": {f"{__name__}.DeviceAuthPlugin": {}, f"{__name__}.DeviceTopicPlugin": {}},
        }
        self.broker = DeviceBroker(config, self)
        await self.broker.start()
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER) if get_channel_layer() is not None else None
        self.layer = layer
        self.channel_name = await layer.new_channel("mqtt.") if layer is not None else self.name
        await self.run_misc(self._heartbeat_once)
        for index in range(max(1, settings.INGRESS_DB_THREADS)):
            self.tasks.append(asyncio.create_task(self._consume(index), name=f"mqtt-uplinks-{index}"))
        self.tasks.append(asyncio.create_task(self._heartbeat(), name="mqtt-heartbeat"))
        if layer is not None:
            self.tasks.append(asyncio.create_task(self._receive_downlinks(), name="mqtt-downlinks"))
        tls = f", MQTTS on {self.tls_port}" if self.tls_port is not None else ""
        log.info("MQTT server %s listening on %s%s", self.name, self.port, tls)

    async def stop(self) -> None:
        tasks = [*self.tasks, *self.spawned]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.broker is not None:
            await self.broker.shutdown()
        if self.channel_name:
            await self.run_misc(lambda: get_redis().delete(worker_key(self.channel_name)))
        for executor in (self.db, self.misc):
            executor.shutdown(wait=True, cancel_futures=True)

    async def run_misc(self, function: Callable, *args: Any) -> Any:
        """ORM or Redis work on a small thread pool (never in the event loop)."""
        return await self.loop.run_in_executor(self.misc, lambda: threads.closing(function, *args))

    def spawn_misc(self, function: Callable, *args: Any) -> None:
        self._spawn(self.run_misc(function, *args))

    def spawn(self, coroutine: Any) -> None:
        self._spawn(coroutine)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.spawned.add(task)
        task.add_done_callback(self.spawned.discard)

    def _heartbeat_once(self) -> None:
        seconds = settings.INGRESS_HEARTBEAT_SECONDS
        get_redis().set(worker_key(self.channel_name), self.name, ex=max(3 * seconds, 2))
        self.refusals.flush()

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.run_misc(self._heartbeat_once)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("MQTT heartbeat failed")
            await asyncio.sleep(settings.INGRESS_HEARTBEAT_SECONDS)

    # --- sessions ------------------------------------------------------------------------------------
    async def connected(self, identity: auth.Identity, session: Session) -> None:
        self.sessions[identity.device_pk] = session
        await self.run_misc(_connected, identity.device_pk, self.channel_name, session.client_id)

    async def disconnected(self, identity: auth.Identity, session: Session) -> None:
        current = self.sessions.get(identity.device_pk)
        if current is session:
            del self.sessions[identity.device_pk]
            await self.run_misc(_disconnected, identity.device_pk, self.channel_name)

    # --- uplinks ---------------------------------------------------------------------------------------
    async def ingest(
        self, identity: auth.Identity, data: bytes, kind: str, qos: int, packet_id: int | None, dup: bool
    ) -> pipeline.Outcome:
        """Queue one uplink for the pipeline and wait until it is stored (or refused)."""
        # A retransmission (DUP) of a QoS 1 message is deduplicated by its packet id; a first copy is
        # never held back (a device may reuse a packet id as soon as it got its PUBACK), but is marked
        # done once stored so a later DUP copy of it is recognised.
        message_id = PACKET_ID_BASE + packet_id if (dup and packet_id is not None and qos > 0) else None
        uplink = pipeline.Uplink(
            identity.device_pk,
            data,
            message_id=message_id,
            transport="MQTT",
            json=kind == "json",
            channel=f"data/{kind}",  # the topic's suffix: the codec's fPort (products.codecs.ports)
        )
        settle_id = PACKET_ID_BASE + packet_id if (qos > 0 and packet_id is not None and not dup) else None
        waiter: asyncio.Future = self.loop.create_future()
        await self.queues[uplink.device_pk % len(self.queues)].put((uplink, settle_id, waiter))
        return await waiter

    @staticmethod
    def packet_message_id(packet_id: int) -> int:
        return PACKET_ID_BASE + packet_id

    async def ingest_many(self, items: list[tuple[pipeline.Uplink, int | None]]) -> list[pipeline.Outcome]:
        """Queue several uplinks (a gateway's message for its sub-devices) and wait until all are handled."""
        waiters = []
        for uplink, settle_id in items:
            waiter: asyncio.Future = self.loop.create_future()
            await self.queues[uplink.device_pk % len(self.queues)].put((uplink, settle_id, waiter))
            waiters.append(waiter)
        return list(await asyncio.gather(*waiters))

    async def _consume(self, index: int) -> None:
        batch_size, queue = max(1, settings.INGRESS_BATCH_SIZE), self.queues[index]
        while True:
            batch = [await queue.get()]
            while len(batch) < batch_size and not queue.empty():
                batch.append(queue.get_nowait())
            started = time.perf_counter()
            try:
                outcomes = await self.loop.run_in_executor(self.db, _handle, batch)
            except Exception as error:  # the pipeline reports its own failures; this is Redis or worse
                log.exception("MQTT uplink batch failed")
                failed = pipeline.Outcome(pipeline.FAILED, acknowledge=False, detail=str(error))
                outcomes = [failed] * len(batch)
            for (_, _, waiter), outcome in zip(batch, outcomes, strict=True):
                self.stats[outcome.result] += 1
                if not waiter.done():
                    waiter.set_result(outcome)
            ingress_metrics.mqtt_batch_done(batch, outcomes, started)

    # --- downlinks -------------------------------------------------------------------------------------
    async def _receive_downlinks(self) -> None:
        while True:
            message = await self.layer.receive(self.channel_name)
            if message.get("type") == DOWNLINK_MESSAGE:
                self._spawn(self._downlink(message))
            elif message.get("type") == mqtts.PUSH_MESSAGE:
                self.push(int(message["application"]))

    async def _downlink(self, message: dict[str, Any]) -> None:
        device_pk = int(message["device"])
        payload = bytes.fromhex(message["payload"])
        gateway_pk = int(message["gateway"]) if message.get("gateway") is not None else None
        await self.send_downlink(device_pk, payload, request_id=message.get("request_id"), gateway_pk=gateway_pk)

    async def send_downlink(
        self, device_pk: int, payload: bytes, *, request_id: str | None, gateway_pk: int | None = None
    ) -> str:
        """Publish to the device's command topic with QoS 1; its PUBACK is "acked". A sub-device's
        downlink goes to its gateway's command/json topic (the payload names the sub-device)."""
        session = self.sessions.get(gateway_pk if gateway_pk is not None else device_pk)
        identity = getattr(session, "identity", None)
        # amqtt registers the connection's handler once the CONNACK is sent, after our auth plugin ran.
        handler = self.broker._sessions.get(session.client_id, (None, None))[1] if session is not None else None
        topic, outcome, detail = "", "acked", ""
        if identity is None or handler is None:
            outcome, detail = "undeliverable", "the device is not connected over MQTT"
        else:
            kind = "json" if identity.json_mode or gateway_pk is not None else "binary"
            topic = auth.COMMAND_TOPIC.format(device_id=identity.device_id, kind=kind)
            try:
                await handler.mqtt_publish(topic, payload, 1, False, ack_timeout=settings.MQTT_ACK_TIMEOUT)
            except TimeoutError:
                outcome, detail = "timeout", "no PUBACK"
            except Exception as problem:
                outcome, detail = "error", str(problem) or type(problem).__name__
        self.stats[f"downlink_{outcome}"] += 1
        summary = f"downlink {request_id} to {topic or 'MQTT'}: {outcome}" + (f" ({detail})" if detail else "")
        report = hooks.DownlinkOutcome(request_id, device_pk, outcome, detail=detail) if request_id else None
        await self.run_misc(threads.after_downlink, device_pk, summary, payload, report)
        return outcome

    # --- pushes over MQTTS ---------------------------------------------------------------------------
    async def application_subscribed(self, identity: auth.AppIdentity, session: Session, topic_filter: str) -> None:
        """An application's subscription was granted: hold its session, and deliver what is due."""
        current = self.applications.get(identity.application_pk)
        if current is None or current[0] is not session:
            current = (session, set())
            self.applications[identity.application_pk] = current
        current[1].add(topic_filter)
        await self.run_misc(_hold_application, identity.application_pk, self.channel_name)
        covered = [kind for kind in nt.ALL if mqtts.filter_matches(topic_filter, mqtts.topic(identity.app_id, kind))]
        if covered:  # what waited for this reconnect goes now, not after its retry delay
            await self.run_misc(delivery.resume_mqtts, identity.application_pk, covered)
        self.push(identity.application_pk)

    async def application_disconnected(self, identity: auth.AppIdentity, session: Session) -> None:
        current = self.applications.get(identity.application_pk)
        if current is not None and current[0] is session:
            del self.applications[identity.application_pk]
            await self.run_misc(_release_application, identity.application_pk, self.channel_name)

    def push(self, application_pk: int) -> None:
        """Deliver the application's due MQTTS pushes: one loop per application, asked again if running."""
        if application_pk in self.pushing:
            self.push_again.add(application_pk)
            return
        if application_pk in self.applications:
            self.pushing.add(application_pk)
            self._spawn(self._push_loop(application_pk))

    async def _push_loop(self, application_pk: int) -> None:
        try:
            while True:
                self.push_again.discard(application_pk)
                try:
                    claimed = await self._push_batch(application_pk)
                except Exception:  # the database or Redis: the sweep wakes the target again
                    log.exception("MQTTS push delivery failed")
                    claimed = 0
                if not claimed and application_pk not in self.push_again:
                    return
        finally:
            self.pushing.discard(application_pk)
            self.push_again.discard(application_pk)

    async def _push_batch(self, application_pk: int) -> int:
        """Claim, publish with QoS 1 and record one batch; returns how many rows were claimed."""
        current = self.applications.get(application_pk)
        if current is None:
            return 0
        session, filters = current
        handler = self.broker._sessions.get(session.client_id, (None, None))[1]
        identity = session.identity
        covered = [
            kind for kind in nt.ALL if any(mqtts.filter_matches(f, mqtts.topic(identity.app_id, kind)) for f in filters)
        ]
        if handler is None:
            return 0
        target_id, batch = await self.run_misc(delivery.claim_mqtts, application_pk, covered, settings.PUSH_BATCH_SIZE)
        if not batch:
            return 0
        gate = asyncio.Semaphore(settings.PUSH_CONCURRENCY)

        async def one(message: delivery.Outgoing) -> delivery.Outcome:
            async with gate:
                started_at, started = timezone.now(), time.perf_counter()
                outcome = delivery.Outcome(message.id, started_at, 0)
                try:
                    await handler.mqtt_publish(
                        message.url, message.body, 1, False, ack_timeout=settings.MQTT_ACK_TIMEOUT
                    )
                    outcome.acknowledged = True
                except TimeoutError:
                    outcome.error = f"no PUBACK from the application's MQTT client within {settings.MQTT_ACK_TIMEOUT} s"
                except Exception as problem:  # the session closed under it: retried with the outbox's backoff
                    outcome.error = f"MQTT publish failed: {str(problem) or type(problem).__name__}"
                outcome.duration_ms = int((time.perf_counter() - started) * 1000)
                return outcome

        outcomes = list(await asyncio.gather(*(one(message) for message in batch)))
        self.stats["push_acknowledged"] += sum(outcome.acknowledged for outcome in outcomes)
        await self.run_misc(delivery.record, target_id, batch, outcomes)
        return len(batch)


def _hold_application(application_pk: int, channel: str) -> None:
    get_redis().set(mqtts.owner_key(application_pk), channel)


def _release_application(application_pk: int, channel: str) -> None:
    redis = get_redis()
    current = redis.get(mqtts.owner_key(application_pk))
    if current is not None and current.decode() == channel:
        redis.delete(mqtts.owner_key(application_pk))


def _handle(batch: list[tuple[pipeline.Uplink, int | None, asyncio.Future]]) -> list[pipeline.Outcome]:
    """The pipeline for a batch; first copies of QoS 1 messages are marked done for deduplication by the
    pipeline, right after its commit (`Uplink.settle_id`)."""
    return pipeline.handle_uplinks([dataclasses.replace(uplink, settle_id=settle_id) for uplink, settle_id, _ in batch])


def _connected(device_pk: int, channel: str, client_id: str) -> None:
    get_redis().set(owner_key(device_pk), channel)
    logs.log_device(device_pk, LogKind.INFO, f"MQTT connected as {client_id}")
    gateways.do_gateway_online(device_pk)  # a gateway's sub-devices that went offline with it come back


def _disconnected(device_pk: int, channel: str) -> None:
    redis = get_redis()
    current = redis.get(owner_key(device_pk))
    if current is not None and current.decode() == channel:
        redis.delete(owner_key(device_pk))
    logs.log_device(device_pk, LogKind.INFO, "MQTT disconnected")
    gateways.do_gateway_offline(device_pk)  # a gateway's sub-devices follow it offline
