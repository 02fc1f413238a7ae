"""Every authenticated call goes through these checks; the application call stands in for all."""

import datetime as dt

import time_machine

from applications.models import Application

GATEWAY_1010005 = {"resultcode": "1010005", "resultmsg": "Invalid access token or appId."}


def _url(credentials):
    return f"/iocm/app/am/v1.1.0/applications/{credentials.app_id}"


def test_owner_with_app_key_and_bearer_token_is_served(client, owner_app):
    response = client.get(_url(owner_app), headers=owner_app.headers())
    assert response.status_code == 200
    assert response.json()["appId"] == owner_app.app_id


def test_anonymous_call_is_403_1010005(client, owner_app):
    response = client.get(_url(owner_app))
    assert response.status_code == 403
    assert response.json() == GATEWAY_1010005


def test_token_without_app_key_is_400_100220(client, owner_app):
    response = client.get(_url(owner_app), headers={"Authorization": f"Bearer {owner_app.access_token}"})
    assert response.status_code == 400
    assert response.json() == {"error_code": "100220", "error_desc": "Get AppKey from header failed."}


def test_app_key_without_token_is_1010005(client, owner_app):
    response = client.get(_url(owner_app), headers={"app_key": owner_app.app_id})
    assert response.status_code == 403
    assert response.json() == GATEWAY_1010005


def test_another_applications_token_is_refused(client, owner_app, other_app):
    headers = {"app_key": owner_app.app_id, "Authorization": f"Bearer {other_app.access_token}"}
    response = client.get(_url(owner_app), headers=headers)
    assert response.status_code == 403
    assert response.json() == GATEWAY_1010005


def test_app_key_naming_no_application_is_1010005(client, owner_app):
    headers = {"app_key": "NoSuchApp", "Authorization": f"Bearer {owner_app.access_token}"}
    assert client.get(_url(owner_app), headers=headers).json() == GATEWAY_1010005


def test_wrong_token_is_1010005(client, owner_app):
    headers = {"app_key": owner_app.app_id, "Authorization": "Bearer " + "0" * 32}
    assert client.get(_url(owner_app), headers=headers).status_code == 403


def test_token_expires_after_3600_seconds(client, owner_app):
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3601)):
        response = client.get(_url(owner_app), headers=owner_app.headers())
    assert response.status_code == 403
    assert response.json() == GATEWAY_1010005


def test_token_still_valid_before_3600_seconds(client, owner_app):
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3590)):
        assert client.get(_url(owner_app), headers=owner_app.headers()).status_code == 200


def test_bearer_scheme_is_case_insensitive(client, owner_app):
    for scheme in ("bearer", "BEARER", "Bearer"):
        headers = {"app_key": owner_app.app_id, "Authorization": f"{scheme} {owner_app.access_token}"}
        assert client.get(_url(owner_app), headers=headers).status_code == 200


def test_x_app_key_is_accepted(client, owner_app):
    headers = {"x-app-key": owner_app.app_id, "Authorization": f"Bearer {owner_app.access_token}"}
    assert client.get(_url(owner_app), headers=headers).status_code == 200


def test_app_id_query_naming_another_application_is_100217(client, owner_app, other_app):
    response = client.get(_url(owner_app) + f"?appId={other_app.app_id}", headers=owner_app.headers())
    assert response.status_code == 403
    assert response.json()["error_code"] == "100217"


def test_app_id_query_naming_itself_is_served(client, owner_app):
    response = client.get(_url(owner_app) + f"?appId={owner_app.app_id}", headers=owner_app.headers())
    assert response.status_code == 200


def test_inactive_application_token_stops_working(client, owner_app):
    Application.objects.filter(pk=owner_app.application.pk).update(is_active=False)
    assert client.get(_url(owner_app), headers=owner_app.headers()).status_code == 403


def test_authentication_costs_one_query(client, owner_app, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get(_url(owner_app), headers=owner_app.headers()).status_code == 200
