"""Northbound command calls (northbound-api.md section 3), current and legacy."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.auth import get_application
from applications.errors import NorthboundError
from applications.paging import time_param, whole_number
from applications.schema import answers
from commands import actions
from commands.api import serializers as S
from commands.models import BatchTask, BatchTaskDetail, Command, CommandStatus
from commands.presenters import command_body, task_body
from devices.models import Device
from products.models import Product

TAGS = ["Commands"]
# What creating a command can answer: its checks (commands.actions.check_create), the profile's, the
# device's state and the pending-command limit; several of the original's come with HTTP 200.
CREATE_ERRORS = ("100022", "100222", "100234", "100223", "100418:200", "100428:200", "100431:200", "100432:200")


def _json(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise NorthboundError("100022", "The input is invalid: the body must be a JSON object.")
    return request.data


def _device_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise NorthboundError("100022", "The input is invalid: deviceId is required.")
    return value


def _device(application, device_id: Any) -> Device:
    device_id = _device_id(device_id)
    # The product's profile is needed for the checks; its zip archive is not.
    found = (
        Device.objects.filter(application=application, device_id=device_id)
        .select_related("product")
        .defer("product__archive")
    )
    device = next(iter(found[:1]), None)  # deviceId is unique: no ORDER BY as first() would add
    if device is None:
        raise NorthboundError("100418", http_status=200)
    return device


def _commands(application):
    return Command.objects.filter(application=application).select_related("application", "device")


def _paged(request: Request, queryset, *, default_size: int, with_result: bool = True) -> dict[str, Any]:
    page_no = whole_number(request, "pageNo", 0, maximum=1_000_000)
    page_size = whole_number(request, "pageSize", default_size, minimum=1, maximum=1000)
    total = queryset.count()
    page = queryset.order_by("-created_at", "-id")[page_no * page_size : (page_no + 1) * page_size]
    return {
        "pagination": {"pageNo": page_no, "pageSize": page_size, "totalSize": total},
        "data": [command_body(command, with_result=with_result) for command in page],
    }


class CommandsView(APIView):
    """`/iocm/app/cmd/v1.4.0/deviceCommands`: create (201) and query."""

    @extend_schema(
        operation_id="createCommand",
        tags=TAGS,
        summary="Create a command (201)",
        request={"application/json": S.CreateCommandRequest},
        responses=answers({201: S.DeviceCommand}, *CREATE_ERRORS),
    )
    def post(self, request: Request) -> Response:
        body = _json(request)
        application = get_application(request)
        device = actions.device_for_command(application, _device_id(body.get("deviceId")))
        if device is None:
            raise NorthboundError("100418", http_status=200)
        command = actions.do_create_command(
            application, device, body.get("command"), expire_time=body.get("expireTime"),
            max_retransmit=body.get("maxRetransmit"), callback_url=body.get("callbackUrl"),
        )  # fmt: skip
        if command.expire_time == 0:
            command.refresh_from_db()  # sent at commit: answer SENT (or FAILED), as the original did
        return Response(command_body(command), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="queryCommands",
        tags=TAGS,
        parameters=[
            OpenApiParameter("deviceId", str),
            OpenApiParameter("pageNo", int),
            OpenApiParameter("pageSize", int, description="1 to 1000, default 1000"),
            OpenApiParameter("startTime", str),
            OpenApiParameter("endTime", str),
        ],
        responses=answers({200: S.CommandPage}, "100022"),
    )
    def get(self, request: Request) -> Response:
        commands = _commands(get_application(request))
        if device_id := request.query_params.get("deviceId"):
            commands = commands.filter(device__device_id=device_id)
        if start := time_param(request, "startTime"):
            commands = commands.filter(created_at__gte=start)
        if end := time_param(request, "endTime"):
            commands = commands.filter(created_at__lte=end)
        return Response(_paged(request, commands, default_size=1000))


class CommandView(APIView):
    """`PUT /iocm/app/cmd/v1.4.0/deviceCommands/{id}` with `{"status":"CANCELED"}`."""

    @extend_schema(
        operation_id="cancelCommand",
        tags=TAGS,
        request={"application/json": S.CancelCommandRequest},
        responses=answers({200: S.CommandWithResult}, "100022", "100434:200", "100435:200"),
    )
    def put(self, request: Request, command_id: str) -> Response:
        body = _json(request)
        if body.get("status") != CommandStatus.CANCELED:
            raise NorthboundError("100022", 'The input is invalid: status must be "CANCELED".')
        command = _commands(get_application(request)).filter(command_id=command_id).first()
        if command is None:
            raise NorthboundError("100434", http_status=200)
        actions.do_cancel(command)
        command.refresh_from_db()
        return Response(command_body(command, with_result=True))


def _cancel_task_body(application, device: Device, canceled: list[Command], task_id: str) -> dict[str, Any]:
    return {
        "taskId": task_id,
        "appId": application.app_id,
        "deviceId": device.device_id,
        "status": "SUCCESS",
        "totalCount": len(canceled),
        "deviceCommands": [command_body(command, with_result=True) for command in canceled],
    }


class CancelTasksView(APIView):
    """`/iocm/app/cmd/v1.4.0/deviceCommandCancelTasks`: cancel all pending commands of a device (201)."""

    @extend_schema(
        operation_id="cancelAllCommands",
        tags=TAGS,
        request={"application/json": S.DeviceRequest},
        responses=answers({201: S.CancelTask}, "100022", "100418:200"),
    )
    def post(self, request: Request) -> Response:
        application = get_application(request)
        device = _device(application, _json(request).get("deviceId"))
        canceled = actions.do_cancel_all(device)
        from commands.models import new_command_id

        return Response(
            _cancel_task_body(application, device, canceled, new_command_id()), status=status.HTTP_201_CREATED
        )

    @extend_schema(
        operation_id="queryCancelTasks",
        tags=TAGS,
        parameters=[
            OpenApiParameter("deviceId", str),
            OpenApiParameter("pageNo", int),
            OpenApiParameter("pageSize", int),
        ],
        responses=answers({200: S.CommandPage}, "100022"),
    )
    def get(self, request: Request) -> Response:
        commands = _commands(get_application(request)).filter(status=CommandStatus.CANCELED)
        if device_id := request.query_params.get("deviceId"):
            commands = commands.filter(device__device_id=device_id)
        return Response(_paged(request, commands, default_size=10))


class LegacyCreateView(APIView):
    """`POST /iocm/app/cmd/v1.2.0/devices/{deviceId}/commands`."""

    @extend_schema(
        operation_id="createCommandLegacy",
        tags=TAGS,
        summary="Create a command (legacy v1.2.0)",
        request={"application/json": S.LegacyCreateCommandRequest},
        responses=answers({201: S.DeviceCommand}, *CREATE_ERRORS),
    )
    def post(self, request: Request, device_id: str) -> Response:
        body = _json(request)
        application = get_application(request)
        device = _device(application, device_id)
        command = body.get("command")
        if isinstance(command, dict):
            command = {key: value for key, value in command.items() if key != "hasMore"}
        created = actions.do_create_command(
            application, device, command, expire_time=body.get("expireTime"), callback_url=body.get("callbackUrl")
        )
        created.refresh_from_db()
        return Response(command_body(created), status=status.HTTP_201_CREATED)


class LegacyQueryView(APIView):
    """`GET /iocm/app/cmd/v1.2.0/queryCmd?deviceId=`."""

    @extend_schema(
        operation_id="queryCommandsLegacy",
        tags=TAGS,
        summary="Query commands (legacy v1.2.0)",
        parameters=[OpenApiParameter("deviceId", str)],
        responses={200: S.LegacyCommandList},
    )
    def get(self, request: Request) -> Response:
        commands = _commands(get_application(request))
        if device_id := request.query_params.get("deviceId"):
            commands = commands.filter(device__device_id=device_id)
        page = list(commands.order_by("-created_at", "-id")[:1000])
        return Response(
            {
                "totalCount": commands.count(),
                "list": [
                    {
                        "commandId": command.command_id,
                        "command": {"serviceId": command.service_id, "method": command.method, "paras": command.paras},
                        "expireTime": command.expire_time,
                        "result": {"resultCode": command.status},
                    }
                    for command in page
                ],
            }
        )


class LegacyCancelView(APIView):
    """`POST /iocm/app/cmd/v1.2.0/cancelCmd` with `{"deviceId"}`."""

    @extend_schema(
        operation_id="cancelCommandsLegacy",
        tags=TAGS,
        summary="Cancel pending commands (legacy v1.2.0)",
        request={"application/json": S.DeviceRequest},
        responses=answers({200: S.LegacyCancelAnswer}, "100022", "100418:200"),
    )
    def post(self, request: Request) -> Response:
        application = get_application(request)
        device = _device(application, _json(request).get("deviceId"))
        canceled = actions.do_cancel_all(device)
        return Response({"deviceId": device.device_id, "totalCount": len(canceled)})


class BatchTasksView(APIView):
    """`POST /iocm/app/batchtask/v1.1.0/tasks`: answers `{"taskID": ...}` (capital ID, as the original)."""

    @extend_schema(
        operation_id="createBatchTask",
        tags=TAGS,
        request={"application/json": S.BatchTaskRequest},
        responses=answers({200: S.BatchTaskCreated}, "100007", "100022", "105001:200", "105002:200"),
    )
    def post(self, request: Request) -> Response:
        task = actions.do_create_batch_task(get_application(request), _json(request))
        return Response({"taskID": task.task_id})


class BatchTaskView(APIView):
    @extend_schema(operation_id="getBatchTask", tags=TAGS, responses=answers({200: S.BatchTaskSerializer}, "105005"))
    def get(self, request: Request, task_id: str) -> Response:
        task = (
            BatchTask.objects.filter(application=get_application(request), task_id=task_id)
            .select_related("application")
            .first()
        )
        if task is None:
            raise NorthboundError("105005", http_status=404)
        return Response(task_body(task, actions.batch_counts(task)))


DETAIL_STATUS = {
    CommandStatus.PENDING: "Pending",
    CommandStatus.SENT: "WaitResult",
    CommandStatus.DELIVERED: "WaitResult",
    CommandStatus.SUCCESSFUL: "Success",
    CommandStatus.FAILED: "Fail",
    CommandStatus.CANCELED: "Fail",
    CommandStatus.TIMEOUT: "Timeout",
    CommandStatus.EXPIRED: "Timeout",
}


class BatchTaskDetailsView(APIView):
    """`GET /iocm/app/batchtask/v1.1.0/taskDetails?taskId=`."""

    @extend_schema(
        operation_id="batchTaskDetails",
        tags=TAGS,
        parameters=[
            OpenApiParameter("taskId", str, required=True),
            OpenApiParameter("pageNo", int),
            OpenApiParameter("pageSize", int, description="1 to 1000, default 10"),
        ],
        responses=answers({200: S.BatchTaskDetailPage}, "100022", "105005"),
    )
    def get(self, request: Request) -> Response:
        task = BatchTask.objects.filter(
            application=get_application(request), task_id=request.query_params.get("taskId", "")
        ).first()
        if task is None:
            raise NorthboundError("105005", http_status=404)
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000)
        page_size = whole_number(request, "pageSize", 10, minimum=1, maximum=1000)
        details = BatchTaskDetail.objects.filter(task=task).select_related("command").order_by("id")
        total = details.count()
        rows = []
        import json

        for detail in details[page_no * page_size : (page_no + 1) * page_size]:
            command = detail.command
            rows.append(
                {
                    "status": DETAIL_STATUS[command.status] if command else "Fail",
                    "output": json.dumps(
                        {
                            "requestId": command.command_id if command else None,
                            "commandResult": command.result_detail if command else None,
                        },
                        separators=(",", ":"),
                    ),
                    "error": json.dumps(detail.error, separators=(",", ":")) if detail.error else None,
                    "param": {"deviceId": detail.device_ref, "commandId": command.command_id if command else None},
                }
            )
        return Response({"totalCount": total, "pageNo": page_no, "pageSize": page_size, "taskDetails": rows})


class DeliveryPolicyView(APIView):
    """`GET|PUT /api/v1/delivery-policies/{products|devices}/{id}`: power mode and LwM2M downlink method.

    Our own call (not in the original): `{"powerMode": "PSM|DRX|eDRX|", "lwm2mDownlink": "write|execute|"}`,
    an empty value inheriting the product's (for a device) and then the platform's setting."""

    def owner(self, request: Request, kind: str, key: str) -> dict[str, Any]:
        application = get_application(request)
        if kind == "products":
            product_id = _uuid(key)
            product = Product.objects.for_app(application).filter(product_id=product_id).first() if product_id else None
            if product is None:
                raise NorthboundError("100022", f"The input is invalid: no product {key} in this application.")
            return {"product": product}
        return {"device": _device(application, key)}

    def body(self, owner: dict[str, Any]) -> dict[str, Any]:
        policy = actions.policy_of(**owner)
        body = {"powerMode": policy.power_mode, "lwm2mDownlink": policy.lwm2m_downlink}
        if device := owner.get("device"):
            mode, method = actions.delivery_settings([device])[device.pk]
            body["effective"] = {"powerMode": mode, "lwm2mDownlink": method}
        return body

    @extend_schema(
        operation_id="getDeliveryPolicy",
        tags=TAGS,
        summary="A product's or a device's delivery policy",
        responses=answers({200: S.DeliveryPolicy}, "100022", "100418:200"),
    )
    def get(self, request: Request, kind: str, key: str) -> Response:
        return Response(self.body(self.owner(request, kind, key)))

    @extend_schema(
        operation_id="setDeliveryPolicy",
        tags=TAGS,
        summary="Set (or with empty values, clear) it",
        request={"application/json": S.DeliveryPolicyValues},
        responses=answers({200: S.DeliveryPolicy}, "100022", "100418:200"),
    )
    def put(self, request: Request, kind: str, key: str) -> Response:
        owner = self.owner(request, kind, key)
        body = _json(request)
        try:
            actions.do_set_delivery_policy(
                **owner, power_mode=body.get("powerMode", ""), lwm2m_downlink=body.get("lwm2mDownlink", "")
            )
        except actions.DeliveryPolicyInvalid as error:
            raise NorthboundError("100022", f"The input is invalid: {error}.") from None
        return Response(self.body(owner))


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
