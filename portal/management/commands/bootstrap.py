"""`python manage.py bootstrap`: the first operator account and a demo application, once."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from applications.actions import do_create_application
from applications.models import Application
from portal.env import data_dir


class Command(BaseCommand):
    help = (
        "Create an operator account and a demo application if none exist, and print their credentials. "
        "Their clear values are kept in DATA_DIR/first-run-credentials.txt (mode 600) for later runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--urls", nargs="*", default=[], help="lines to print after the credentials")

    def handle(self, *args, urls: list[str], **options) -> None:
        path = data_dir() / "first-run-credentials.txt"
        lines: list[str] = []
        with transaction.atomic():
            User = get_user_model()
            if not User.objects.exists():
                password = secrets.token_urlsafe(12)
                User.objects.create_user(username="operator", password=password, is_staff=True, is_superuser=True)
                lines += ["Portal operator account:", "  user:     operator", f"  password: {password}"]
            if not Application.objects.exists():
                application, secret = do_create_application("Demo application")
                lines += [
                    "Demo application (northbound API):",
                    f"  appId:  {application.app_id}",
                    f"  secret: {secret}",
                ]
        if lines:
            previous = path.read_text() if path.exists() else ""
            path.write_text(previous + "\n".join(lines) + "\n")
            path.chmod(0o600)
        banner = "=" * 72
        self.stdout.write(banner)
        if path.exists():
            self.stdout.write(f"First-run credentials (kept in {path}; a reset in the portal replaces them):")
            self.stdout.write(path.read_text().rstrip())
        else:
            self.stdout.write("Accounts and applications exist already; their secrets are not stored in clear.")
        for line in urls:
            self.stdout.write(line)
        self.stdout.write(banner)
