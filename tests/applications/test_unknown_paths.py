"""Northbound paths the platform does not serve, or methods a path does not take, answer the
original's JSON error, never the portal's HTML page."""

import pytest

NOT_FOUND = {"error_code": "200001", "error_desc": "The resource is not found"}


@pytest.mark.parametrize(
    "path",
    [
        "/iocm/app/nothing/v1.1.0/here",
        "/iocm/",
        "/iodm/northbound/v9.9.9/category",
        "/iocm/app/sec/v1.1.0/login/",  # a trailing slash the original does not take
        "/iocm/app/dm/v1.4.0/devices/x/y/z",
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_an_unknown_path_is_json_404(client, owner_app, path, method):
    response = getattr(client, method)(path, headers=owner_app.headers())
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_anonymous_callers_get_the_same_json_404(client):
    response = client.get("/iocm/app/nothing")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_method_a_path_does_not_take_is_json_405(client, owner_app):
    response = client.get("/iocm/app/sec/v1.1.0/login")
    assert response.status_code == 405
    assert response.json()["error_code"] == "100007"
    response = client.patch("/iocm/app/devgroup/v1.3.0/devGroups", headers=owner_app.headers())
    assert response.status_code == 405
    assert response.json()["error_code"] == "100007"


def test_portal_paths_keep_their_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
