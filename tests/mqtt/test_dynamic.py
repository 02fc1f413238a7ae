"""Dynamic connection by product secret: the device is registered, sent its secret on secretNotify,
acknowledges on secretACK and reconnects statically with it (device-protocols.md section 6)."""

from __future__ import annotations

import json

import pytest

from devices import actions
from devices.models import DataHistory, Device, DeviceLog, ProductSecret
from ingress.mqtt import auth
from products.models import Product
from tests.applications.fixtures import create_app
from tests.ingress.fixtures import water_product
from tests.mqtt.fixtures import DeviceClient, MqttClient, hour_now, wait_for
from tests.mqtt.test_uplinks import device_req

pytestmark = pytest.mark.django_db(transaction=True)

NODE_ID = "865000000000077"


class ProductClient(MqttClient):
    """A device connecting with its product's id and secret, as the device SDKs' dynamic mode does."""

    def __init__(self, product_id: str, secret: str, port: int, *, node_id: str = NODE_ID, username: str = "") -> None:
        hour = hour_now()
        self.prefix = f"/huawei/v1/products/{product_id}/sn/{node_id}"
        client_id = f"{product_id}_{node_id}_1_1_{hour}"
        super().__init__(client_id, username or product_id, auth.password(secret, hour), port)


def product_with_secret(credentials) -> tuple[Product, str]:
    water_product(credentials)
    product = Product.objects.get(application=credentials.application, model="v1001")
    return product, actions.do_set_product_secret(product)


def test_a_device_gets_its_secret_by_the_product_secret_and_then_reports_statically(owner_app, server):
    product, secret = product_with_secret(owner_app)
    dynamic = ProductClient(str(product.product_id), secret, server.port)

    assert not dynamic.connect().is_failure
    assert dynamic.subscribe(f"{dynamic.prefix}/secretNotify")[0].value == 1
    message = dynamic.messages.get(timeout=10)
    notification = json.loads(message.payload)
    device = Device.objects.get(application=owner_app.application, node_id=NODE_ID)
    assert message.topic == f"{dynamic.prefix}/secretNotify"
    assert notification == {"msgType": "cloudSendSecret", "deviceid": device.device_id, "secret": device.secret}
    assert device.product_id == product.pk

    # The dynamic session may only acknowledge; a data topic is refused (nothing stored).
    dynamic.publish(f"/huawei/v1/devices/{device.device_id}/data/json", device_req())
    dynamic.publish(f"{dynamic.prefix}/secretACK", b'{"msgType":"deviceRsp"}')
    assert wait_for(lambda: DeviceLog.objects.filter(device=device, summary__contains="secretACK").exists())
    dynamic.close()
    assert not DataHistory.objects.filter(device_id=device.pk).exists()

    static = DeviceClient(device, server.port, password=auth.password(notification["secret"], hour_now()))
    assert not static.connect().is_failure
    static.publish(static.topic("data", "json"), device_req("77"))
    assert wait_for(lambda: DataHistory.objects.filter(device_id=device.pk).exists())
    static.close()


def test_a_second_dynamic_connection_gets_the_same_device_and_secret(owner_app, server):
    product, secret = product_with_secret(owner_app)
    received = []
    for _ in range(2):
        client = ProductClient(str(product.product_id), secret, server.port)
        assert not client.connect().is_failure
        client.subscribe(f"{client.prefix}/secretNotify")
        received.append(json.loads(client.messages.get(timeout=10).payload))
        client.close()

    assert received[0] == received[1]
    assert Device.objects.filter(node_id=NODE_ID).count() == 1


def test_a_wrong_product_secret_or_user_name_is_refused_and_registers_nothing(owner_app, server):
    product, secret = product_with_secret(owner_app)
    wrong = ProductClient(str(product.product_id), "0" * 32, server.port)
    misnamed = ProductClient(str(product.product_id), secret, server.port, username="someone")

    assert wrong.connect().is_failure
    assert misnamed.connect().is_failure
    wrong.close()
    misnamed.close()
    assert not Device.objects.filter(node_id=NODE_ID).exists()


def test_a_product_without_a_secret_or_of_another_application_device_is_refused(owner_app, server):
    product, secret = product_with_secret(owner_app)
    other = create_app("Gas utility")
    actions.do_register_device(other.application, node_id=NODE_ID, password_mode=True)
    taken = ProductClient(str(product.product_id), secret, server.port)
    no_secret = ProductClient("00000000-0000-0000-0000-000000000000", secret, server.port)

    assert taken.connect().is_failure  # the nodeId is another application's device (100416)
    assert no_secret.connect().is_failure
    taken.close()
    no_secret.close()
    assert Device.objects.get(node_id=NODE_ID).application == other.application


def test_the_dynamic_session_may_subscribe_only_to_its_own_secret_topic(owner_app, server):
    product, secret = product_with_secret(owner_app)
    client = ProductClient(str(product.product_id), secret, server.port)
    assert not client.connect().is_failure

    others = client.subscribe(f"/huawei/v1/products/{product.product_id}/sn/other/secretNotify")

    assert others[0].is_failure
    client.close()


def test_a_new_product_secret_replaces_the_old_one(owner_app):
    product, first = product_with_secret(owner_app)
    second = actions.do_set_product_secret(product)

    assert first != second
    stored = ProductSecret.objects.get(product=product)
    assert stored.secret == second
    assert second not in stored.secret_encrypted  # encrypted at rest
