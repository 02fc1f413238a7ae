"""Applications pages, tried by every persona; a denied call changes nothing."""

from applications.models import Application, Membership
from tests.applications.fixtures import login


def test_anonymous_is_sent_to_login(client, personas):
    response = client.get("/apps/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_member_lists_only_its_applications(client, personas):
    client.force_login(personas.owner)
    page = client.get("/apps/").content.decode()
    assert personas.app.app_id in page
    assert personas.other_app.app_id not in page


def test_operator_lists_every_application(client, personas):
    client.force_login(personas.operator)
    page = client.get("/apps/").content.decode()
    assert personas.app.app_id in page and personas.other_app.app_id in page


def test_search_narrows_the_list_as_an_htmx_fragment(client, personas):
    client.force_login(personas.operator)
    response = client.get("/apps/?q=gas", headers={"HX-Request": "true"})
    page = response.content.decode()
    assert "<html" not in page
    assert personas.other_app.app_id in page and personas.app.app_id not in page


def test_list_query_count_does_not_grow_with_length(client, personas, django_assert_max_num_queries):
    from tests.applications.fixtures import create_app

    for number in range(20):
        create_app(f"Extra {number}", login=False)
    client.force_login(personas.operator)
    with django_assert_max_num_queries(6):
        assert client.get("/apps/").status_code == 200


def test_outsider_gets_404_for_another_applications_page(client, personas):
    client.force_login(personas.outsider)
    assert client.get(f"/apps/{personas.app.app_id}/").status_code == 404


def test_viewer_cannot_reset_the_secret(client, personas):
    before = Application.objects.get(pk=personas.app.application.pk).secret_hash
    client.force_login(personas.viewer)
    response = client.post(f"/apps/{personas.app.app_id}/reset-secret/")
    assert response.status_code == 403
    assert Application.objects.get(pk=personas.app.application.pk).secret_hash == before


def test_outsider_cannot_reset_the_secret(client, personas):
    client.force_login(personas.outsider)
    assert client.post(f"/apps/{personas.app.app_id}/reset-secret/").status_code == 404
    assert login(client, personas.app.app_id, personas.app.secret).status_code == 200


def test_owner_resets_the_secret_and_sees_it_once(client, personas):
    client.force_login(personas.owner)
    response = client.post(f"/apps/{personas.app.app_id}/reset-secret/", headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200
    new_secret = page.split("data-secret>")[1].split("<")[0]
    assert login(client, personas.app.app_id, personas.app.secret).status_code == 401
    assert login(client, personas.app.app_id, new_secret).status_code == 200
    assert new_secret not in client.get(f"/apps/{personas.app.app_id}/").content.decode()


def test_only_operators_create_applications(client, personas):
    client.force_login(personas.owner)
    response = client.post("/apps/new/", _settings_form(name="Sneaky"))
    assert response.status_code == 403
    assert not Application.objects.filter(name="Sneaky").exists()


def test_operator_creates_an_application_and_sees_its_secret_once(client, personas):
    client.force_login(personas.operator)
    response = client.post("/apps/new/", _settings_form(name="Street lights"))
    page = response.content.decode()
    application = Application.objects.get(name="Street lights")
    secret = page.split("data-secret>")[1].split("<")[0]
    assert login(client, application.app_id, secret).status_code == 200


def test_settings_edit_shows_the_rule_beside_the_field_and_changes_nothing(client, personas):
    client.force_login(personas.owner)
    response = client.post(
        f"/apps/{personas.app.app_id}/edit/", _settings_form(abnormal_after=7200, offline_after=3600)
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_offline_after-error"' in page or "id_offline_after" in page
    assert "must be longer than the abnormal time" in page
    assert Application.objects.get(pk=personas.app.application.pk).offline_after == 49 * 3600


def test_retention_over_90_days_is_refused(client, personas):
    client.force_login(personas.owner)
    response = client.post(f"/apps/{personas.app.app_id}/edit/", _settings_form(data_retention_days=91))
    assert "data_retention_days" in response.content.decode()
    assert Application.objects.get(pk=personas.app.application.pk).data_retention_days == 7


def test_owner_saves_settings(client, personas):
    client.force_login(personas.owner)
    response = client.post(f"/apps/{personas.app.app_id}/edit/", _settings_form(storage_mode="", api_rate_limit=500))
    assert response.status_code == 302
    application = Application.objects.get(pk=personas.app.application.pk)
    assert application.storage_mode is False
    assert application.api_rate_limit == 500


def test_viewer_cannot_edit_settings(client, personas):
    client.force_login(personas.viewer)
    response = client.post(f"/apps/{personas.app.app_id}/edit/", _settings_form(api_rate_limit=5))
    assert response.status_code == 403
    assert Application.objects.get(pk=personas.app.application.pk).api_rate_limit == 100


def test_owner_adds_and_removes_a_member(client, personas):
    client.force_login(personas.owner)
    client.post(f"/apps/{personas.app.app_id}/members/", {"username": "oscar", "role": "developer"})
    membership = Membership.objects.get(application=personas.app.application, user=personas.outsider)
    assert membership.role == "developer"
    client.post(f"/apps/{personas.app.app_id}/members/{personas.outsider.pk}/remove/")
    assert not Membership.objects.filter(application=personas.app.application, user=personas.outsider).exists()


def test_adding_an_unknown_account_names_it(client, personas):
    client.force_login(personas.owner)
    response = client.post(f"/apps/{personas.app.app_id}/members/", {"username": "nobody", "role": "viewer"})
    assert "nobody" in response.content.decode()
    assert Membership.objects.filter(application=personas.app.application).count() == 2


def test_viewer_cannot_add_members(client, personas):
    client.force_login(personas.viewer)
    response = client.post(f"/apps/{personas.app.app_id}/members/", {"username": "oscar", "role": "owner"})
    assert response.status_code == 403
    assert not Membership.objects.filter(application=personas.app.application, user=personas.outsider).exists()


def _settings_form(**overrides):
    form = {
        "name": "Water utility",
        "storage_mode": "on",
        "push_protocol": "HTTPS",
        "abnormal_after": 90000,
        "offline_after": 176400,
        "data_retention_days": 7,
        "device_quota": 10000,
        "api_rate_limit": 100,
        "device_uplink_limit": 1200,
        "uplink_rate_limit": 120,
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value != ""}
