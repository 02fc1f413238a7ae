"""GET /api/v1/profiles: the calling application's own profiles, paged."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from products import locks
from tests.products.fixtures import import_files, simple_files

URL = "/api/v1/profiles"


def _import_many(credentials, count: int, prefix: str = "m") -> None:
    for number in range(count):
        import_files(credentials, simple_files(model=f"{prefix}{number:03d}"))


def test_the_owner_lists_only_its_own_profiles(client, owner_app, other_app):
    import_files(owner_app)
    import_files(other_app, simple_files())
    body = client.get(URL, headers=owner_app.headers()).json()
    assert body["totalCount"] == 1
    assert [(p["deviceType"], p["model"]) for p in body["profiles"]] == [("WaterMeter", "v1001")]
    assert body["profiles"][0]["serviceCount"] == 3
    assert "serviceCapabilities" not in body["profiles"][0]


def test_another_application_sees_none_of_them(client, owner_app, other_app):
    import_files(owner_app)
    body = client.get(URL, headers=other_app.headers()).json()
    assert body == {"totalCount": 0, "pageNo": 0, "pageSize": 25, "profiles": []}


def test_anonymous_is_refused(client, owner_app):
    import_files(owner_app)
    response = client.get(URL)
    assert response.status_code == 403
    assert "profiles" not in response.json()


def test_pages_start_at_zero(client, owner_app):
    _import_many(owner_app, 5)
    first = client.get(URL, {"pageNo": 0, "pageSize": 2}, headers=owner_app.headers()).json()
    last = client.get(URL, {"pageNo": 2, "pageSize": 2}, headers=owner_app.headers()).json()
    assert first["totalCount"] == 5
    assert [p["model"] for p in first["profiles"]] == ["m000", "m001"]
    assert [p["model"] for p in last["profiles"]] == ["m004"]


def test_filters_by_the_original_fields(client, owner_app):
    _import_many(owner_app, 3)
    import_files(owner_app)
    body = client.get(URL, {"deviceType": "WaterMeter"}, headers=owner_app.headers()).json()
    assert [p["model"] for p in body["profiles"]] == ["v1001"]
    body = client.get(URL, {"model": "m001"}, headers=owner_app.headers()).json()
    assert [p["model"] for p in body["profiles"]] == ["m001"]


def test_a_bad_page_size_is_100022_naming_it(client, owner_app):
    response = client.get(URL, {"pageSize": 1000}, headers=owner_app.headers())
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
    assert "pageSize" in response.json()["error_desc"]


def test_the_query_count_does_not_grow_with_the_list(client, owner_app, registered_devices, django_assert_num_queries):
    # given: two products, and a device counter as the devices app registers one
    _import_many(owner_app, 2)
    with CaptureQueriesContext(connection) as short:
        client.get(URL, {"pageSize": 100}, headers=owner_app.headers())
    # the token, the count, the page, and one query per device counter at most
    assert len(short.captured_queries) <= 3 + len(locks._counters)
    # when the list is 16 times longer
    _import_many(owner_app, 30, prefix="n")
    # then
    with django_assert_num_queries(len(short.captured_queries)):
        body = client.get(URL, {"pageSize": 100}, headers=owner_app.headers()).json()
    assert len(body["profiles"]) == 32
    assert len(registered_devices.queries) == 2
