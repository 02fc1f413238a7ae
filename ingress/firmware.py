"""LwM2M object 5 (Firmware Update) in the ingress worker: the CoAP side of firmware.drivers.lwm2m.

The driver sends `{"type": "firmware_upgrade", "sub_operation": pk}` to the worker that holds the
device; the worker runs `Lwm2mUpgrade` for it:

1. observe /5/0/3 (State) and /5/0/5 (Update Result);
2. deliver the package, by pull or by push. Pull: write the Package URI (/5/0/1)
   `coap://FIRMWARE_PACKAGE_HOST:port/fw/<subOperationId>`, which `PackageServer` serves with Block2
   (RFC 7959) from any block the device asks for, so a download resumes where the device stopped
   (F-7.9). Push, for devices that cannot pull: a Block1 write of the package to /5/0/0. Which one:
   the product's `omCapability.fwUpgradeCapability.firmwareDelivery` ("pull" or "push") if set, else
   the device's Firmware Update Delivery Method (/5/0/9: 0 pull, 1 push, 2 both -> pull), else pull;
3. State 1 is "downloading", State 2 "downloaded": the worker executes Update (POST /5/0/2) and the
   step is "updating"; Update Result 1 (success) is confirmed by reading the firmware version
   (/3/0/3), which the engine compares with the target; Update Result 2 to 9 is the F-7.7 failure
   of firmware.errors.LWM2M_RESULTS.

Each step is reported with firmware.actions.on_step / on_result from a thread. The exchange runs only
as long as the worker does: after a restart (or a device that goes silent) the sub-operation's due
time, enforced by the sweep, ends it with the step's timeout error. When notifications stop (a device
that reboots to install loses its observations), /5/0/3 and /5/0/5 are read every
FIRMWARE_POLL_SECONDS.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiocoap import Message, error
from aiocoap.numbers import codes
from django.conf import settings

from applications.redis import get_redis
from devices import logs
from devices.downlink import owner_key, send_to_worker, worker_key
from devices.models import Device, LogKind
from firmware import actions
from firmware.drivers.lwm2m import UPGRADE_MESSAGE
from firmware.errors import LWM2M_RESULTS
from firmware.models import Package, Step, SubOperation, SubStatus
from ingress.formats import TLV, FormatError, resource_bytes
from ingress.models import Channel, DeviceSession

if TYPE_CHECKING:
    from ingress.worker import IngressWorker

log = logging.getLogger("ingress.firmware")

STATE, RESULT, VERSION = "5/0/3", "5/0/5", "3/0/3"
DOWNLOADING, DOWNLOADED, UPDATING = 1, 2, 3
SUCCESS = 1


# --- the database side (threads) -----------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What the worker needs to upgrade one device, read in a thread."""

    sub_pk: int
    sub_operation_id: str
    device_pk: int
    package_pk: int = 0
    delivery: str = ""  # "pull", "push", or "" (ask the device: /5/0/9)
    problem: str = ""  # an F-7.7 code: the upgrade cannot start


def _sub(sub_pk: int) -> SubOperation | None:
    return (
        SubOperation.objects.select_related("device", "operation", "operation__application", "operation__package")
        .defer("operation__package__data")
        .filter(pk=sub_pk, status=SubStatus.PROCESSING)
        .first()
    )


def load_job(sub_pk: int) -> Job | None:
    sub = _sub(sub_pk)
    if sub is None:
        return None
    job = Job(sub.pk, sub.sub_operation_id, sub.device_id, sub.operation.package_id)
    session = DeviceSession.objects.filter(device_id=sub.device_id).first()
    if session is None:
        return Job(sub.pk, sub.sub_operation_id, sub.device_id, problem="DEVICE_NOT_ONLINE")
    has_object = any(str(link.get("path", "")).strip("/").split("/")[0] == "5" for link in session.object_links or [])
    # An LwM2M gateway's end device is not upgraded through its gateway (docs/gateways.md, "Limits").
    if session.channel != Channel.LWM2M or not has_object or session.gateway_session_id is not None:
        return Job(sub.pk, sub.sub_operation_id, sub.device_id, problem="NO_PROTOCOL_SERVICE")
    product = Device.objects.select_related("product").get(pk=sub.device_id).product
    profile = (product.profile.get("device") or {}) if product is not None else {}
    capability = (profile.get("omCapability") or {}).get("fwUpgradeCapability") or {}
    delivery = capability.get("firmwareDelivery")
    if delivery in ("pull", "push"):
        job = Job(job.sub_pk, job.sub_operation_id, job.device_pk, job.package_pk, delivery=delivery)
    return job


def report_step(sub_pk: int, step: str, note: str = "") -> None:
    sub = _sub(sub_pk)
    if sub is not None:
        actions.on_step(sub, step, note)


def report_result(sub_pk: int, *, ok: bool, code: str = "", version: str = "") -> None:
    sub = _sub(sub_pk)
    if sub is not None:
        actions.on_result(sub, ok=ok, code=code, cur_version=version)


def report_version(sub_pk: int, version: str) -> bool:
    sub = _sub(sub_pk)
    return sub is not None and actions.on_version(sub, version)


def package_data(package_pk: int) -> bytes:
    return bytes(Package.objects.filter(pk=package_pk).values_list("data", flat=True).get())


@dataclass(frozen=True)
class Download:
    """A sub-operation whose package the devices may fetch from /fw/<subOperationId>."""

    sub_pk: int
    device_pk: int
    package_pk: int
    sha256: str
    blocks_sent: int


def load_download(sub_operation_id: str) -> Download | None:
    row = (
        SubOperation.objects.filter(
            sub_operation_id=sub_operation_id,
            status=SubStatus.PROCESSING,
            operation__operate_type="firmware_upgrade",
        )
        .values_list("pk", "device_id", "operation__package_id", "operation__package__sha256", "blocks_sent")
        .first()
    )
    return Download(*row) if row is not None else None


def record_progress(sub_pk: int, blocks: int) -> None:
    SubOperation.objects.filter(pk=sub_pk, blocks_sent__lt=blocks).update(blocks_sent=blocks)


def first_block(sub_pk: int, number: int) -> None:
    """The device asks for its first block of this attempt: downloading, from 0 or resumed (F-7.9)."""
    sub = _sub(sub_pk)
    if sub is None:
        return
    if sub.step == Step.IDLE:
        actions.on_step(sub, Step.DOWNLOADING, "the device fetches the package")
    if number:
        # Its own line: the device's State 1 notification may have moved the step first (a race the
        # step's compare-and-swap settles), and the resumption must show either way.
        actions.note(sub, f"download resumed at block {number} (F-7.9)")


# --- values --------------------------------------------------------------------------------------


def integer(message: Message) -> int | None:
    """A single integer resource as a device sends it: text (0, 1541) or TLV (11542, 1542)."""
    if not message.code.is_successful() or not message.payload:
        return None
    form = message.opt.content_format
    try:
        if form in (TLV, 1542):
            return int.from_bytes(resource_bytes(form, message.payload), "big", signed=True)
        return int(message.payload.decode("ascii").strip())
    except (FormatError, ValueError, UnicodeDecodeError):
        return None


def text(message: Message) -> str:
    if not message.code.is_successful():
        return ""
    if message.opt.content_format in (TLV, 1542):
        try:
            return resource_bytes(message.opt.content_format, message.payload).decode("utf-8", errors="replace")
        except FormatError:
            return ""
    return message.payload.decode("utf-8", errors="replace").strip()


# --- the exchange with the device ----------------------------------------------------------------


class HandedOver(Exception):
    """Another worker holds the device now and carries on."""


def current_holder(device_pk: int) -> str | None:
    """The channel of the live worker the device was last heard by (devices.downlink's record)."""
    redis = get_redis()
    channel = redis.get(owner_key(device_pk))
    if not channel:
        return None
    channel = channel.decode()
    return channel if redis.exists(worker_key(channel)) else None


class Lwm2mUpgrade:
    """One device's firmware upgrade, run by the worker holding its session."""

    def __init__(self, worker: IngressWorker, sub_pk: int, *, updating: bool = False) -> None:
        self.worker = worker
        self.sub_pk = sub_pk
        self.updating = updating  # taken over after Update was executed: only the result is awaited
        self.events: asyncio.Queue[tuple[str, Message]] = asyncio.Queue()
        self.observations: list[Any] = []

    async def run(self) -> None:
        job = await self.worker.run_misc(load_job, self.sub_pk)
        if job is None:
            return
        if job.problem:
            await self.worker.run_misc(report_result, self.sub_pk, ok=False, code=job.problem)
            return
        self.job = job
        try:
            async with asyncio.timeout(4 * settings.FIRMWARE_STEP_TIMEOUT):
                await self._run(job)
        except TimeoutError:
            pass  # the sweep has ended the sub-operation by now
        except HandedOver:
            pass
        except (error.Error, OSError) as problem:
            log.info("firmware upgrade of device %s: %s", job.device_pk, problem)
            await self.worker.run_misc(report_result, self.sub_pk, ok=False, code="CONNECTION_LOST")
        finally:
            for observation in self.observations:
                observation.cancel()

    async def _run(self, job: Job) -> None:
        from ingress import sessions

        # From the database, not the worker's memory: the latest registration's address.
        view = await self.worker.run_misc(sessions.by_device, job.device_pk)
        self.view = view
        if view is None or self.worker.remote(view) is None:
            await self.worker.run_misc(report_result, self.sub_pk, ok=False, code="DEVICE_NOT_ONLINE")
            return
        for path in (STATE, RESULT):
            if not await self._observe(path):
                await self.worker.run_misc(report_result, self.sub_pk, ok=False, code="NO_PROTOCOL_SERVICE")
                return
        if self.updating:
            await self._poll()
            await self._follow(executed=True)
            return
        version = text(await self._ask(codes.GET, VERSION))  # F-7.5: the version the device runs now
        if version and not await self.worker.run_misc(report_version, self.sub_pk, version):
            return  # the same version, or not one the package upgrades from
        delivery = job.delivery or await self._delivery_method()
        if delivery == "push":
            if not await self._push(job):
                return
        elif not await self._pull(job):
            return
        await self._follow()

    def _request(self, method: Any, path: str, payload: bytes = b"", **options: Any) -> Message:
        from ingress.worker import PlatformTuning

        request = Message(code=method, payload=payload, transport_tuning=PlatformTuning(), **options)
        request.opt.uri_path = tuple(path.split("/"))
        request.remote = self.worker.remote(self.view)
        return request

    async def _ask(self, method: Any, path: str, payload: bytes = b"", **options: Any) -> Message:
        return await self.worker.context.request(self._request(method, path, payload, **options)).response

    async def _observe(self, path: str) -> bool:
        request = self._request(codes.GET, path, observe=0)
        pending = self.worker.context.request(request)
        self.observations.append(pending.observation)
        first = await pending.response
        if not first.code.is_successful():
            return False
        if path != RESULT:
            # Update Result as it stands tells of a previous attempt (it is reset when a new one begins).
            self.events.put_nowait((path, first))

        async def follow() -> None:
            try:
                async for notification in pending.observation:
                    self.events.put_nowait((path, notification))
            except error.Error:
                pass  # the observation ended: polling takes over

        self.worker._spawn(follow())
        return True

    async def _delivery_method(self) -> str:
        try:
            answer = await self._ask(codes.GET, "5/0/9")
        except error.Error:
            return "pull"
        return "push" if integer(answer) == 1 else "pull"

    async def _pull(self, job: Job) -> bool:
        secure = self.view.secure
        port = settings.FIRMWARE_PACKAGE_PORT or (self.worker.coaps_port if secure else self.worker.port)
        uri = f"{'coaps' if secure else 'coap'}://{settings.FIRMWARE_PACKAGE_HOST}:{port}/fw/{job.sub_operation_id}"
        self.worker.packages.forget(job.sub_operation_id)
        answer = await self._ask(codes.PUT, "5/0/1", uri.encode(), content_format=0)
        if not answer.code.is_successful():
            await self.worker.run_misc(
                logs.log_device, job.device_pk, LogKind.INFO, f"Package URI write answered {answer.code.dotted}"
            )
            await self.worker.run_misc(report_result, self.sub_pk, ok=False, code="INVALID_URI")
            return False
        await self.worker.run_misc(
            logs.log_device, job.device_pk, LogKind.INFO, f"firmware: Package URI {uri} written (pull)"
        )
        return True

    async def _push(self, job: Job) -> bool:
        data = await self.worker.run_misc(package_data, job.package_pk)
        await self.worker.run_misc(
            report_step, self.sub_pk, Step.DOWNLOADING, f"pushing {len(data)} bytes to /5/0/0 (Block1)"
        )
        request = self._request(codes.PUT, "5/0/0", data, content_format=42)
        request.remote.maximum_block_size_exp = min(6, settings.FIRMWARE_PUSH_BLOCK_SZX)
        answer = await self.worker.context.request(request).response
        if answer.code.is_successful():
            size = 1 << (4 + request.remote.maximum_block_size_exp)
            await self.worker.run_misc(record_progress, self.sub_pk, -(-len(data) // size))
            return True
        code = "NOT_ENOUGH_STORAGE" if answer.code == codes.REQUEST_ENTITY_TOO_LARGE else "UNSUPPORTED_PACKAGE"
        await self.worker.run_misc(
            logs.log_device, job.device_pk, LogKind.INFO, f"firmware push to /5/0/0 answered {answer.code.dotted}"
        )
        await self.worker.run_misc(report_result, self.sub_pk, ok=False, code=code)
        return False

    async def _poll(self) -> None:
        """Read State and Update Result. A device that rebooted to install registers again, maybe from
        another address, and its observations are gone: ask where it is now; if it does not answer,
        keep waiting (the sub-operation's due time ends the wait)."""
        from ingress import sessions

        view = await self.worker.run_misc(sessions.by_device, self.job.device_pk)
        if view is not None:
            self.view = view
        holder = await self.worker.run_misc(current_holder, self.job.device_pk)
        if holder is not None and holder != self.worker.channel_name:
            # The device came back to another worker (a new address hashes elsewhere): its answers
            # reach that worker only, so the wait for the result continues there.
            message = {"type": UPGRADE_MESSAGE, "sub_operation": self.sub_pk, "updating": True}
            summary = "firmware: the device is back behind another ingress worker, which awaits the result"
            await self.worker.run_misc(logs.log_device, self.job.device_pk, LogKind.INFO, summary)
            await self.worker.run_misc(send_to_worker, holder, message)
            raise HandedOver
        try:
            for path in (STATE, RESULT):
                self.events.put_nowait((path, await self._ask(codes.GET, path)))
        except error.Error as problem:
            log.info("polling device %s: %s", self.job.device_pk, problem)

    async def _follow(self, *, executed: bool = False) -> None:
        """Act on State and Update Result until the upgrade ends."""
        while True:
            try:
                path, message = await asyncio.wait_for(self.events.get(), timeout=settings.FIRMWARE_POLL_SECONDS)
            except TimeoutError:
                await self._poll()
                continue
            value = integer(message)
            if path == RESULT and value is not None and value >= 2:
                code = LWM2M_RESULTS.get(value, "UPDATE_FAILED")
                await self.worker.run_misc(report_result, self.sub_pk, ok=False, code=code)
                return
            if path == RESULT and value == SUCCESS and executed:
                version = text(await self._ask(codes.GET, VERSION))
                await self.worker.run_misc(report_result, self.sub_pk, ok=True, version=version)
                return
            if path != STATE:
                continue
            if value == DOWNLOADING:
                await self.worker.run_misc(report_step, self.sub_pk, Step.DOWNLOADING, "State 1 (downloading)")
            elif value == DOWNLOADED and not executed:
                await self.worker.run_misc(report_step, self.sub_pk, Step.DOWNLOADED, "State 2 (downloaded)")
                answer = await self._ask(codes.POST, "5/0/2")
                if not answer.code.is_successful():
                    await self.worker.run_misc(
                        logs.log_device,
                        self.job.device_pk,
                        LogKind.INFO,
                        f"Update (/5/0/2) answered {answer.code.dotted}",
                    )
                    await self.worker.run_misc(report_result, self.sub_pk, ok=False, code="UPDATE_FAILED")
                    return
                executed = True
                await self.worker.run_misc(report_step, self.sub_pk, Step.UPDATING, "Update executed")
            elif value == UPDATING:
                await self.worker.run_misc(report_step, self.sub_pk, Step.UPDATING, "State 3 (updating)")
            elif value == 0 and executed:
                # Idle again: the result tells how it went (a device may notify State before Result).
                self.events.put_nowait((RESULT, await self._ask(codes.GET, RESULT)))


# --- serving packages (pull) ---------------------------------------------------------------------


@dataclass
class Served:
    """A package being fetched from this worker, and how far."""

    download: Download
    data: bytes
    checked_at: float
    announced: bool = False
    highest: int = -1
    saved: int = 0


class PackageServer:
    """GET /fw/<subOperationId> with Block2: any block, on any worker (F-7.9).

    Per block only memory is touched: the sub-operation is looked up once per worker (and again every
    few seconds, so an ended upgrade stops being served), the package's bytes are kept for a few
    packages, progress is written every PROGRESS_EVERY blocks."""

    RECHECK_SECONDS = 5.0
    PROGRESS_EVERY = 64
    CACHED_PACKAGES = 4

    def __init__(self, worker: IngressWorker) -> None:
        self.worker = worker
        self.served: dict[str, Served] = {}
        self.loading: dict[str, asyncio.Future] = {}
        self.packages: collections.OrderedDict[int, bytes] = collections.OrderedDict()

    async def _entry(self, sub_operation_id: str) -> Served | None:
        entry = self.served.get(sub_operation_id)
        if entry is not None and time.monotonic() - entry.checked_at < self.RECHECK_SECONDS:
            return entry
        waiting = self.loading.get(sub_operation_id)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future = self.worker.loop.create_future()
        self.loading[sub_operation_id] = future
        try:
            download = await self.worker.run_misc(load_download, sub_operation_id)
            if download is None:
                self.served.pop(sub_operation_id, None)
                future.set_result(None)
                return None
            data = self.packages.get(download.package_pk)
            if data is None:
                data = await self.worker.run_misc(package_data, download.package_pk)
                self.packages[download.package_pk] = data
                while len(self.packages) > self.CACHED_PACKAGES:
                    self.packages.popitem(last=False)
            if entry is not None:
                entry.checked_at = time.monotonic()
            else:
                entry = Served(download, data, time.monotonic())
                self.served[sub_operation_id] = entry
            future.set_result(entry)
            return entry
        except BaseException as problem:
            future.set_exception(problem)
            future.exception()
            raise
        finally:
            self.loading.pop(sub_operation_id, None)

    async def serve(self, request: Message, sub_operation_id: str) -> Message:
        if request.code != codes.GET:
            return Message(code=codes.METHOD_NOT_ALLOWED)
        entry = await self._entry(sub_operation_id)
        if entry is None:
            return Message(code=codes.NOT_FOUND, payload=b"no upgrade in progress for this package URI")
        block = request.opt.block2
        number, szx = (block.block_number, min(block.size_exponent, 6)) if block is not None else (0, 6)
        size = 1 << (szx + 4)
        start = number * size
        data = entry.data
        if start >= len(data) and number:
            return Message(code=codes.BAD_OPTION, payload=b"block past the end of the package")
        more = start + size < len(data)
        response = Message(code=codes.CONTENT, payload=data[start : start + size], content_format=42)
        response.opt.block2 = (number, more, szx)
        response.opt.etag = bytes.fromhex(entry.download.sha256[:16])
        if number == 0:
            response.opt.size2 = len(data)
        self._progress(entry, number, more)
        return response

    def forget(self, sub_operation_id: str) -> None:
        """A new attempt writes the Package URI again: its first block is announced anew."""
        self.served.pop(sub_operation_id, None)

    def _progress(self, entry: Served, number: int, more: bool) -> None:
        download = entry.download
        if not entry.announced:
            # The first block of this attempt that this worker serves: downloading, maybe resumed.
            entry.announced = True
            self.worker._spawn(self.worker.run_misc(first_block, download.sub_pk, number))
        entry.highest = max(entry.highest, number)
        if not more or entry.highest + 1 - entry.saved >= self.PROGRESS_EVERY:
            entry.saved = entry.highest + 1
            self.worker._spawn(self.worker.run_misc(record_progress, download.sub_pk, entry.saved))
