"""The creation hot path: the device read in one statement, the writes in one call of the database
function `commands_create` (migration commands/0003), and the products cached per revision."""

import json
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from applications.errors import NorthboundError
from commands import actions
from commands.models import Command, CommandEvent
from devices.models import Device, DeviceLog
from products.models import Product

CREATE = "/iocm/app/cmd/v1.4.0/deviceCommands"
ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


def _create(client, credentials, device, command=None):
    body = {"deviceId": device.device_id, "command": command or ALARM}
    return client.post(CREATE, json.dumps(body), content_type="application/json", headers=credentials.headers())


def test_a_creation_is_the_token_the_device_and_one_function_call(client, owner_app, meter):
    with CaptureQueriesContext(connection) as first:
        assert _create(client, owner_app, meter).status_code == 201
    assert sum('FROM "products_product"' in query["sql"] for query in first.captured_queries) == 1
    with CaptureQueriesContext(connection) as captured:
        assert _create(client, owner_app, meter).status_code == 201  # the product is cached now
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) == 3, statements
    assert "applications_applicationtoken" in statements[0]
    assert "devices_device" in statements[1] and "products_product" in statements[1]
    assert statements[2].startswith("SELECT * FROM commands_create(")


def test_the_command_comes_with_its_ledger_row_and_device_log_row(client, owner_app, meter):
    command_id = _create(client, owner_app, meter).json()["commandId"]
    command = Command.objects.get(command_id=command_id)
    assert (command.status, command.paras, command.expire_time, command.issued_times) == (
        "PENDING", {"highFlow": 30}, 172800, 0
    )  # fmt: skip
    assert list(CommandEvent.objects.filter(command=command).values_list("status", "reason")) == [
        ("PENDING", "created")
    ]
    log = DeviceLog.objects.get(device=meter, kind="command")
    assert log.summary == "command WaterMeterAlarm.SET_HIGHFLOW_ALARM created, cached (PSM)"
    assert log.created_at == command.created_at == CommandEvent.objects.get(command=command).at


def test_an_edited_profile_applies_to_the_next_creation(client, owner_app, meter):
    assert _create(client, owner_app, meter).status_code == 201  # the product is now cached
    product = Product.objects.get(pk=meter.product_id)
    profile = product.profile
    for service in profile["services"]:
        for command in service.get("commands") or []:
            for para in command.get("paras") or []:
                if para["paraName"] == "highFlow":
                    para["max"] = "20"
    Product.objects.filter(pk=product.pk).update(profile=profile, revision=F("revision") + 1)
    response = _create(client, owner_app, meter)
    assert response.status_code == 400
    assert "highFlow" in response.json()["error_desc"]


def test_a_device_deleted_after_it_was_read_is_100418(owner_app, meter):
    device = actions.device_for_command(owner_app.application, meter.device_id)
    Device.objects.filter(pk=meter.pk).delete()
    with pytest.raises(NorthboundError) as refused:
        actions.do_create_command(owner_app.application, device, ALARM)
    assert refused.value.error_code == "100418"


def test_another_applications_device_is_not_found(other_app, meter):
    assert actions.device_for_command(other_app.application, meter.device_id) is None


@pytest.mark.django_db(transaction=True)
def test_the_twentieth_command_is_counted_by_a_creation_waiting_on_the_lock(owner_app, meter):
    """Two creations for one device at the same time with 19 pending: the second waits for the
    first's row lock, then counts its command: one is 201, the other 100223, never 21 pending."""
    application = owner_app.application
    for _ in range(19):
        actions.do_create_command(application, meter, ALARM)
    outcome = {}

    def second() -> None:
        try:
            device = actions.device_for_command(application, meter.device_id)
            actions.do_create_command(application, device, ALARM)
            outcome["second"] = "created"
        except NorthboundError as error:
            outcome["second"] = error.error_code
        finally:
            connections.close_all()

    with transaction.atomic():
        actions.do_create_command(application, meter, ALARM)  # the 20th, holding the device's row lock
        thread = threading.Thread(target=second)
        thread.start()
        _wait_for_a_lock_wait()
    thread.join(10)
    assert outcome == {"second": "100223"}
    assert Command.objects.filter(device=meter, status="PENDING").count() == 20


def _wait_for_a_lock_wait() -> None:
    with connections["default"].cursor() as cursor:
        for _ in range(500):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second creation never waited for the device's row lock")
