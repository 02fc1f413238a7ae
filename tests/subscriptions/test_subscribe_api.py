import json

import pytest

from applications.models import Application
from subscriptions.models import Subscription

SUBSCRIPTIONS = "/iocm/app/sub/v1.2.0/subscriptions"


def _subscribe(client, credentials, notify_type="deviceDataChanged", url="http://203.0.113.5:8080/push"):
    body = json.dumps({"notifyType": notify_type, "callbackUrl": url})
    return client.post(SUBSCRIPTIONS, body, content_type="application/json", headers=credentials.headers())


def test_subscribe_returns_201_with_the_subscription(client, owner_app):
    response = _subscribe(client, owner_app)
    assert response.status_code == 201
    body = response.json()
    assert list(body) == ["subscriptionId", "notifyType", "callbackUrl"]
    assert body["notifyType"] == "deviceDataChanged"
    assert body["callbackUrl"] == "http://203.0.113.5:8080/push"
    assert Subscription.objects.get(subscription_id=body["subscriptionId"]).application == owner_app.application


def test_subscribing_a_type_twice_is_409_200002(client, owner_app):
    _subscribe(client, owner_app)
    response = _subscribe(client, owner_app)
    assert response.status_code == 409
    assert response.json() == {"error_code": "200002", "error_desc": "The resource is conflicted."}
    assert Subscription.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://203.0.113.5:8080", "path"),  # F-6.1: no path
        ("http://203.0.113.5/push", "port"),  # F-6.1: no port
        ("ftp://203.0.113.5:21/push", "http"),
        ("http://:8080/push", "host"),
        ("http://203.0.113.5:99999/push", "malformed"),
        ("http://user:pw@203.0.113.5:8080/push", "password"),
        ("", "empty"),
    ],
)
def test_illegal_callback_urls_are_400_100222_naming_the_rule(client, owner_app, url, reason):
    response = _subscribe(client, owner_app, url=url)
    assert response.status_code == 400
    assert response.json()["error_code"] == "100222"
    assert reason in response.json()["error_desc"]
    assert not Subscription.objects.exists()


def test_root_path_is_a_path(client, owner_app):
    assert _subscribe(client, owner_app, url="http://203.0.113.5:8080/").status_code == 201


def test_another_host_port_is_403_100234(client, owner_app):
    _subscribe(client, owner_app, "deviceAdded", "http://203.0.113.5:8080/a")
    response = _subscribe(client, owner_app, "deviceDeleted", "http://203.0.113.5:9090/b")
    assert response.status_code == 403
    assert response.json()["error_code"] == "100234"
    assert "203.0.113.5:8080" in response.json()["error_desc"]


def test_same_host_port_other_path_is_fine(client, owner_app):
    _subscribe(client, owner_app, "deviceAdded", "http://203.0.113.5:8080/a")
    assert _subscribe(client, owner_app, "deviceDeleted", "http://203.0.113.5:8080/b").status_code == 201


def test_changing_host_means_deleting_then_subscribing(client, owner_app):
    _subscribe(client, owner_app, "deviceAdded", "http://203.0.113.5:8080/a")
    client.delete(SUBSCRIPTIONS, headers=owner_app.headers())
    assert _subscribe(client, owner_app, "deviceAdded", "http://203.0.113.9:7000/a").status_code == 201


def test_https_application_refuses_http_callbacks(client, owner_app):
    Application.objects.filter(pk=owner_app.application.pk).update(push_protocol="HTTPS")
    response = _subscribe(client, owner_app, url="http://203.0.113.5:8080/push")
    assert response.status_code == 400
    assert "HTTPS" in response.json()["error_desc"]
    assert _subscribe(client, owner_app, url="https://203.0.113.5:8443/push").status_code == 201


def test_private_addresses_are_refused_unless_allowed(client, owner_app, settings):
    settings.PUSH_ALLOW_PRIVATE = False
    for url in ("http://10.1.2.3:80/p", "http://127.0.0.1:8080/p", "http://169.254.1.1:80/p", "http://[::1]:80/p"):
        response = _subscribe(client, owner_app, url=url)
        assert response.status_code == 400, url
        assert "PUSH_ALLOW_PRIVATE" in response.json()["error_desc"]
    settings.PUSH_ALLOW_PRIVATE = True
    assert _subscribe(client, owner_app, url="http://127.0.0.1:8080/p").status_code == 201


def test_unknown_notify_type_is_100022(client, owner_app):
    response = _subscribe(client, owner_app, notify_type="deviceExploded")
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
    assert "notifyType" in response.json()["error_desc"]


def test_get_one(client, owner_app):
    subscription_id = _subscribe(client, owner_app).json()["subscriptionId"]
    response = client.get(f"{SUBSCRIPTIONS}/{subscription_id}", headers=owner_app.headers())
    assert response.json()["subscriptionId"] == subscription_id


def test_another_application_cannot_see_or_delete_it(client, owner_app, other_app):
    subscription_id = _subscribe(client, owner_app).json()["subscriptionId"]
    url = f"{SUBSCRIPTIONS}/{subscription_id}"
    assert client.get(url, headers=other_app.headers()).json() == {
        "error_code": "200001",
        "error_desc": "The resource is not found",
    }
    assert client.delete(url, headers=other_app.headers()).status_code == 404
    assert client.get(SUBSCRIPTIONS, headers=other_app.headers()).json()["totalCount"] == 0
    client.delete(SUBSCRIPTIONS, headers=other_app.headers())
    assert Subscription.objects.filter(subscription_id=subscription_id).exists()


def test_anonymous_cannot_subscribe(client, db):
    body = json.dumps({"notifyType": "deviceAdded", "callbackUrl": "http://203.0.113.5:8080/p"})
    response = client.post(SUBSCRIPTIONS, body, content_type="application/json")
    assert response.status_code == 403
    assert not Subscription.objects.exists()


def test_delete_one(client, owner_app):
    subscription_id = _subscribe(client, owner_app).json()["subscriptionId"]
    assert client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=owner_app.headers()).status_code == 204
    assert client.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=owner_app.headers()).status_code == 404


def test_list_pages_with_default_size_10(client, owner_app, django_assert_max_num_queries):
    types = ["bindDevice", "deviceAdded", "deviceInfoChanged", "deviceDataChanged", "deviceDatasChanged",
             "deviceDeleted", "serviceInfoChanged", "ruleEvent", "deviceModelAdded", "deviceModelDeleted",
             "messageConfirm", "commandRsp"]  # fmt: skip
    for notify_type in types:
        _subscribe(client, owner_app, notify_type)
    with django_assert_max_num_queries(3):
        first = client.get(SUBSCRIPTIONS, headers=owner_app.headers()).json()
    assert (first["pageNo"], first["pageSize"], first["totalCount"]) == (0, 10, 12)
    assert len(first["subscriptions"]) == 10
    second = client.get(SUBSCRIPTIONS + "?pageNo=1", headers=owner_app.headers()).json()
    assert [s["notifyType"] for s in second["subscriptions"]] == ["messageConfirm", "commandRsp"]
    filtered = client.get(SUBSCRIPTIONS + "?notifyType=ruleEvent", headers=owner_app.headers()).json()
    assert filtered["totalCount"] == 1


def test_bad_paging_is_100022(client, owner_app):
    response = client.get(SUBSCRIPTIONS + "?pageSize=abc", headers=owner_app.headers())
    assert response.status_code == 400
    assert "pageSize" in response.json()["error_desc"]


def test_batch_delete_by_notify_type_and_channel(client, owner_app):
    _subscribe(client, owner_app, "deviceAdded")
    _subscribe(client, owner_app, "deviceDeleted")
    _subscribe_mqtts(client, owner_app, "deviceAdded")
    _subscribe_mqtts(client, owner_app, "deviceDeleted")
    response = client.delete(SUBSCRIPTIONS + "?notifyType=deviceAdded&channel=MQTTS", headers=owner_app.headers())
    assert response.status_code == 204
    assert sorted(Subscription.objects.values_list("notify_type", "channel")) == [
        ("deviceAdded", "HTTP"), ("deviceDeleted", "HTTP"), ("deviceDeleted", "MQTTS")]  # fmt: skip
    client.delete(SUBSCRIPTIONS + "?channel=HTTP&notifyType=deviceDeleted", headers=owner_app.headers())
    assert sorted(Subscription.objects.values_list("notify_type", "channel")) == [
        ("deviceAdded", "HTTP"), ("deviceDeleted", "MQTTS")]  # fmt: skip
    client.delete(SUBSCRIPTIONS + "?channel=SMS", headers=owner_app.headers())  # another value: nothing
    assert Subscription.objects.count() == 2
    client.delete(SUBSCRIPTIONS + "?notifyType=deviceAdded", headers=owner_app.headers())  # empty: both
    client.delete(SUBSCRIPTIONS + "?notifyType=deviceDeleted", headers=owner_app.headers())
    assert not Subscription.objects.exists()


def _subscribe_mqtts(client, credentials, notify_type="deviceDataChanged", **extra):
    body = json.dumps({"notifyType": notify_type, "channel": "MQTTS", **extra})
    return client.post(SUBSCRIPTIONS, body, content_type="application/json", headers=credentials.headers())


def test_an_mqtts_subscription_needs_no_callback_url_and_sits_beside_an_http_one(client, owner_app):
    http = _subscribe(client, owner_app)
    response = _subscribe_mqtts(client, owner_app)
    assert (http.status_code, response.status_code) == (201, 201)
    assert list(response.json()) == ["subscriptionId", "notifyType", "callbackUrl"]
    assert response.json()["callbackUrl"] == ""
    assert sorted(Subscription.objects.values_list("channel", flat=True)) == ["HTTP", "MQTTS"]
    # a callbackUrl sent with it is kept, not checked: MQTTS pushes do not call it
    other_type = _subscribe_mqtts(client, owner_app, "deviceAdded", callbackUrl="https://elsewhere.example:1/x")
    assert other_type.status_code == 201
    again = _subscribe_mqtts(client, owner_app)
    assert (again.status_code, again.json()["error_code"]) == (409, "200002")
    assert Subscription.objects.count() == 3


def test_an_unknown_channel_is_400_100022_and_changes_nothing(client, owner_app):
    response = _subscribe_mqtts(client, owner_app, channel="SMS")
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "100022",
        "error_desc": "The input is invalid: channel must be HTTP or MQTTS.",
    }
    missing = client.post(
        SUBSCRIPTIONS, json.dumps({"notifyType": "deviceAdded", "channel": "HTTP"}),
        content_type="application/json", headers=owner_app.headers(),
    )  # fmt: skip
    assert missing.status_code == 400 and "callbackUrl" in missing.json()["error_desc"]
    assert not Subscription.objects.exists()


def test_another_application_cannot_delete_an_mqtts_subscription(client, owner_app, other_app):
    _subscribe_mqtts(client, owner_app)
    client.delete(SUBSCRIPTIONS + "?channel=MQTTS", headers=other_app.headers())
    assert Subscription.objects.filter(application=owner_app.application, channel="MQTTS").count() == 1


def test_batch_delete_by_callback_url(client, owner_app):
    _subscribe(client, owner_app, "deviceAdded", "http://203.0.113.5:8080/a")
    _subscribe(client, owner_app, "deviceDeleted", "http://203.0.113.5:8080/b")
    client.delete(SUBSCRIPTIONS + "?callbackUrl=http://203.0.113.5:8080/b", headers=owner_app.headers())
    assert list(Subscription.objects.values_list("notify_type", flat=True)) == ["deviceAdded"]


@pytest.mark.parametrize("version", ["v1.1.0", "v1.2.0"])
def test_legacy_subscribe_uses_lowercase_callbackurl_and_replaces(client, owner_app, version):
    url = f"/iocm/app/sub/{version}/subscribe"
    first = {"notifyType": "deviceDataChanged", "callbackurl": "http://203.0.113.5:8080/old"}
    second = {"notifyType": "deviceDataChanged", "callbackurl": "http://203.0.113.5:8080/new"}
    assert (
        client.post(url, json.dumps(first), content_type="application/json", headers=owner_app.headers()).status_code
        == 201
    )
    response = client.post(url, json.dumps(second), content_type="application/json", headers=owner_app.headers())
    assert response.status_code == 201
    assert Subscription.objects.get().callback_url == "http://203.0.113.5:8080/new"


def test_management_subscribe_is_200_without_body(client, owner_app):
    body = {"notifyType": "fwUpgradeResultNotify", "callbackurl": "http://203.0.113.5:8080/fw"}
    response = client.post(
        "/iodm/app/sub/v1.1.0/subscribe", json.dumps(body), content_type="application/json", headers=owner_app.headers()
    )
    assert response.status_code == 200
    assert response.content == b""
    assert Subscription.objects.get().notify_type == "fwUpgradeResultNotify"


def test_management_subscribe_refuses_business_types_with_120007(client, owner_app):
    body = {"notifyType": "deviceAdded", "callbackurl": "http://203.0.113.5:8080/fw"}
    response = client.post(
        "/iodm/app/sub/v1.1.0/subscribe", json.dumps(body), content_type="application/json", headers=owner_app.headers()
    )
    assert response.json()["error_code"] == "120007"
    assert not Subscription.objects.exists()


def test_management_subscribe_missing_callbackurl_is_120007(client, owner_app):
    body = {"notifyType": "fwUpgradeResultNotify", "callbackUrl": "http://203.0.113.5:8080/fw"}
    response = client.post(
        "/iodm/app/sub/v1.1.0/subscribe", json.dumps(body), content_type="application/json", headers=owner_app.headers()
    )
    assert response.json()["error_code"] == "120007"
    assert "callbackurl" in response.json()["error_desc"]
