"""GET /api/v1/codecs: the calling application's codecs, paged, in a constant number of queries."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.products.codecs.fixtures import deploy, meter

URL = "/api/v1/codecs"


def test_the_owner_lists_its_codecs(client, owner_app, other_app):
    deploy(meter(owner_app))
    deploy(meter(other_app, model="m2"))
    body = client.get(URL, headers=owner_app.headers()).json()
    assert body["totalCount"] == 1
    (codec,) = body["codecs"]
    assert (codec["model"], codec["activeVersion"], codec["format"], codec["versionCount"]) == ("m1", 1, "online", 1)
    assert "versions" not in codec


def test_another_application_sees_none_of_them(client, owner_app, other_app):
    deploy(meter(owner_app))
    assert client.get(URL, headers=other_app.headers()).json() == {
        "totalCount": 0,
        "pageNo": 0,
        "pageSize": 25,
        "codecs": [],
    }


def test_anonymous_is_refused(client, owner_app):
    deploy(meter(owner_app))
    response = client.get(URL)
    assert response.status_code == 403 and "codecs" not in response.json()


def test_pages(client, owner_app):
    for number in range(3):
        deploy(meter(owner_app, model=f"m{number}"))
    body = client.get(URL, {"pageNo": 1, "pageSize": 2}, headers=owner_app.headers()).json()
    assert (body["totalCount"], [codec["model"] for codec in body["codecs"]]) == (3, ["m2"])
    assert client.get(URL, {"pageSize": 0}, headers=owner_app.headers()).json()["error_code"] == "100022"


def test_the_query_count_does_not_grow_with_the_list(client, owner_app, django_assert_num_queries):
    deploy(meter(owner_app, model="a"))
    with CaptureQueriesContext(connection) as short:
        client.get(URL, headers=owner_app.headers())
    assert len(short.captured_queries) <= 3  # the token, the count, the page
    for number in range(8):
        product = meter(owner_app, model=f"b{number}")
        deploy(product)
        deploy(product)
    with django_assert_num_queries(len(short.captured_queries)):
        body = client.get(URL, headers=owner_app.headers()).json()
    assert len(body["codecs"]) == 9 and body["codecs"][-1]["versionCount"] == 2
