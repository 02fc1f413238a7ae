"""Portal personas: an operator, an application's owner and viewer, and a member of another application."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from applications.actions import do_add_member
from applications.models import Role
from tests.applications.fixtures import AppCredentials, create_app


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
