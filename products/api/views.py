"""The Developer Center's profile calls: `/api/v1/profiles`, with the northbound token auth.

OceanConnect offered profiles only in its web console; these calls give application servers and
scripts the same: upload (the portal's and `import_profile`'s validation), list, read, export,
replace and delete, each limited to the calling application's own products. A product of another
application answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.api.serializers import ErrorSerializer, GatewayErrorSerializer
from applications.auth import get_application
from applications.errors import NorthboundError
from products import actions
from products.actions import ProductLocked
from products.api.serializers import (
    ProfileDetailSerializer,
    ProfileErrorSerializer,
    ProfilePageSerializer,
    ProfileSettingsSerializer,
    ProfileSummarySerializer,
    ProfileUploadSerializer,
    error_body,
)
from products.models import Product
from products.querysets import LIST_FIELDS
from products.validation import ProfileInvalid, ProfileIssue, read_upload

TAGS = ["Profiles"]
AUTH_ERRORS = {
    403: OpenApiResponse(GatewayErrorSerializer, description="1010005 bad token or app_key; 1010004 throttled"),
}
NOT_FOUND = {
    404: OpenApiResponse(
        ErrorSerializer, description="200001: no such profile in the calling application (another's answer the same)"
    )
}
INVALID = {
    400: OpenApiResponse(
        ProfileErrorSerializer,
        description=(
            "100022: the profile breaks one or more rules; `errors` lists each with its code "
            "(docs/errors.md), the file inside the zip, the JSON path, line and column for syntax errors, "
            "and the message in English and Chinese. Nothing was stored."
        ),
    )
}
LOCKED = {
    409: OpenApiResponse(
        ProfileErrorSerializer,
        description="200002 with PROFILE_LOCKED: devices are registered with the product (F-2.9); nothing changed.",
    )
}
PROFILE_ID = OpenApiParameter("profile_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="profileId")


class ProfileAPIView(APIView):
    """Profile errors answer with the documented body: 400 100022, or 409 200002 when locked."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ProfileInvalid):
            return Response(error_body("100022", exc.issues), status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, ProductLocked):
            return Response(error_body("200002", [exc.issue]), status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)

    def own_product(self, request: Request, profile_id: str) -> Product:
        try:
            key = uuid.UUID(profile_id)
        except ValueError:
            raise NotFound() from None
        product = Product.objects.for_app(get_application(request)).filter(product_id=key).first()
        if product is None:
            raise NotFound()
        return product


def _uploaded(request: Request) -> tuple[str, bytes]:
    upload = request.FILES.get("file")
    if upload is None:
        raise ProfileInvalid([ProfileIssue("PROFILE_FILE_MISSING")])
    return upload.name, read_upload(upload.name, upload, upload.size)


class PageQuerySerializer(serializers.Serializer):
    pageNo = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
    pageSize = serializers.IntegerField(min_value=1, max_value=100, default=25)
    deviceType = serializers.CharField(required=False, max_length=64)
    manufacturerId = serializers.CharField(required=False, max_length=64)
    model = serializers.CharField(required=False, max_length=64)


class ProfileListView(ProfileAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="listProfiles",
        tags=TAGS,
        summary="List the calling application's profiles",
        description="Paged like the northbound lists: `pageNo` from 0, `pageSize` 1 to 100 (default 25).",
        parameters=[PageQuerySerializer],
        responses={200: ProfilePageSerializer, 400: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page_no, page_size = query.validated_data["pageNo"], query.validated_data["pageSize"]
        products = Product.objects.for_app(get_application(request)).only(*LIST_FIELDS)
        for parameter, field in (
            ("deviceType", "device_type"),
            ("manufacturerId", "manufacturer_id"),
            ("model", "model"),
        ):
            if parameter in query.validated_data:
                products = products.filter(**{field: query.validated_data[parameter]})
        total = products.count()
        page = list(products[page_no * page_size : (page_no + 1) * page_size])
        context = {"device_counts": actions.device_counts(page)}
        return Response(
            {
                "totalCount": total,
                "pageNo": page_no,
                "pageSize": page_size,
                "profiles": ProfileSummarySerializer(page, many=True, context=context).data,
            }
        )

    @extend_schema(
        operation_id="uploadProfile",
        tags=TAGS,
        summary="Upload a profile zip (multipart field `file`)",
        description=(
            "The zip must be named deviceType_manufacturerId_model.zip and pass every rule of "
            "docs/errors.md, the same as the portal's upload and `manage.py import_profile`. "
            "manufacturerId + model must be new on the whole platform (F-2.7)."
        ),
        request={"multipart/form-data": ProfileUploadSerializer},
        responses={201: ProfileDetailSerializer, **INVALID, **AUTH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        name, data = _uploaded(request)
        product = actions.do_import_profile(get_application(request), name, data)
        return Response(ProfileDetailSerializer(product).data, status=status.HTTP_201_CREATED)


class ProfileView(ProfileAPIView):
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        operation_id="getProfile",
        tags=TAGS,
        summary="Read one profile with its services, properties and commands",
        parameters=[PROFILE_ID],
        responses={200: ProfileDetailSerializer, **NOT_FOUND, **AUTH_ERRORS},
    )
    def get(self, request: Request, profile_id: str) -> Response:
        return Response(ProfileDetailSerializer(self.own_product(request, profile_id)).data)

    @extend_schema(
        operation_id="replaceProfile",
        tags=TAGS,
        summary="Replace a profile by a new zip for the same manufacturerId and model",
        parameters=[PROFILE_ID],
        request={"multipart/form-data": ProfileUploadSerializer},
        responses={200: ProfileDetailSerializer, **INVALID, **NOT_FOUND, **LOCKED, **AUTH_ERRORS},
    )
    def put(self, request: Request, profile_id: str) -> Response:
        product = self.own_product(request, profile_id)
        name, data = _uploaded(request)
        product = actions.do_replace_profile(product, name, data)
        return Response(ProfileDetailSerializer(product).data)

    @extend_schema(
        operation_id="updateProfileSettings",
        tags=TAGS,
        summary="Change a product's settings beside its profile: LwM2M gateways, object 19",
        description=(
            'JSON `{"lwm2mGateway": true|false}`. With true, a device of this product that registers over '
            "LwM2M with object 25 (OMA LwM2M Gateway) acts for the devices behind it (docs/gateways.md). "
            '`{"lwm2mObject19": {"form": "auto"|"huawei"|"standard", "uplinkInstance": 0, "downlinkInstance": 1}}` '
            "(each key optional): object 19's instances and how downlinks are written (docs/lwm2m.md), from each "
            "device's next registration. Allowed on a locked product: the profile does not change."
        ),
        parameters=[PROFILE_ID],
        request={"application/json": ProfileSettingsSerializer},
        responses={200: ProfileDetailSerializer, **INVALID, **NOT_FOUND, **AUTH_ERRORS},
    )
    def patch(self, request: Request, profile_id: str) -> Response:
        product = self.own_product(request, profile_id)
        body = request.data if isinstance(request.data, dict) else None
        object19 = None
        if body is not None and "lwm2mObject19" in body:
            try:
                object19 = actions.check_lwm2m_object19(body["lwm2mObject19"])
            except ValueError as problem:
                raise NorthboundError("100022", f"The input is invalid: {problem}.") from None
        enabled = body.get("lwm2mGateway") if body is not None else None
        if not isinstance(enabled, bool) and (object19 is None or "lwm2mGateway" in body):
            raise NorthboundError("100022", "The input is invalid: lwm2mGateway must be true or false.")
        with transaction.atomic():
            if object19 is not None:
                try:
                    product = actions.do_set_lwm2m_object19(product, object19)
                except ValueError as problem:
                    raise NorthboundError("100022", f"The input is invalid: {problem}.") from None
            if isinstance(enabled, bool):
                product = actions.do_set_lwm2m_gateway(product, enabled)
        return Response(ProfileDetailSerializer(product).data)

    @extend_schema(
        operation_id="deleteProfile",
        tags=TAGS,
        summary="Delete a profile no device uses",
        parameters=[PROFILE_ID],
        responses={204: None, **NOT_FOUND, **LOCKED, **AUTH_ERRORS},
    )
    def delete(self, request: Request, profile_id: str) -> Response:
        actions.do_delete_product(self.own_product(request, profile_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileExportView(ProfileAPIView):
    @extend_schema(
        operation_id="exportProfile",
        tags=TAGS,
        summary="Download the profile as its zip",
        description=(
            "The zip as uploaded, byte for byte, or as rebuilt after an edit in the portal's editor. "
            "Importing it again gives the same profile."
        ),
        parameters=[PROFILE_ID],
        responses={(200, "application/zip"): OpenApiTypes.BINARY, **NOT_FOUND, **AUTH_ERRORS},
    )
    def get(self, request: Request, profile_id: str) -> HttpResponse:
        return export_response(self.own_product(request, profile_id))


def export_response(product: Product) -> HttpResponse:
    """The product's zip as a download named deviceType_manufacturerId_model.zip."""
    response = HttpResponse(bytes(product.archive), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{product.archive_name}"'
    return response
