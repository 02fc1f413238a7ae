"""Plain helpers that create applications and log them in."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.test import Client

from applications.actions import do_create_application, do_login
from applications.models import Application


@dataclass
class AppCredentials:
    application: Application
    secret: str
    access_token: str = ""
    refresh_token: str = ""

    @property
    def app_id(self) -> str:
        return self.application.app_id

    def headers(self) -> dict[str, str]:
        return {"app_key": self.app_id, "Authorization": f"Bearer {self.access_token}"}


def create_app(name: str = "Water utility", *, login: bool = True, **fields) -> AppCredentials:
    application, secret = do_create_application(name, **fields)
    credentials = AppCredentials(application, secret)
    if login:
        pair = do_login(application.app_id, secret)
        credentials.access_token, credentials.refresh_token = pair.access_token, pair.refresh_token
    return credentials


def login(client: Client, app_id: str, secret: str):
    return client.post("/iocm/app/sec/v1.1.0/login", {"appId": app_id, "secret": secret})


def many_applications(count: int, name: str = "Harbour") -> list[Application]:
    """`count` applications named `<name> NNN`, appId `<name>nnn` lower-cased (no member: the operator's)."""
    return Application.objects.bulk_create(
        Application(
            app_id=f"{name.lower()}{n:03d}", name=f"{name} {n:03d}", secret_hash="0" * 64,
            api_rate_limit=settings.NORTHBOUND_RATE_LIMIT,
        )
        for n in range(count)
    )  # fmt: skip
