"""Northbound device calls (northbound-api.md sections 2.1 to 2.10), current and legacy paths."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.auth import get_application
from applications.errors import NorthboundError
from applications.formats import format_time
from applications.paging import time_param, whole_number
from applications.schema import PageSchema, answers
from devices import actions
from devices.api import serializers as S
from devices.location import last_location, location_body
from devices.models import DataHistory, Device, DeviceGroup, NodeType, Status
from devices.presenters import device_body

DEVICES, DATA, GROUPS = ["Devices"], ["Device data"], ["Device groups"]
# What registering can answer (devices.actions.do_register_device): a bad field, a bad verify code,
# the nodeId taken, the application's device quota used up.
REGISTER_ERRORS = ("100022", "100003", "100416", "100412")


def _json(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise NorthboundError("100022", "The input is invalid: the body must be a JSON object.")
    return request.data


def _registration_body(device: Device, registered: actions.Registered) -> dict[str, Any]:
    return {
        "deviceId": device.device_id,
        "verifyCode": device.verify_code,
        "psk": registered.psk,
        "timeout": device.timeout,
    }


class RegisterView(APIView):
    """`POST /iocm/app/reg/v1.1.0/deviceCredentials` (verify-code mode) and the legacy `devices` paths."""

    @extend_schema(
        tags=DEVICES,
        summary="Register a device (200, psk shown once)",
        request=S.RegisterRequest,
        responses=answers({200: S.RegisterResponse}, *REGISTER_ERRORS),
    )
    def post(self, request: Request) -> Response:
        body = _json(request)
        info = body.get("deviceInfo") if isinstance(body.get("deviceInfo"), dict) else {}
        if body.get("deviceName") and "name" not in info:
            info = {**info, "name": body["deviceName"]}
        registered = actions.do_register_device(
            get_application(request),
            node_id=body.get("nodeId"),
            verify_code=body.get("verifyCode"),
            psk=body.get("psk"),
            timeout=body.get("timeout"),
            imsi=str(body.get("endUserId") or body.get("imsi") or ""),
            is_secure=bool(body.get("isSecure", False)),
            info=info,
        )
        return Response(_registration_body(registered.device, registered))


class RegisterPasswordView(APIView):
    """`POST /iocm/app/reg/v2.0.0/deviceCredentials`: password mode; answers the device's secret once."""

    @extend_schema(
        operation_id="registerDeviceWithSecret",
        tags=DEVICES,
        summary="Register a device (password mode)",
        request=S.PasswordRegisterRequest,
        responses=answers({200: S.PasswordRegisterResponse}, *REGISTER_ERRORS),
    )
    def post(self, request: Request) -> Response:
        info = _json(request).get("deviceInfo")
        if not isinstance(info, dict):
            raise NorthboundError("100022", "The input is invalid: deviceInfo is required and must be an object.")
        registered = actions.do_register_device(
            get_application(request),
            node_id=info.get("nodeId"),
            timeout=request.data.get("timeout", 0),
            is_secure=str(info.get("isSecurity", "FALSE")).upper() == "TRUE",
            password_mode=True,
            info=info,
        )
        device = registered.device
        return Response({"deviceId": device.device_id, "secret": registered.secret, "timeout": device.timeout})


class CredentialsView(APIView):
    """`/iocm/app/reg/v1.1.0/deviceCredentials/{deviceId}`: activation status (GET), refresh key (PUT)."""

    @extend_schema(
        operation_id="getActivationStatus", tags=DEVICES, responses=answers({200: S.ActivationResponse}, "100418")
    )
    def get(self, request: Request, device_id: str) -> Response:
        device = actions.get_device(get_application(request), device_id)
        return Response({"deviceId": device.device_id, "activated": device.activated, "name": device.name or None})

    @extend_schema(
        operation_id="refreshDeviceKey",
        tags=DEVICES,
        summary="New verify code; only while offline",
        request=S.RefreshKeyRequest,
        responses=answers({200: S.RefreshKeyResponse}, "100022", "100003", "100418", "100426", "100611"),
    )
    def put(self, request: Request, device_id: str) -> Response:
        device = actions.get_device(get_application(request), device_id)
        body = _json(request)
        device = actions.do_refresh_key(
            device, verify_code=body.get("verifyCode"), node_id=body.get("nodeId"), timeout=body.get("timeout")
        )
        return Response({"verifyCode": device.verify_code, "timeout": device.timeout})


class DevicesView(APIView):
    """`GET /iocm/app/dm/v1.x.0/devices`: the application's devices, paged (pageSize default 1)."""

    schema = PageSchema()

    @extend_schema(
        tags=DEVICES,
        responses=answers({200: S.DevicePageSerializer}, "100022", "100216", "100218"),
        parameters=[
            OpenApiParameter("gatewayId", str),
            OpenApiParameter("nodeType", str, enum=["ENDPOINT", "GATEWAY"]),
            OpenApiParameter("deviceType", str),
            OpenApiParameter("status", str, enum=["ONLINE", "OFFLINE", "ABNORMAL"]),
            OpenApiParameter("pageNo", int, description="empty: no paging (needs gatewayId); 0 is the first page"),
            OpenApiParameter("pageSize", int, description="1 to 1000, default 1"),
            OpenApiParameter("startTime", str),
            OpenApiParameter("endTime", str),
            OpenApiParameter("sort", str, enum=["ASC", "DESC"]),
            OpenApiParameter("select", str, description="imsi: add the IMSI"),
        ],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        gateway_id = params.get("gatewayId") or None
        page_no = whole_number(request, "pageNo", None, maximum=10_000_000, code="100216")
        if page_no is None and gateway_id is None:
            raise NorthboundError("100218")
        page_size = whole_number(request, "pageSize", 1, minimum=1, maximum=1000, code="100216")
        devices = Device.objects.for_app(get_application(request)).select_related("gateway")
        if gateway_id:
            devices = devices.filter(gateway__device_id=gateway_id) | devices.filter(device_id=gateway_id, gateway=None)
        if node_type := params.get("nodeType"):
            if node_type not in NodeType.values:
                raise NorthboundError(
                    "100216", "The application input is invalid: nodeType must be ENDPOINT or GATEWAY."
                )
            devices = devices.filter(node_type=node_type)
        if device_type := params.get("deviceType"):
            devices = devices.filter(device_type=device_type)
        if status_filter := params.get("status"):
            if status_filter not in Status.values:
                raise NorthboundError(
                    "100216", "The application input is invalid: status must be ONLINE, OFFLINE or ABNORMAL."
                )
            devices = devices.filter(status=status_filter)
        if start := time_param(request, "startTime"):
            devices = devices.filter(created_at__gte=start)
        if end := time_param(request, "endTime"):
            devices = devices.filter(created_at__lte=end)
        sort = params.get("sort", "DESC").upper()
        if sort not in ("ASC", "DESC"):
            raise NorthboundError("100216", "The application input is invalid: sort must be ASC or DESC.")
        ordering = ["created_at", "id"] if sort == "ASC" else ["-created_at", "-id"]
        total = devices.count()
        devices = devices.order_by(*ordering)
        page = devices[page_no * page_size : (page_no + 1) * page_size] if page_no is not None else devices[:1000]
        imsi = params.get("select") == "imsi"
        return Response(
            {
                "totalCount": total,
                "pageNo": page_no if page_no is not None else 0,
                "pageSize": page_size,
                "devices": [device_body(device, imsi=imsi) for device in page],
            }
        )


class DeviceView(APIView):
    """`/iocm/app/dm/v1.x.0/devices/{deviceId}`: query (200), modify (204), delete (204)."""

    @extend_schema(
        tags=DEVICES,
        parameters=[OpenApiParameter("select", str)],
        responses=answers({200: S.DeviceSerializer}, "100418:200"),
    )
    def get(self, request: Request, device_id: str) -> Response:
        # The original answers "not existed" on this call with HTTP 200.
        device = actions.get_device(get_application(request), device_id, http_status=200)
        return Response(device_body(device, imsi=request.query_params.get("select") == "imsi"))

    @extend_schema(tags=DEVICES, request=S.ModifyDeviceRequest, responses=answers({204: None}, "100022", "100418"))
    def put(self, request: Request, device_id: str) -> Response:
        device = actions.get_device(get_application(request), device_id)
        actions.do_modify_device(device, actions.check_modify(_json(request)))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=DEVICES,
        parameters=[OpenApiParameter("cascade", bool)],
        responses=answers({204: None}, "100022", "100418"),
    )
    def delete(self, request: Request, device_id: str) -> Response:
        device = actions.get_device(get_application(request), device_id)
        cascade = request.query_params.get("cascade", "").lower() == "true"
        actions.do_delete_device(device, cascade=cascade)
        return Response(status=status.HTTP_204_NO_CONTENT)


class HistoryView(APIView):
    """`GET /iocm/app/data/v1.x.0/deviceDataHistory` (F-4.10): newest first, pageSize at most 2000."""

    @extend_schema(
        tags=DATA,
        responses=answers({200: S.HistoryPage}, "100022", "100216", "100419"),
        parameters=[
            OpenApiParameter("deviceId", str),
            OpenApiParameter("gatewayId", str),
            OpenApiParameter("serviceId", str),
            OpenApiParameter("property", str),
            OpenApiParameter("pageNo", int, description="empty: no paging (at most 2000 rows); 0 is the first page"),
            OpenApiParameter("pageSize", int, description="1 to 2000, default 1"),
            OpenApiParameter("startTime", str),
            OpenApiParameter("endTime", str),
        ],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        device_id, gateway_id = params.get("deviceId") or None, params.get("gatewayId") or None
        if device_id is None and gateway_id is None:
            raise NorthboundError("100419")
        page_no = whole_number(request, "pageNo", None, maximum=10_000_000, code="100216")
        page_size = whole_number(request, "pageSize", 1, minimum=1, maximum=2000, code="100216")
        application = get_application(request)
        devices = Device.objects.for_app(application).select_related("gateway")
        device = devices.filter(device_id=device_id or gateway_id).first()
        if device is not None and device_id and gateway_id and device.gateway_device_id != gateway_id:
            device = None  # a sub-device is asked for under its own gateway only
        if device is None:
            return Response(
                {"totalCount": 0, "pageNo": page_no or 0, "pageSize": page_size, "deviceDataHistoryDTOs": []}
            )
        rows = DataHistory.objects.filter(device_id=device.pk)
        if service_id := params.get("serviceId"):
            rows = rows.filter(service_id=service_id)
        if prop := params.get("property"):
            rows = rows.filter(data__has_key=prop)
        if start := time_param(request, "startTime"):
            rows = rows.filter(event_time__gte=start)
        if end := time_param(request, "endTime"):
            rows = rows.filter(event_time__lte=end)
        total = rows.count()
        rows = rows.order_by("-event_time", "-id").values("service_id", "data", "event_time")
        page = rows[:2000] if page_no is None else rows[page_no * page_size : (page_no + 1) * page_size]
        gateway = device.gateway_device_id
        return Response(
            {
                "totalCount": total,
                "pageNo": page_no or 0,
                "pageSize": page_size,
                "deviceDataHistoryDTOs": [
                    {
                        "deviceId": device.device_id,
                        "gatewayId": gateway,
                        "appId": application.app_id,
                        "serviceId": row["service_id"],
                        "data": row["data"],
                        "timestamp": format_time(row["event_time"]),
                    }
                    for row in page
                ],
            }
        )


class CapabilitiesView(APIView):
    """`GET /iocm/app/data/v1.1.0/deviceCapabilities`: the product's profile, per device."""

    @extend_schema(
        operation_id="deviceCapabilities",
        tags=DATA,
        parameters=[OpenApiParameter("deviceId", str), OpenApiParameter("gatewayId", str)],
        responses=answers({200: S.Capabilities}, "100419"),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        device_id, gateway_id = params.get("deviceId") or None, params.get("gatewayId") or None
        if device_id is None and gateway_id is None:
            raise NorthboundError("100419")
        devices = Device.objects.for_app(get_application(request)).select_related("product")
        if device_id:
            devices = devices.filter(device_id=device_id)
        else:
            devices = devices.filter(gateway__device_id=gateway_id) | devices.filter(device_id=gateway_id)
        return Response(
            {
                "deviceCapabilities": [
                    {
                        "deviceId": device.device_id,
                        "serviceCapabilities": device.product.service_capabilities() if device.product else [],
                    }
                    for device in devices[:1000]
                ]
            }
        )


def _group_body(group: DeviceGroup, count: int | None = None) -> dict[str, Any]:
    return {
        "id": group.dev_group_id,
        "name": group.name,
        "description": group.description or None,
        "appId": group.application.app_id,
        "maxDevNum": group.max_devices,
        "curDevNum": count if count is not None else group.devices.count(),
        "creator": group.creator or None,
    }


class GroupsView(APIView):
    """`/iocm/app/devgroup/v1.3.0/devGroups`: create (201), list."""

    @extend_schema(
        operation_id="createDeviceGroup",
        tags=GROUPS,
        request=S.GroupRequest,
        responses=answers(
            {201: S.GroupSerializer}, "100604", "100609", "100418", "100601:200", "100602:200", "100607:200"
        ),
    )
    def post(self, request: Request) -> Response:
        fields = S.GroupRequest(data=_json(request)).changes(creating=True)
        device_ids = fields.get("deviceIds", [])
        group = actions.do_create_group(
            get_application(request),
            fields["name"],
            fields.get("description", ""),
            fields.get("max_devices", 0),
            device_ids,
            creator=get_application(request).app_id,
        )
        return Response({**_group_body(group), "deviceIds": device_ids}, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="listDeviceGroups", tags=GROUPS, responses=answers({200: S.GroupPage}, "100022"))
    def get(self, request: Request) -> Response:
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000)
        page_size = whole_number(request, "pageSize", 10, minimum=1, maximum=1000)
        groups = DeviceGroup.objects.filter(application=get_application(request)).select_related("application")
        if name := request.query_params.get("name"):
            groups = groups.filter(name__icontains=name)
        total = groups.count()
        page = groups.annotate(members=Count("devices")).order_by("name", "id")[
            page_no * page_size : (page_no + 1) * page_size
        ]
        return Response(
            {
                "totalCount": total,
                "pageNo": page_no,
                "pageSize": page_size,
                "list": [_group_body(group, group.members) for group in page],
            }
        )


class GroupView(APIView):
    """`/iocm/app/devgroup/v1.3.0/devGroups/{devGroupId}`: get, modify, delete."""

    @extend_schema(
        operation_id="getDeviceGroup", tags=GROUPS, responses=answers({200: S.GroupSerializer}, "100603:200")
    )
    def get(self, request: Request, group_id: str) -> Response:
        return Response(_group_body(actions.get_group(get_application(request), group_id)))

    @extend_schema(
        operation_id="modifyDeviceGroup",
        tags=GROUPS,
        request=S.GroupRequest,
        responses=answers({200: S.GroupSerializer}, "100604", "100603:200", "100602:200"),
    )
    def put(self, request: Request, group_id: str) -> Response:
        group = actions.get_group(get_application(request), group_id)
        fields = S.GroupRequest(data=_json(request)).changes(creating=False)
        return Response(_group_body(actions.do_modify_group(group, fields) if fields else group))

    @extend_schema(
        operation_id="deleteDeviceGroup",
        tags=GROUPS,
        responses=answers({200: OpenApiResponse(description="Deleted; no body.")}, "100603:200"),
    )
    def delete(self, request: Request, group_id: str) -> Response:
        actions.do_delete_group(actions.get_group(get_application(request), group_id))
        return Response(status=status.HTTP_200_OK)  # the original answers 200 with no body


class GroupMembersView(APIView):
    """`GET /iocm/app/dm/v1.2.0/devices/ids?devGroupId=`: the deviceIds of a group."""

    @extend_schema(
        operation_id="listGroupMembers",
        tags=GROUPS,
        parameters=[OpenApiParameter("devGroupId", str)],
        responses=answers({200: S.GroupMembers}, "100022", "100603:200"),
    )
    def get(self, request: Request) -> Response:
        group = actions.get_group(get_application(request), request.query_params.get("devGroupId", ""))
        page_no = whole_number(request, "pageNo", 0, maximum=1_000_000)
        page_size = whole_number(request, "pageSize", 10, minimum=1, maximum=1000)
        members = group.devices.order_by("id").values_list("device_id", flat=True)
        return Response(
            {
                "totalCount": members.count(),
                "pageNo": page_no,
                "pageSize": page_size,
                "deviceIds": list(members[page_no * page_size : (page_no + 1) * page_size]),
            }
        )


class GroupTagView(APIView):
    """`POST /iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices` and `deleteDevGroupTagFromDevices`."""

    remove = False

    @extend_schema(
        tags=GROUPS,
        request=S.GroupTagRequest,
        responses=answers({200: S.GroupTagRequest}, "100604", "100609", "100418", "100601:200", "100603:200"),
    )
    def post(self, request: Request) -> Response:
        body = _json(request)
        group = actions.get_group(get_application(request), str(body.get("devGroupId", "")))
        device_ids = body.get("deviceIds")
        if not isinstance(device_ids, list) or not all(isinstance(item, str) for item in device_ids):
            raise NorthboundError("100604", "The device group request parameter is invalid: deviceIds must be a list.")
        if self.remove:
            actions.do_remove_from_group(group, device_ids)
        else:
            device_ids = actions.do_add_to_group(group, device_ids)
        return Response({"devGroupId": group.dev_group_id, "deviceIds": device_ids})


class RealtimeLocationView(APIView):
    """`POST /iocm/app/location/v1.1.0/queryDeviceRealtimeLocation`: the device's last known position."""

    @extend_schema(
        operation_id="queryDeviceRealtimeLocation",
        tags=DEVICES,
        request=S.RealtimeLocationRequest,
        responses=answers({200: S.RealtimeLocation}, "100022", "100418"),
        description=(
            "The last position the device reported (a service of its profile with latitude and longitude, "
            "such as Location), else its gateway's: `pd` with `X` the latitude and `Y` the longitude (WGS 84), "
            "or `poserr` when none is known. Answered at once, where the original asked the network (10-60 s)."
        ),
    )
    def post(self, request: Request) -> Response:
        body = S.RealtimeLocationRequest(data=_json(request))
        body.is_valid(raise_exception=True)
        device = actions.get_device(get_application(request), body.validated_data["deviceId"])
        return Response(location_body(device, last_location(device), format_time(timezone.now())))
