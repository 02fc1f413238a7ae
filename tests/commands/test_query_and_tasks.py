import json

from commands.models import BatchTask, Command

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


def _post(client, credentials, url, body):
    return client.post(url, json.dumps(body), content_type="application/json", headers=credentials.headers())


def _create(client, credentials, device):
    return _post(
        client, credentials, "/iocm/app/cmd/v1.4.0/deviceCommands", {"deviceId": device.device_id, "command": ALARM}
    )


def test_query_pages_with_total_size(client, owner_app, meter, transport, django_assert_max_num_queries):
    for _ in range(3):
        _create(client, owner_app, meter)
    with django_assert_max_num_queries(4):
        body = client.get("/iocm/app/cmd/v1.4.0/deviceCommands?pageSize=2", headers=owner_app.headers()).json()
    assert body["pagination"] == {"pageNo": 0, "pageSize": 2, "totalSize": 3}
    assert len(body["data"]) == 2
    assert body["data"][0]["result"] == {"resultCode": "PENDING", "resultDetail": None}


def test_query_is_scoped_to_the_application(client, owner_app, other_app, meter, transport):
    _create(client, owner_app, meter)
    assert (
        client.get("/iocm/app/cmd/v1.4.0/deviceCommands", headers=other_app.headers()).json()["pagination"]["totalSize"]
        == 0
    )


def test_cancel_one_and_its_errors(client, owner_app, other_app, meter, transport):
    command_id = _create(client, owner_app, meter).json()["commandId"]
    url = f"/iocm/app/cmd/v1.4.0/deviceCommands/{command_id}"
    cancel = json.dumps({"status": "CANCELED"})
    assert (
        client.put(url, cancel, content_type="application/json", headers=other_app.headers()).json()["error_code"]
        == "100434"
    )
    assert Command.objects.get().status == "PENDING"
    body = client.put(url, cancel, content_type="application/json", headers=owner_app.headers()).json()
    assert body["status"] == "CANCELED"
    again = client.put(url, cancel, content_type="application/json", headers=owner_app.headers())
    assert again.status_code == 200 and again.json()["error_code"] == "100435"


def test_cancel_all_pending_of_a_device(client, owner_app, meter, transport):
    for _ in range(2):
        _create(client, owner_app, meter)
    response = _post(client, owner_app, "/iocm/app/cmd/v1.4.0/deviceCommandCancelTasks", {"deviceId": meter.device_id})
    assert response.status_code == 201
    assert response.json()["totalCount"] == 2
    assert set(Command.objects.values_list("status", flat=True)) == {"CANCELED"}


def test_batch_task_over_a_device_list(client, owner_app, meter, transport):
    body = {
        "appId": owner_app.app_id, "timeout": 60, "taskName": "raise alarms", "taskType": "DeviceCmd",
        "param": {"type": "DeviceList", "deviceList": [meter.device_id], "command": ALARM},
    }  # fmt: skip
    task_id = _post(client, owner_app, "/iocm/app/batchtask/v1.1.0/tasks", body).json()["taskID"]
    task = client.get(f"/iocm/app/batchtask/v1.1.0/tasks/{task_id}", headers=owner_app.headers()).json()
    assert (task["totalCnt"], task["status"], task["progress"]) == (1, "Running", 0)
    details = client.get(f"/iocm/app/batchtask/v1.1.0/taskDetails?taskId={task_id}", headers=owner_app.headers()).json()
    assert details["taskDetails"][0]["status"] == "Pending"
    assert Command.objects.get().expire_time == 3600  # batch commands are always cached (F-5.8)
    duplicate = _post(client, owner_app, "/iocm/app/batchtask/v1.1.0/tasks", body)
    assert duplicate.json()["error_code"] == "105002"


def test_ten_unfinished_tasks_at_most(client, owner_app, meter, transport):
    for number in range(10):
        BatchTask.objects.create(
            application=owner_app.application, task_name=f"t{number}", timeout_minutes=10, param={}, status="Running",
            created_at="2026-01-01T00:00:00Z", deadline="2099-01-01T00:00:00Z",
        )  # fmt: skip
    body = {"timeout": 60, "taskName": "one more", "param": {"type": "Broadcast", "command": ALARM}}
    assert _post(client, owner_app, "/iocm/app/batchtask/v1.1.0/tasks", body).json()["error_code"] == "105001"


def test_unknown_task_is_105005(client, owner_app):
    response = client.get("/iocm/app/batchtask/v1.1.0/tasks/nope", headers=owner_app.headers())
    assert response.status_code == 404 and response.json()["error_code"] == "105005"


def test_batch_task_over_a_group_makes_one_cached_command_per_member(client, owner_app, meter, transport):
    from devices import actions as device_actions
    from tests.devices.fixtures import WATER_METER, register

    second = device_actions.do_bind_device(register(owner_app, node_id="861111111111112", info=WATER_METER))
    outsider = device_actions.do_bind_device(register(owner_app, node_id="861111111111113", info=WATER_METER))
    group = device_actions.do_create_group(owner_app.application, "Floor 2", "", 0, [meter.device_id, second.device_id])
    body = {
        "timeout": 30, "taskName": "floor 2 alarms", "taskType": "DeviceCmd",
        "param": {"type": "GroupList", "groupList": [group.dev_group_id], "command": ALARM},
    }  # fmt: skip
    task_id = _post(client, owner_app, "/iocm/app/batchtask/v1.1.0/tasks", body).json()["taskID"]
    commands = Command.objects.filter(batch_task__task_id=task_id)
    assert sorted(commands.values_list("device__node_id", flat=True)) == sorted([meter.node_id, second.node_id])
    assert not Command.objects.filter(device=outsider).exists()
    assert set(commands.values_list("status", flat=True)) == {"PENDING"}  # cached, waiting for each device (F-5.8)
    task = client.get(f"/iocm/app/batchtask/v1.1.0/tasks/{task_id}", headers=owner_app.headers()).json()
    assert task["totalCnt"] == 2
