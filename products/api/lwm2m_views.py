"""LwM2M calls of the Developer Center: a product's mapping (export with GET, edit and import with PUT)
and the object registry its picker reads. Another application's product answers 404, like a missing one."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.auth import get_application
from applications.schema import answers
from products import actions, lwm2m_objects
from products.api.lwm2m_serializers import (
    MappingErrorSerializer,
    MappingSerializer,
    ObjectSerializer,
    RegistrySerializer,
)
from products.api.views import AUTH_ERRORS, NOT_FOUND, PROFILE_ID, ProfileAPIView
from products.lwm2m_mapping import MappingInvalid, export_document

MAPPING_INVALID = {
    400: OpenApiResponse(
        MappingErrorSerializer, description="100022: the mapping breaks a rule, named in `rule`; nothing changed."
    )
}


def _summary(definition: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "name", "version", "multiple", "licence")
    return {key: definition[key] for key in keys if key in definition}


def _full(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        **_summary(definition),
        "urn": definition["urn"],
        "mandatory": definition["mandatory"],
        "resources": list(definition["resources"].values()),
    }


class ProfileLwm2mView(ProfileAPIView):
    parser_classes = [JSONParser]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, MappingInvalid):
            body = {"error_code": "100022", "error_desc": f"The input is invalid: {exc}.", "field": exc.field}
            return Response({**body, "rule": exc.code}, status=400)
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="getProfileLwm2m",
        tags=["Profiles"],
        summary="Export a product's LwM2M mapping: paths, commands, Write-Attributes, its own object definitions",
        parameters=[PROFILE_ID],
        responses={200: MappingSerializer, **NOT_FOUND, **AUTH_ERRORS},
    )
    def get(self, request: Request, profile_id: str) -> Response:
        return Response(export_document(self.own_product(request, profile_id).lwm2m_mapping))

    @extend_schema(
        operation_id="setProfileLwm2m",
        tags=["Profiles"],
        summary="Set (or import) a product's LwM2M mapping as a whole",
        description=(
            "The document GET returns. Every path must exist in the registry or in the product's own DDF "
            "XML (`objects`), a property's resource must be readable and its type fit the property's dataType, "
            "a command's resource writable (write) or executable (execute). Allowed on a locked product: "
            "devices follow it from their next registration (docs/lwm2m-objects.md)."
        ),
        parameters=[PROFILE_ID],
        request=MappingSerializer,
        responses={200: MappingSerializer, **MAPPING_INVALID, **NOT_FOUND, **AUTH_ERRORS},
    )
    def put(self, request: Request, profile_id: str) -> Response:
        product = self.own_product(request, profile_id)
        product = actions.do_set_lwm2m_mapping(product, request.data)
        return Response(export_document(product.lwm2m_mapping))


OBJECT_ID = OpenApiParameter("object_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="LwM2M object id")


class RegistryView(APIView):
    @extend_schema(
        operation_id="listLwm2mObjects",
        tags=["LwM2M objects"],
        summary="The OMA/IPSO object registry the platform knows (the profile editor's picker)",
        responses={200: RegistrySerializer, **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        get_application(request)
        registry = lwm2m_objects.registry()
        objects = [_summary(definition) for definition in registry["objects"].values()]
        return Response({"source": registry["source"], "commit": registry["commit"], "objects": objects})


class RegistryObjectView(APIView):
    @extend_schema(
        operation_id="getLwm2mObject",
        tags=["LwM2M objects"],
        summary="One registry object with its resources: names, operations, types, units and ranges",
        parameters=[OBJECT_ID],
        responses={**answers({200: ObjectSerializer}, "200001"), **AUTH_ERRORS},
    )
    def get(self, request: Request, object_id: int) -> Response:
        get_application(request)
        definition = lwm2m_objects.registry_object(object_id)
        if definition is None:
            raise NotFound()
        return Response(_full(definition))
