"""`/api/v1/devices/{deviceId}/lwm2m`: LwM2M management of one device (ingress.lwm2m_management).

POST asks for an operation and answers 202 with it (PENDING); GET `.../lwm2m/{operationId}` shows it with
the device's CoAP answer once it came. Another application's device answers like a missing one."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.auth import get_application
from applications.errors import NorthboundError
from devices import actions as device_actions
from ingress import lwm2m_management as management
from ingress.models import BootstrapDevice, ManagementOperation
from products.lwm2m_mapping import MappingInvalid

TAGS = ["LwM2M management"]


class OperationRequestSerializer(serializers.Serializer):
    operation = serializers.ChoiceField(management.OPERATIONS)
    path = serializers.CharField(help_text="/object/instance/resource (or an object or instance for read, discover).")
    value = serializers.JSONField(
        required=False,
        help_text="write: the value (base64 for Opaque); execute: the argument string; write_attributes: "
        '{"pmin": 60, "pmax": 3600, "gt": .., "lt": .., "st": ..}.',
    )


class OperationSerializer(serializers.Serializer):
    operationId = serializers.UUIDField()
    operation = serializers.CharField()
    path = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    status = serializers.ChoiceField(ManagementOperation.Status.values)
    code = serializers.CharField(allow_null=True, help_text="The device's CoAP answer: 2.05, 4.04...")
    result = serializers.JSONField(
        allow_null=True,
        help_text=(
            'read: values by path; discover: the links, each {"path": ..., "attributes": {...}} as the device '
            "listed them"
        ),
    )
    detail = serializers.CharField(allow_null=True)
    createdAt = serializers.CharField()
    completedAt = serializers.CharField(allow_null=True)


class ManagementView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="requestLwm2mOperation",
        tags=TAGS,
        summary="Read, Write, Write-Attributes, Execute or Discover a resource of an LwM2M device",
        description=(
            "Sent now to a connected device, or held until a queue-mode device's next wake. Reboot: "
            '`{"operation": "execute", "path": "/3/0/4"}`; factory reset: `/3/0/5`. Checked against the object '
            "definition (the registry's or the product's own): 100022 names the field and the rule."
        ),
        request=OperationRequestSerializer,
        responses={202: OperationSerializer, 400: OpenApiResponse(description="100022")},
    )
    def post(self, request: Request, device_id: str) -> Response:
        device = device_actions.get_device(get_application(request), device_id)
        try:
            fields = management.check_operation(device, request.data)
        except (management.OperationInvalid, MappingInvalid) as problem:
            raise NorthboundError("100022", f"The input is invalid: {problem}.") from None
        operation = management.do_request_operation(device, fields)
        return Response(management.body(operation), status=status.HTTP_202_ACCEPTED)


class OperationView(APIView):
    @extend_schema(
        operation_id="getLwm2mOperation",
        tags=TAGS,
        summary="One LwM2M management operation with the device's answer",
        responses={200: OperationSerializer},
    )
    def get(self, request: Request, device_id: str, operation_id: str) -> Response:
        device = device_actions.get_device(get_application(request), device_id)
        try:
            key = uuid.UUID(operation_id)
        except ValueError:
            raise NotFound() from None
        operation = ManagementOperation.objects.filter(device=device, operation_id=key).first()
        if operation is None:
            raise NotFound()
        return Response(management.body(operation))


class BootstrapSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="The bootstrap server may write this device's /0 and /1.")


class BootstrapView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getLwm2mBootstrap", tags=TAGS, responses={200: BootstrapSerializer})
    def get(self, request: Request, device_id: str) -> Response:
        device = device_actions.get_device(get_application(request), device_id)
        return Response({"enabled": BootstrapDevice.objects.filter(device=device).exists()})

    @extend_schema(
        operation_id="setLwm2mBootstrap",
        tags=TAGS,
        summary="Enable or disable LwM2M bootstrap for a device (it needs a psk)",
        request=BootstrapSerializer,
        responses={200: BootstrapSerializer, 400: OpenApiResponse(description="100022")},
    )
    def put(self, request: Request, device_id: str) -> Response:
        device = device_actions.get_device(get_application(request), device_id)
        enabled = request.data.get("enabled") if isinstance(request.data, dict) else None
        if not isinstance(enabled, bool):
            raise NorthboundError("100022", "The input is invalid: enabled must be true or false.")
        try:
            management.do_set_bootstrap(device, enabled)
        except management.OperationInvalid as problem:
            raise NorthboundError("100022", f"The input is invalid: {problem}.") from None
        return Response({"enabled": enabled})
