"""The register form's application and product pickers (issue 20, item 6): past PICK_LIMIT choices a field
is a search-as-you-type combobox that lists none of them and shows the current value's label; the field
validates as before (a forged id is refused with its own error); a small list stays a select, with the
only application preselected."""

from __future__ import annotations

import re

import pytest

from applications.forms import preselect_only_application
from applications.models import Application
from devices.forms import RegisterForm
from devices.models import Device
from tests.applications.fixtures import many_applications
from tests.portal.fixtures import create_personas
from tests.products.codecs.fixtures import meter
from tests.products.fixtures import copies_of

pytestmark = pytest.mark.django_db
INVALID = "Select a valid choice. That choice is not one of the available choices."


@pytest.fixture
def personas(no_wake):
    personas = create_personas()
    personas.meter = meter(personas.app)
    personas.mine = copies_of(personas.meter, 25, device_type="Sensor", model="s")
    personas.theirs = copies_of(personas.meter, 1, application=personas.other_app.application, model="x")[0]
    return personas


def field_html(page: str, name: str) -> str:
    start = page.index(f'<label for="id_{name}">')
    return page[start : page.index('<div class="field', start)]


def test_many_products_are_a_picker_and_the_only_application_a_chosen_select(client, personas):
    client.force_login(personas.owner)
    page = client.get("/devices/register/").content.decode()
    product = field_html(page, "product")
    assert 'role="combobox"' in product and 'id="id_product"' in product
    assert '<input type="hidden" name="product" value=""' in product
    assert "/products/pick/?editable=1&amp;qname=product-q&amp;listbox=id_product-list" in product
    assert "Sensor0" not in page  # no product is listed
    application = field_html(page, "application")
    assert "<select" in application and 'role="combobox"' not in application
    assert re.findall(r"<option[^>]*>", application) == [f'<option value="{personas.app.application.app_id}" selected>']


def test_a_product_from_another_application_is_refused_with_the_fields_error(client, personas):
    client.force_login(personas.owner)
    form = {"application": personas.app.application.app_id, "node_id": "867000000000010",
            "product": str(personas.theirs.product_id)}  # fmt: skip
    response = client.post("/devices/register/", form)
    assert response.context["form"].errors["product"] == [INVALID]
    assert not Device.objects.exists()
    response = client.post("/devices/register/", {**form, "product": "not-a-uuid"})
    assert response.context["form"].errors["product"] == ["“not-a-uuid” is not a valid UUID."]
    assert 'value="not-a-uuid"' in field_html(response.content.decode(), "product")  # kept, with no label


def test_a_bound_product_shows_its_label_and_a_valid_one_registers(client, personas):
    client.force_login(personas.owner)
    chosen = personas.mine[7]
    page = client.post(
        "/devices/register/",
        {
            "application": personas.app.application.app_id,
            "node_id": "1",
            "product": str(chosen.product_id),
            "psk": "zz",
        },
    ).content.decode()
    product = field_html(page, "product")
    assert 'value="Sensor007 · Maker 007 · s007"' in product and f'value="{chosen.product_id}"' in product
    client.post(
        "/devices/register/",
        {
            "application": personas.app.application.app_id,
            "node_id": "867000000000010",
            "product": str(chosen.product_id),
        },
    )
    assert Device.objects.get().model == "s007"


def test_an_operator_with_many_applications_gets_an_application_picker(client, personas):
    many_applications(25)
    client.force_login(personas.operator)
    page = client.get("/devices/register/").content.decode()
    application = field_html(page, "application")
    assert 'role="combobox"' in application and "/apps/pick/?editable=1&amp;" in application
    assert "Harbour 0" not in page
    response = client.post("/devices/register/", {"application": "no-such-app", "node_id": "867000000000010"})
    assert response.context["form"].errors["application"] == [INVALID]


def test_preselection_holds_for_one_application_and_not_for_two(personas):
    form = RegisterForm(applications=Application.objects.filter(pk=personas.app.application.pk))
    assert form["application"].value() == personas.app.application.app_id
    two = Application.objects.filter(pk__in=[personas.app.application.pk, personas.other_app.application.pk])
    field = RegisterForm(applications=two).fields["application"]
    preselect_only_application(field)
    assert field.initial is None and field.empty_label is not None
