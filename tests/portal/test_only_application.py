"""The only application an account can choose is preselected on every form that asks for one (issue 20, item 6)."""

from __future__ import annotations

import re

import pytest

from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db

FORMS = ["/devices/register/", "/devices/bulk/", "/devices/groups/", "/subscriptions/", "/firmware/packages/"]


def _application_select(page: str) -> str:
    return re.search(r'<select name="application"[^>]*>(.*?)</select>', page, re.S).group(1)


@pytest.mark.parametrize("path", FORMS)
def test_a_member_of_one_application_finds_it_selected(client, path):
    personas = create_personas()
    client.force_login(personas.owner)
    options = re.findall(r"<option[^>]*>", _application_select(client.get(path).content.decode()))
    assert options == [f'<option value="{personas.app.app_id}" selected>']


@pytest.mark.parametrize("path", FORMS)
def test_an_operator_with_two_applications_chooses(client, path):
    personas = create_personas()
    client.force_login(personas.operator)
    select = _application_select(client.get(path).content.decode())
    assert '<option value="" selected>' in select  # nothing chosen for them
    assert personas.app.app_id in select and personas.other_app.app_id in select
