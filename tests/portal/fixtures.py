"""Portal personas: an operator, an application's owner and viewer, and a member of another application;
a fleet of devices in given statuses, and commands."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone

from applications.actions import do_add_member
from applications.models import Role
from commands.models import Command, CommandStatus
from devices.models import Device, Status
from subscriptions.models import PushTarget
from tests.applications.fixtures import AppCredentials, create_app
from tests.devices.fixtures import register


def create_user(username: str, *, operator: bool = False):
    return get_user_model().objects.create_user(username=username, password="correct horse 9", is_staff=operator)


@dataclass
class Personas:
    operator: object
    owner: object
    viewer: object
    outsider: object
    app: AppCredentials
    other_app: AppCredentials


def create_personas() -> Personas:
    app = create_app("Water utility", login=False)
    other_app = create_app("Gas utility", login=False)
    owner, viewer, outsider = create_user("olivia"), create_user("victor"), create_user("oscar")
    do_add_member(app.application, owner, Role.OWNER)
    do_add_member(app.application, viewer, Role.VIEWER)
    do_add_member(other_app.application, outsider, Role.OWNER)
    return Personas(create_user("root", operator=True), owner, viewer, outsider, app, other_app)


def make_fleet(credentials, prefix: str, *, online: int, abnormal: int, offline: int, never_seen: int) -> list[Device]:
    total = online + abnormal + offline + never_seen
    devices = [register(credentials, node_id=f"{prefix}{n:05d}") for n in range(total)]
    statuses = [Status.ONLINE] * online + [Status.ABNORMAL] * abnormal + [Status.OFFLINE] * (offline + never_seen)
    for index, (device, status) in enumerate(zip(devices, statuses, strict=True)):
        activated = index < online + abnormal + offline
        Device.objects.filter(pk=device.pk).update(status=status, activated=activated)
    return devices


def command(device: Device, status: str) -> Command:
    return Command.objects.create(
        application_id=device.application_id,
        device=device,
        service_id="WaterMeter",
        method="SET",
        status=status,
        created_at=timezone.now(),
    )


def create_fleet() -> Personas:
    """The owner's application: 3 online, 1 abnormal, 2 offline, 4 never activated devices, 2 pending and 1
    failed commands, one of two callback hosts blacklisted; the other application: 5, 5, 0, 1, one failed
    command, one blacklisted host."""
    personas = create_personas()
    mine = make_fleet(personas.app, "8637030300", online=3, abnormal=1, offline=2, never_seen=4)
    theirs = make_fleet(personas.other_app, "8637030400", online=5, abnormal=5, offline=0, never_seen=1)
    command(mine[0], CommandStatus.PENDING)
    command(mine[1], CommandStatus.PENDING)
    command(mine[2], CommandStatus.FAILED)
    command(theirs[0], CommandStatus.FAILED)
    PushTarget.objects.create(application=personas.app.application, host="203.0.113.9", port=80)
    PushTarget.objects.create(
        application=personas.app.application, host="203.0.113.10", port=80, blacklisted_until=timezone.now()
    )
    PushTarget.objects.create(
        application=personas.other_app.application, host="203.0.113.11", port=80, blacklisted_until=timezone.now()
    )
    return personas
