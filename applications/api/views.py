"""Northbound authentication and application calls (northbound-api.md sections 1 and 2.6)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications import actions
from applications.addresses import client_address
from applications.api.serializers import (
    ApplicationInfoSerializer,
    ErrorSerializer,
    GatewayErrorSerializer,
    LoginSerializer,
    LogoutSerializer,
    ModifyApplicationSerializer,
    RefreshSerializer,
    TokenSerializer,
)
from applications.auth import get_application
from applications.errors import NorthboundError
from applications.schema import answers


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # A form body only, as in the original; JSON is refused with 100022.
    parser_classes = [FormParser, MultiPartParser]

    @extend_schema(
        operation_id="login",
        tags=["Authentication"],
        summary="Log in with appId and secret",
        description=(
            "Form-encoded. Returns an access token valid for `expiresIn` seconds and a refresh token "
            "valid for 30 days. A new login ends the previous access token."
        ),
        request={"application/x-www-form-urlencoded": LoginSerializer},
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(ErrorSerializer, description="100022: not a form, or a field missing or too long"),
            401: OpenApiResponse(ErrorSerializer, description="100208: appId or secret is not right"),
            403: OpenApiResponse(
                GatewayErrorSerializer,
                description="1010004 with Retry-After: too many wrong secrets for this appId from this address",
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pair = actions.do_login(values["appId"], values["secret"], address=client_address(request))
        return Response(pair.as_response())


class RefreshTokenView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        operation_id="refreshToken",
        tags=["Authentication"],
        summary="Trade a refresh token for a new token pair",
        description="JSON or form body. Both tokens are replaced; the previous access token ends.",
        request={"application/json": RefreshSerializer, "application/x-www-form-urlencoded": RefreshSerializer},
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(ErrorSerializer, description="100022: a field missing or too long"),
            401: OpenApiResponse(
                ErrorSerializer, description="100208: appId or secret wrong; 100006: refresh token not valid"
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pair = actions.do_refresh(
            values["appId"], values["secret"], values["refreshToken"], address=client_address(request)
        )
        return Response(pair.as_response())


class LogoutView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        operation_id="logout",
        tags=["Authentication"],
        summary="End an access token (deprecated in the original)",
        request=LogoutSerializer,
        responses={204: None, 400: ErrorSerializer},
        auth=[],
        deprecated=True,
    )
    def post(self, request: Request) -> Response:
        data = LogoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.do_logout(data.validated_data["accessToken"])
        return Response(status=status.HTTP_204_NO_CONTENT)


def _application_info(application) -> dict:
    return {
        "appId": application.app_id,
        "appName": application.name,
        "deviceStatusTimeConfig": {
            "abnormalTime": application.abnormal_after,
            "offlineTime": application.offline_after,
        },
        "storageMode": application.storage_mode,
        "pushProtocol": application.push_protocol,
        "dataAgingTime": application.data_retention_days,
        "deviceQuota": application.device_quota,
        "flowControl": {"calls": application.api_rate_limit, "windowSeconds": settings.NORTHBOUND_RATE_WINDOW},
    }


class ApplicationView(APIView):
    """`/iocm/app/am/v1.1.0/applications/{appId}`: the calling application's settings."""

    def _own(self, request: Request, app_id: str):
        application = get_application(request)
        if app_id != application.app_id:
            raise NorthboundError("100217")
        return application

    @extend_schema(
        operation_id="getApplication",
        tags=["Applications"],
        summary="Read the calling application's settings (an addition of this platform)",
        responses=answers({200: ApplicationInfoSerializer}, "100217"),
    )
    def get(self, request: Request, app_id: str) -> Response:
        return Response(_application_info(self._own(request, app_id)))

    @extend_schema(
        operation_id="modifyApplication",
        tags=["Applications"],
        summary="Set the device status thresholds (abnormalTime, offlineTime, in seconds)",
        request=ModifyApplicationSerializer,
        responses=answers({204: None}, "100022", "100217"),
    )
    def put(self, request: Request, app_id: str) -> Response:
        application = self._own(request, app_id)
        data = ModifyApplicationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        config = data.validated_data["deviceStatusTimeConfig"]
        changes = {}
        if "abnormalTime" in config:
            changes["abnormal_after"] = config["abnormalTime"]
        if "offlineTime" in config:
            changes["offline_after"] = config["offlineTime"]
        errors = actions.check_settings(application, changes)
        if errors:
            names = {"abnormal_after": "abnormalTime", "offline_after": "offlineTime"}
            detail = "; ".join(f"deviceStatusTimeConfig.{names.get(k, k)}: {v}" for k, v in errors.items())
            detail = detail.replace("abnormal_after", "abnormalTime")
            raise NorthboundError("100022", f"The input is invalid: {detail}")
        if changes:
            actions.do_update_settings(application, changes)
        return Response(status=status.HTTP_204_NO_CONTENT)


def unknown_path(request: HttpRequest) -> JsonResponse:
    """Any /iocm/ or /iodm/ path the platform does not serve: the original's JSON error, never the
    portal's HTML page (an application server parses every answer as JSON)."""
    return JsonResponse(NorthboundError("200001").body(), status=404, json_dumps_params={"separators": (",", ":")})
