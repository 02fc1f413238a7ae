"""The portal's product list: the account's applications only, searchable, constant query count."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from products import locks
from tests.products.fixtures import import_files, simple_files


def test_anonymous_is_sent_to_login(client, personas):
    response = client.get("/products/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_members_see_their_applications_products_only(client, personas):
    import_files(personas.app)
    import_files(personas.other_app, simple_files(device_type="GasMeter"))
    for member in (personas.owner, personas.developer, personas.viewer):
        client.force_login(member)
        page = client.get("/products/").content.decode()
        assert "WaterMeter" in page
        assert "GasMeter" not in page


def test_an_outsider_sees_only_its_own(client, personas):
    import_files(personas.app)
    import_files(personas.other_app, simple_files(device_type="GasMeter"))
    client.force_login(personas.outsider)
    page = client.get("/products/").content.decode()
    assert "GasMeter" in page and "WaterMeter" not in page


def test_operators_see_every_product(client, personas):
    import_files(personas.app)
    import_files(personas.other_app, simple_files(device_type="GasMeter"))
    client.force_login(personas.operator)
    page = client.get("/products/").content.decode()
    assert "GasMeter" in page and "WaterMeter" in page


def test_search_narrows_the_list_as_an_htmx_fragment(client, personas):
    import_files(personas.app)
    import_files(personas.app, simple_files(device_type="GasMeter", model="g1"))
    client.force_login(personas.owner)
    by_type = client.get("/products/?q=gas", headers={"HX-Request": "true"}).content.decode()
    by_service = client.get("/products/?q=waterMeterAlarm", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in by_type
    assert "GasMeter" in by_type and "WaterMeter" not in by_type
    assert "WaterMeter" in by_service and "GasMeter" not in by_service


def test_viewers_get_no_create_buttons(client, personas):
    client.force_login(personas.viewer)
    page = client.get("/products/").content.decode()
    assert "/products/upload/" not in page
    client.force_login(personas.developer)
    assert "/products/upload/" in client.get("/products/").content.decode()


def test_the_query_count_does_not_grow_with_the_list(client, personas, registered_devices, django_assert_num_queries):
    import_files(personas.app, simple_files(model="first"))
    client.force_login(personas.owner)
    with CaptureQueriesContext(connection) as short:
        assert client.get("/products/").status_code == 200
    # session, account, count, page, whether the account may create products; one per device counter
    assert len(short.captured_queries) <= 5 + len(locks._counters)
    for number in range(30):
        import_files(personas.app, simple_files(model=f"m{number:02d}"))
    with django_assert_num_queries(len(short.captured_queries)):
        page = client.get("/products/").content.decode()
    assert page.count("<tr>") == 31 + 1  # rows and the header


def test_long_lists_are_paged(client, personas):
    for number in range(55):
        import_files(personas.app, simple_files(model=f"m{number:02d}"))
    client.force_login(personas.owner)
    first = client.get("/products/").content.decode()
    second = client.get("/products/?page=2").content.decode()
    assert "m00" in first and "m54" not in first
    assert "m54" in second
    assert "Page 2 of 2" in second
