"""Websocket consumers of the portal."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from applications import events
from applications.events import PLATFORM_GROUP, app_group, device_group
from applications.models import Application
from devices.models import Device


class LiveEventsConsumer(AsyncJsonWebsocketConsumer):
    """Streams live events to a signed-in account: its applications' events, all of them for operators."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = await self._groups(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def live_event(self, event: dict) -> None:
        # Operators' sockets join the platform group only, members' sockets their applications'
        # groups only, so each event arrives once per socket.
        await self.send_json({key: event[key] for key in ("kind", "application", "data", "at")})

    async def live_batch(self, batch: dict) -> None:
        """Events published together (applications.events), each sent as it was published."""
        for event in batch["events"]:
            await self.live_event(event)

    @database_sync_to_async
    def _groups(self, user) -> list[str]:
        if user.is_staff:
            return [PLATFORM_GROUP]
        pks = Application.objects.visible_to(user).values_list("pk", flat=True)
        return [app_group(pk) for pk in pks]


class DeviceEventsConsumer(AsyncJsonWebsocketConsumer):
    """Streams one device's events to its portal page (devices.live): the device's group only, joined
    when the account may see the device (its application's member, or an operator); else closed 4403."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.device_pk = await self._visible_device(user, self.scope["url_route"]["kwargs"]["device_id"])
        if self.device_pk is None:
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(device_group(self.device_pk), self.channel_name)
        await database_sync_to_async(events.watch)(self.device_pk, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        device_pk = getattr(self, "device_pk", None)
        if device_pk is not None:
            await self.channel_layer.group_discard(device_group(device_pk), self.channel_name)
            await database_sync_to_async(events.unwatch)(device_pk, self.channel_name)

    async def live_event(self, event: dict) -> None:
        await self.send_json({key: event[key] for key in ("kind", "data", "at")})

    async def live_batch(self, batch: dict) -> None:
        for event in batch["events"]:
            await self.live_event(event)

    @database_sync_to_async
    def _visible_device(self, user, device_id: str) -> int | None:
        visible = Application.objects.visible_to(user)
        return Device.objects.filter(application__in=visible, device_id=device_id).values_list("pk", flat=True).first()
