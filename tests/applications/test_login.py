import json

from applications.models import Application, ApplicationToken, hash_secret
from tests.applications.fixtures import create_app, login

LOGIN = "/iocm/app/sec/v1.1.0/login"


def test_login_returns_the_originals_token_body(client, db):
    # given
    credentials = create_app(login=False)
    # when
    response = login(client, credentials.app_id, credentials.secret)
    # then
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["accessToken", "tokenType", "refreshToken", "expiresIn", "scope"]
    assert body["tokenType"] == "bearer"
    assert body["expiresIn"] == 3600
    assert body["scope"] == "default"
    assert len(body["accessToken"]) == 32 and len(body["refreshToken"]) == 32


def test_tokens_and_secret_are_stored_only_as_hashes(client, db):
    credentials = create_app(login=False)
    body = login(client, credentials.app_id, credentials.secret).json()
    token = ApplicationToken.objects.get(application=credentials.application)
    stored = json.dumps([*ApplicationToken.objects.values(), *Application.objects.values()], default=str)
    assert body["accessToken"] not in stored
    assert body["refreshToken"] not in stored
    assert credentials.secret not in stored
    assert token.access_hash == hash_secret(body["accessToken"])


def test_a_new_login_ends_the_previous_access_token(client, db):
    credentials = create_app(login=False)
    first = login(client, credentials.app_id, credentials.secret).json()["accessToken"]
    second = login(client, credentials.app_id, credentials.secret).json()["accessToken"]
    url = f"/iocm/app/am/v1.1.0/applications/{credentials.app_id}"

    old = client.get(url, headers={"app_key": credentials.app_id, "Authorization": f"Bearer {first}"})
    new = client.get(url, headers={"app_key": credentials.app_id, "Authorization": f"Bearer {second}"})

    assert old.status_code == 403
    assert old.json() == {"resultcode": "1010005", "resultmsg": "Invalid access token or appId."}
    assert new.status_code == 200


def test_wrong_secret_is_401_100208_and_issues_nothing(client, db):
    credentials = create_app(login=False)
    response = login(client, credentials.app_id, "not-the-secret")
    assert response.status_code == 401
    assert response.json() == {"error_code": "100208", "error_desc": "AppId or secret is not right."}
    assert not ApplicationToken.objects.exists()


def test_unknown_app_id_is_401_100208(client, db):
    response = login(client, "NoSuchApplication", "whatever")
    assert response.status_code == 401
    assert response.json()["error_code"] == "100208"


def test_secret_of_another_application_is_refused(client, owner_app, other_app):
    response = login(client, owner_app.app_id, other_app.secret)
    assert response.status_code == 401
    assert response.json()["error_code"] == "100208"


def test_json_body_is_refused_with_100022(client, db):
    credentials = create_app(login=False)
    response = client.post(
        LOGIN, json.dumps({"appId": credentials.app_id, "secret": credentials.secret}), content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "100022"
    assert "application/json" in body["error_desc"]
    assert not ApplicationToken.objects.exists()


def test_missing_fields_name_the_field(client, db):
    response = client.post(LOGIN, {"appId": "abc"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
    assert "secret" in response.json()["error_desc"]


def test_over_long_app_id_is_100022(client, db):
    response = client.post(LOGIN, {"appId": "a" * 65, "secret": "x"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
    assert "appId" in response.json()["error_desc"]


def test_get_is_not_a_login(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 405
    assert response.json()["error_code"] == "100007"


def test_inactive_application_cannot_log_in(client, db):
    credentials = create_app(login=False)
    Application.objects.filter(pk=credentials.application.pk).update(is_active=False)
    assert login(client, credentials.app_id, credentials.secret).status_code == 401
