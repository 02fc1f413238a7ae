"""`python manage.py send_event APP_ID KIND [--data JSON]`: publish a live event from outside the web process."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from applications import events
from applications.models import Application


class Command(BaseCommand):
    help = "Send a live event to the portal pages of an application's viewers and of operators."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app_id", help="the application's appId")
        parser.add_argument("kind", help="a short event name, such as maintenance.notice")
        parser.add_argument("--data", default="{}", help="a JSON object carried with the event")

    def handle(self, *args, app_id: str, kind: str, data: str, **options) -> None:
        application = Application.objects.filter(app_id=app_id).first()
        if application is None:
            raise CommandError(f"no application has appId {app_id!r}")
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as error:
            raise CommandError(f"--data is not JSON: {error.msg} at character {error.pos}") from None
        if not isinstance(payload, dict):
            raise CommandError("--data must be a JSON object")
        events.publish(application.pk, kind, payload)
        events.flush()
        self.stdout.write(f"sent {kind} to {app_id}")
