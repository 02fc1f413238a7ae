"""The portal shell: login, dashboard, accounts, language, health."""

from django.contrib.auth import get_user_model

from applications import redis as app_redis


def test_login_page_signs_in_and_lands_on_the_dashboard(client, personas):
    response = client.post("/login/", {"username": "olivia", "password": "correct horse 9"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_password_says_so(client, personas):
    response = client.post("/login/", {"username": "olivia", "password": "wrong"})
    assert response.status_code == 200
    assert "not right" in response.content.decode()


def test_dashboard_offers_only_visible_applications(client, personas):
    client.force_login(personas.owner)
    assert client.get("/").context["applications"] == [personas.app.application]
    client.force_login(personas.operator)
    assert len(client.get("/").context["applications"]) == 2


def test_navigation_shows_both_areas(client, personas):
    client.force_login(personas.owner)
    page = client.get("/").content.decode()
    assert "Management Portal" in page and "Developer Center" in page
    assert "/accounts/" not in page  # operators only


def test_accounts_page_is_for_operators_only(client, personas):
    client.force_login(personas.owner)
    assert client.get("/accounts/").status_code == 403
    assert client.post("/accounts/new/", {"username": "x", "password": "long enough 1"}).status_code == 403
    assert not get_user_model().objects.filter(username="x").exists()


def test_operator_creates_an_account_with_a_role(client, personas):
    client.force_login(personas.operator)
    response = client.post(
        "/accounts/new/",
        {"username": "dana", "password": "long enough 1", "application": personas.app.app_id, "role": "developer"},
    )
    assert response.status_code == 302
    dana = get_user_model().objects.get(username="dana")
    assert dana.memberships.get().role == "developer"
    assert client.login(username="dana", password="long enough 1")


def test_account_with_a_weak_password_is_refused(client, personas):
    client.force_login(personas.operator)
    response = client.post("/accounts/new/", {"username": "eve", "password": "short", "role": "viewer"})
    assert "password" in response.content.decode().lower()
    assert not get_user_model().objects.filter(username="eve").exists()


def test_language_switch_to_simplified_chinese(client, personas):
    client.force_login(personas.owner)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    page = client.get("/").content.decode()
    assert 'lang="zh-hans"' in page
    assert "管理门户" in page  # "Management Portal"


def test_healthz_reports_database_and_redis(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_is_503_naming_redis_when_it_is_down(client, db, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(app_redis, "_client", None)  # made again, from the setting above
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")
    assert response.json()["database"] == "ok"


def test_livez_touches_nothing(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/livez").content == b"ok"
