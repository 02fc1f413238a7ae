import json

from applications.models import Application


def _put(client, credentials, body, app_id=None):
    url = f"/iocm/app/am/v1.1.0/applications/{app_id or credentials.app_id}"
    return client.put(url, json.dumps(body), content_type="application/json", headers=credentials.headers())


def test_modify_status_thresholds_as_the_original_clients_send_them(client, owner_app):
    # The original's demo sends the numbers as strings.
    response = _put(client, owner_app, {"deviceStatusTimeConfig": {"abnormalTime": "3600", "offlineTime": "7200"}})
    assert response.status_code == 204
    application = Application.objects.get(pk=owner_app.application.pk)
    assert (application.abnormal_after, application.offline_after) == (3600, 7200)


def test_get_shows_the_settings(client, owner_app):
    body = client.get(f"/iocm/app/am/v1.1.0/applications/{owner_app.app_id}", headers=owner_app.headers()).json()
    assert body["deviceStatusTimeConfig"] == {"abnormalTime": 90000, "offlineTime": 176400}
    assert body["dataAgingTime"] == 7
    assert body["flowControl"] == {"calls": 100, "windowSeconds": 60}


def test_abnormal_not_before_offline_is_100022_naming_the_field(client, owner_app):
    response = _put(client, owner_app, {"deviceStatusTimeConfig": {"abnormalTime": 7200, "offlineTime": 3600}})
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
    assert "offlineTime" in response.json()["error_desc"]
    assert Application.objects.get(pk=owner_app.application.pk).abnormal_after == 25 * 3600


def test_non_number_is_100022(client, owner_app):
    response = _put(client, owner_app, {"deviceStatusTimeConfig": {"abnormalTime": "soon"}})
    assert response.status_code == 400
    assert "abnormalTime" in response.json()["error_desc"]


def test_missing_config_is_100022(client, owner_app):
    response = _put(client, owner_app, {})
    assert response.status_code == 400
    assert "deviceStatusTimeConfig" in response.json()["error_desc"]


def test_another_application_cannot_modify_it(client, owner_app, other_app):
    response = _put(client, other_app, {"deviceStatusTimeConfig": {"abnormalTime": 600}}, app_id=owner_app.app_id)
    assert response.status_code == 403
    assert response.json()["error_code"] == "100217"
    assert Application.objects.get(pk=owner_app.application.pk).abnormal_after == 25 * 3600


def test_another_application_cannot_read_it(client, owner_app, other_app):
    response = client.get(f"/iocm/app/am/v1.1.0/applications/{owner_app.app_id}", headers=other_app.headers())
    assert response.status_code == 403


def test_anonymous_cannot_modify_it(client, owner_app):
    url = f"/iocm/app/am/v1.1.0/applications/{owner_app.app_id}"
    body = json.dumps({"deviceStatusTimeConfig": {"abnormalTime": 600}})
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 403
    assert Application.objects.get(pk=owner_app.application.pk).abnormal_after == 25 * 3600
