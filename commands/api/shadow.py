"""The device shadow, v1.5.0 (commands.shadow): query and modify, and the desired history."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.auth import get_application
from applications.errors import NorthboundError
from applications.formats import format_time
from applications.paging import time_param, whole_number
from applications.schema import answers
from commands import shadow
from commands.models import DesiredChange
from devices.actions import get_device
from devices.models import Device
from devices.presenters import device_body

TAGS = ["Device shadow"]


class ServiceShadow(serializers.Serializer):
    serviceId = serializers.CharField()
    serviceType = serializers.CharField()
    reportedProps = serializers.DictField(help_text="the data the device last reported")
    desiredProps = serializers.DictField(help_text="the properties asked of it (writable ones only)")
    eventTime = serializers.CharField(allow_null=True)


class ShadowSerializer(serializers.Serializer):
    deviceId = serializers.CharField()
    gatewayId = serializers.CharField()
    nodeType = serializers.CharField()
    createTime = serializers.CharField()
    lastModifiedTime = serializers.CharField()
    deviceInfo = serializers.DictField()
    services = ServiceShadow(many=True)


class ServiceDesired(serializers.Serializer):
    serviceId = serializers.CharField()
    desired = serializers.DictField()


class ModifyShadowSerializer(serializers.Serializer):
    serviceDesireds = ServiceDesired(many=True)


class DesiredHistoryRow(serializers.Serializer):
    deviceId = serializers.CharField()
    gatewayId = serializers.CharField()
    appId = serializers.CharField()
    serviceId = serializers.CharField()
    desired = serializers.DictField()
    timestamp = serializers.CharField()


class DesiredHistoryPage(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    deviceDesiredHistory = DesiredHistoryRow(many=True)


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise NorthboundError("100022", "The input is invalid: the body must be a JSON object.")
    return request.data


class ShadowView(APIView):
    """`/iocm/app/shadow/v1.5.0/devices/{deviceId}`: reported against desired, per service; modify desired."""

    @extend_schema(operation_id="queryDeviceShadow", tags=TAGS, responses=answers({200: ShadowSerializer}, "100418"))
    def get(self, request: Request, device_id: str) -> Response:
        device = get_device(get_application(request), device_id)
        device = Device.objects.select_related("gateway", "product").get(pk=device.pk)
        body = device_body(device)
        body["services"] = shadow.shadow_services(device)
        return Response(body)

    @extend_schema(
        operation_id="modifyDeviceShadow",
        tags=TAGS,
        request=ModifyShadowSerializer,
        responses=answers(
            {200: OpenApiResponse(description="Kept; no body, as the original answers.")},
            "100022",
            "100418",
            "100425:200",
            "100431:200",
        ),
        description=(
            "Desired values of writable (W) properties, kept with a version per service and sent at the device's "
            "next contact as the service's command whose paras are named like them; the outcome is pushed as "
            "deviceDesiredPropertiesModifyStatusChanged. Errors: 100022 shape or values, 200 100431 unknown "
            "service, 200 100425 a property that is not writable or that no command carries, 404 100418 device."
        ),
    )
    def put(self, request: Request, device_id: str) -> Response:
        application = get_application(request)
        device = get_device(application, device_id)
        device = Device.objects.select_related("gateway", "product").get(pk=device.pk)
        shadow.do_modify_shadow(application, device, _body(request).get("serviceDesireds"))
        return Response(status=200)  # the original's modifyDeviceShadow answers no body


class DesiredHistoryView(APIView):
    """`GET /iocm/app/shadow/v1.5.0/deviceDesiredHistory`: the desired changes, newest first."""

    @extend_schema(
        operation_id="queryDeviceDesiredHistory",
        tags=TAGS,
        responses=answers({200: DesiredHistoryPage}, "100022", "100216", "100419"),
        parameters=[
            OpenApiParameter("deviceId", str),
            OpenApiParameter("gatewayId", str),
            OpenApiParameter("serviceId", str),
            OpenApiParameter("property", str),
            OpenApiParameter("pageNo", int, description="0 is the first page (default)"),
            OpenApiParameter("pageSize", int, description="1 to 2000, default 1, as deviceDataHistory"),
            OpenApiParameter("startTime", str, description="yyyyMMddTHHmmssZ"),
            OpenApiParameter("endTime", str, description="yyyyMMddTHHmmssZ"),
        ],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        device_id, gateway_id = params.get("deviceId") or None, params.get("gatewayId") or None
        if device_id is None and gateway_id is None:
            raise NorthboundError("100419")
        page_no = whole_number(request, "pageNo", 0, maximum=10_000_000, code="100216")
        page_size = whole_number(request, "pageSize", 1, minimum=1, maximum=2000, code="100216")
        start, end = time_param(request, "startTime"), time_param(request, "endTime")
        application = get_application(request)
        device = (
            Device.objects.for_app(application)
            .select_related("gateway")
            .filter(device_id=device_id or gateway_id)
            .first()
        )
        if device is not None and device_id and gateway_id and device.gateway_device_id != gateway_id:
            device = None
        empty = {"totalCount": 0, "pageNo": page_no, "pageSize": page_size, "deviceDesiredHistory": []}
        if device is None:
            return Response(empty)
        rows = DesiredChange.objects.filter(application=application, device=device)
        if service_id := params.get("serviceId"):
            rows = rows.filter(service_id=service_id)
        if prop := params.get("property"):
            rows = rows.filter(desired__has_key=prop)
        if start:
            rows = rows.filter(created_at__gte=start)
        if end:
            rows = rows.filter(created_at__lte=end)
        total = rows.count()
        page = rows.order_by("-created_at", "-id").values("service_id", "desired", "created_at")[
            page_no * page_size : (page_no + 1) * page_size
        ]
        return Response(
            {
                "totalCount": total,
                "pageNo": page_no,
                "pageSize": page_size,
                "deviceDesiredHistory": [
                    {
                        "deviceId": device.device_id,
                        "gatewayId": device.gateway_device_id,
                        "appId": application.app_id,
                        "serviceId": row["service_id"],
                        "desired": row["desired"],
                        "timestamp": format_time(row["created_at"]),
                    }
                    for row in page
                ],
            }
        )
