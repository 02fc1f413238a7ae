import datetime as dt
import json

import time_machine

from applications.models import ApplicationToken

REFRESH = "/iocm/app/sec/v1.1.0/refreshToken"


def _refresh_json(client, credentials, refresh_token=None, secret=None):
    body = {
        "appId": credentials.app_id,
        "secret": secret or credentials.secret,
        "refreshToken": refresh_token or credentials.refresh_token,
    }
    return client.post(REFRESH, json.dumps(body), content_type="application/json")


def _app_url(credentials):
    return f"/iocm/app/am/v1.1.0/applications/{credentials.app_id}"


def test_refresh_with_json_returns_a_new_pair(client, owner_app):
    response = _refresh_json(client, owner_app)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["accessToken", "tokenType", "refreshToken", "expiresIn", "scope"]
    assert body["accessToken"] != owner_app.access_token
    assert body["refreshToken"] != owner_app.refresh_token


def test_refresh_accepts_a_form_body_as_some_clients_send(client, owner_app):
    response = client.post(
        REFRESH, {"appId": owner_app.app_id, "secret": owner_app.secret, "refreshToken": owner_app.refresh_token}
    )
    assert response.status_code == 200


def test_refresh_ends_the_previous_access_token(client, owner_app):
    new_token = _refresh_json(client, owner_app).json()["accessToken"]
    old = client.get(_app_url(owner_app), headers=owner_app.headers())
    owner_app.access_token = new_token
    new = client.get(_app_url(owner_app), headers=owner_app.headers())
    assert old.status_code == 403
    assert new.status_code == 200


def test_a_used_refresh_token_cannot_be_used_again(client, owner_app):
    assert _refresh_json(client, owner_app).status_code == 200
    again = _refresh_json(client, owner_app)
    assert again.status_code == 401
    assert again.json() == {"error_code": "100006", "error_desc": "Refresh access token failed."}


def test_refresh_token_of_another_application_is_100006(client, owner_app, other_app):
    before = ApplicationToken.objects.get(application=owner_app.application).access_hash
    response = _refresh_json(client, owner_app, refresh_token=other_app.refresh_token)
    assert response.status_code == 401
    assert response.json()["error_code"] == "100006"
    assert ApplicationToken.objects.get(application=owner_app.application).access_hash == before


def test_refresh_token_expires_after_30_days(client, owner_app):
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=30, seconds=1)):
        response = _refresh_json(client, owner_app)
    assert response.status_code == 401
    assert response.json()["error_code"] == "100006"


def test_refresh_token_still_works_on_day_29(client, owner_app):
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=29)):
        assert _refresh_json(client, owner_app).status_code == 200


def test_wrong_secret_is_100208(client, owner_app):
    response = _refresh_json(client, owner_app, secret="wrong")
    assert response.status_code == 401
    assert response.json()["error_code"] == "100208"


def test_missing_refresh_token_is_100022(client, owner_app):
    response = client.post(
        REFRESH, json.dumps({"appId": owner_app.app_id, "secret": owner_app.secret}), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
    assert "refreshToken" in response.json()["error_desc"]


def test_malformed_json_is_100022(client, owner_app):
    response = client.post(REFRESH, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
