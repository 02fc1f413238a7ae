"""The product page: services, properties and commands as tables; editing only for those who may."""

import uuid

from tests.products.fixtures import import_files


def _url(product) -> str:
    return f"/products/{product.product_id}/"


def test_the_page_shows_services_properties_and_commands(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.viewer)
    page = client.get(_url(product)).content.decode()
    for text in (
        'data-service="Electricity"',
        'data-property="voltage"',
        'data-property="flowRateReading"',
        'data-command="SET_HIGHFLOW_ALARM"',
        'data-para="highFlow"',
        "SET_HIGHFLOW_ALARM_RSP",
        'data-para="result"',
        "Mandatory",
    ):
        assert text in page


def test_viewers_read_without_edit_links(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.viewer)
    page = client.get(_url(product)).content.decode()
    assert "/properties/0/" not in page
    assert f"/products/{product.product_id}/delete/" not in page
    assert f"/products/{product.product_id}/export/" in page


def test_developers_get_edit_links(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.developer)
    page = client.get(_url(product)).content.decode()
    assert f"/products/{product.product_id}/services/0/properties/0/" in page
    assert f"/products/{product.product_id}/services/2/commands/0/responses/0/paras/0/" in page


def test_a_locked_product_says_how_many_devices_and_offers_no_editing(client, personas, registered_devices):
    product = import_files(personas.app)
    registered_devices(product, 2)
    client.force_login(personas.owner)
    page = client.get(_url(product)).content.decode()
    assert "Locked: 2 devices are registered with this product." in page
    assert "/properties/0/" not in page


def test_an_outsider_and_an_unknown_id_get_404(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.outsider)
    assert client.get(_url(product)).status_code == 404
    assert client.get(f"/products/{uuid.uuid4()}/").status_code == 404


def test_export_downloads_the_zip_for_members_only(client, personas):
    product = import_files(personas.app)
    client.force_login(personas.viewer)
    response = client.get(f"/products/{product.product_id}/export/")
    assert response.status_code == 200
    assert response.content == bytes(product.archive)
    assert product.archive_name in response["Content-Disposition"]
    client.force_login(personas.outsider)
    assert client.get(f"/products/{product.product_id}/export/").status_code == 404
