"""The batch-task body parsed by its serializer (commands.requests): the task's own fields answer
100007 with the original's sentence, the first bad one in the order it checked them; the content of
`param` is checked after the task limits, as before. A refused body creates nothing."""

import json

import pytest

from commands.models import BatchTask, Command

URL = "/iocm/app/batchtask/v1.1.0/tasks"
ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}
NAME = "Bad request message: taskName must be 1 to 256 characters."
TIMEOUT = "Bad request message: timeout must be 10 to 2880 minutes."
TYPE = "Bad request message: taskType must be DeviceCmd with a param object."


def _post(client, credentials, body):
    response = client.post(URL, json.dumps(body), content_type="application/json", headers=credentials.headers())
    return response.status_code, response.json()


def _body(**changes):
    return {"timeout": 60, "taskName": "alarms", "param": {"type": "Broadcast", "command": ALARM}, **changes}


@pytest.mark.parametrize(
    ("body", "desc"),
    [
        (_body(taskName=""), NAME),
        (_body(taskName="x" * 257), NAME),
        (_body(taskName=7), NAME),
        (_body(taskName=None), NAME),
        ({k: v for k, v in _body().items() if k != "taskName"}, NAME),
        (_body(timeout=9), TIMEOUT),
        (_body(timeout=2881), TIMEOUT),
        (_body(timeout="60"), TIMEOUT),
        (_body(timeout=True), TIMEOUT),
        (_body(timeout=60.0), TIMEOUT),
        (_body(taskType="DeviceUpgrade"), TYPE),
        (_body(taskType=None), TYPE),
        (_body(param=["Broadcast"]), TYPE),
        ({k: v for k, v in _body().items() if k != "param"}, TYPE),
        # the first bad field in the original's order
        (_body(taskName="", timeout=1, param=None), NAME),
        (_body(timeout=1, taskType="x"), TIMEOUT),
    ],
)
def test_each_bad_task_field_answers_100007_with_its_sentence(client, owner_app, body, desc):
    assert _post(client, owner_app, body) == (400, {"error_code": "100007", "error_desc": desc})
    assert not BatchTask.objects.exists()


def test_param_content_is_checked_after_the_task_name(client, owner_app, meter, transport):
    # given a task of that name, a second one answers 105002 even with a bad param, as the original did
    assert _post(client, owner_app, _body(taskName="once"))[0] == 200
    assert _post(client, owner_app, _body(taskName="once", param={"type": "Nobody"}))[1]["error_code"] == "105002"
    status, answer = _post(client, owner_app, _body(taskName="twice", param={"type": "Nobody"}))
    assert (status, answer["error_code"]) == (400, "100022")
    assert "param.type must be one of DeviceList, DeviceType, GroupList, Broadcast" in answer["error_desc"]
    assert BatchTask.objects.count() == 1


def test_a_good_body_keeps_its_fields(client, owner_app, meter, transport):
    body = _body(appId=owner_app.app_id, taskType="DeviceCmd", tags=[{"tagName": "floor", "tagValue": "2"}])
    status, answer = _post(client, owner_app, body)
    task = BatchTask.objects.get(task_id=answer["taskID"])
    assert (status, task.task_name, task.timeout_minutes, task.param, task.tags) == (
        200, "alarms", 60, body["param"], body["tags"],
    )  # fmt: skip
    assert Command.objects.filter(batch_task=task).count() == 1
