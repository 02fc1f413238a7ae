"""Websocket consumers of the portal."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from applications.events import PLATFORM_GROUP, app_group
from applications.models import Application


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
