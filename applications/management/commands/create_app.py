"""`python manage.py create_app --name NAME --json`: credentials for scripts, tests and new users."""

from __future__ import annotations

import json as jsonlib

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from applications.actions import do_create_application


class Command(BaseCommand):
    help = "Create an application and print its appId and secret (the secret is shown only now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="the application's name (1 to 128 characters)")
        parser.add_argument("--owner", help="an existing portal account to make the application's owner")
        parser.add_argument("--rate-limit", type=int, help="northbound calls allowed per flow-control window")
        parser.add_argument("--json", action="store_true", help='print {"appId": ..., "secret": ...} only')

    def handle(self, *args, name: str, owner: str | None, rate_limit: int | None, json: bool, **options) -> None:
        name = name.strip()
        if not 1 <= len(name) <= 128:
            raise CommandError("--name must be 1 to 128 characters")
        owner_user = None
        if owner:
            owner_user = get_user_model().objects.filter(username=owner).first()
            if owner_user is None:
                raise CommandError(f"--owner: no account is named {owner!r}")
        fields = {}
        if rate_limit is not None:
            if rate_limit < 1:
                raise CommandError("--rate-limit must be at least 1")
            fields["api_rate_limit"] = rate_limit
        application, secret = do_create_application(name, owner=owner_user, **fields)
        if json:
            self.stdout.write(_dumps({"appId": application.app_id, "secret": secret}))
        else:
            self.stdout.write(f"Application {name!r} created.\n  appId:  {application.app_id}\n  secret: {secret}")
            self.stdout.write("The secret is shown only now; reset it in the portal if it is lost.")


def _dumps(value: dict) -> str:
    return jsonlib.dumps(value)
