"""The Developer Center's codec calls: `/api/v1/codecs`, with the northbound token auth.

Upload an offline plugin (the checker runs first, F-3.8) or deploy an online one, list and read the
application's codecs, decode a payload and encode a command with any version (online debugging),
activate a version, delete a version or the whole codec (the lock rule of products.codec_actions).
A codec of another application answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
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
from products import codec_actions
from products.api.codec_serializers import (
    CheckReportSerializer,
    CodecChangeSerializer,
    CodecDetailSerializer,
    CodecErrorSerializer,
    CodecPageSerializer,
    CodecSummarySerializer,
    CodecUploadSerializer,
    DecodeRequestSerializer,
    DecodeResultSerializer,
    EncodeResultSerializer,
    OnlineDeploySerializer,
    UploadResultSerializer,
    VersionDetailSerializer,
    VersionSerializer,
    error_body,
)
from products.codec_actions import CodecLocked
from products.codecs import runtime, shapes
from products.codecs.errors import CodecError, Raw, fail
from products.codecs.profile import check_uplink, index_for
from products.models import Codec, Product

TAGS = ["Codecs"]
AUTH_ERRORS = {
    403: OpenApiResponse(GatewayErrorSerializer, description="1010005 bad token or app_key; 1010004 throttled"),
}
NOT_FOUND = {
    404: OpenApiResponse(ErrorSerializer, description="200001: no such codec (or version) in the calling application")
}
REFUSED = {
    400: OpenApiResponse(
        CodecErrorSerializer,
        description="100022: refused; `errors` lists each issue with its code (docs/errors.md), where "
        "(file and JSON path, or message, field and byte offset), the plugin's own message and the fix.",
    )
}
LOCKED = {
    409: OpenApiResponse(
        CodecErrorSerializer, description="200002 with CODEC_LOCKED: devices are registered with the product."
    )
}
CODEC_ID = OpenApiParameter("codec_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="codecId")
NUMBER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="version number")
VERSION = OpenApiParameter(
    "version", OpenApiTypes.INT, OpenApiParameter.QUERY, description="a version number; by default the active one"
)


class CodecAPIView(APIView):
    """Codec errors answer with the documented body: 400 100022, or 409 200002 when locked."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, CodecLocked):
            return Response(error_body("200002", exc.issues), status=status.HTTP_409_CONFLICT)
        if isinstance(exc, CodecError):
            body = error_body("100022", exc.issues)
            report = getattr(exc, "report", None)
            if report is not None:
                body["check"] = report.as_dict()
                body["logs"] = report.logs
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return super().handle_exception(exc)

    def own_codec(self, request: Request, codec_id: str) -> Codec:
        try:
            key = uuid.UUID(codec_id)
        except ValueError:
            raise NotFound() from None
        codec = Codec.objects.for_app(get_application(request)).select_related("product").filter(codec_id=key).first()
        if codec is None:
            raise NotFound()
        return codec


def _detail(codec: Codec) -> dict[str, Any]:
    """The codec with its versions: the summary's query, and one for the versions."""
    annotated = Codec.objects.with_summary().get(pk=codec.pk)
    annotated.version_list = list(codec.versions.order_by("-number"))
    return CodecDetailSerializer(annotated).data


def _version_number(request: Request) -> int | None:
    text = request.query_params.get("version")
    if text in (None, ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise fail("CODEC_VERSION_UNKNOWN", value=Raw(text)) from None


def activate_choice(value: Any) -> bool | None:
    """The upload's `activate`: true, false, or None when not given; CODEC_ACTIVATE otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise fail("CODEC_ACTIVATE", path="$.activate", value=str(value)[:40])


class PageQuerySerializer(serializers.Serializer):
    pageNo = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
    pageSize = serializers.IntegerField(min_value=1, max_value=100, default=25)


class CodecListView(CodecAPIView):
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        operation_id="listCodecs",
        tags=TAGS,
        summary="List the calling application's codecs",
        description="Paged like the northbound lists: `pageNo` from 0, `pageSize` 1 to 100 (default 25).",
        parameters=[PageQuerySerializer],
        responses={200: CodecPageSerializer, 400: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page_no, page_size = query.validated_data["pageNo"], query.validated_data["pageSize"]
        codecs = Codec.objects.for_app(get_application(request))
        total = codecs.count()
        page = list(codecs.with_summary().order_by("id")[page_no * page_size : (page_no + 1) * page_size])
        return Response(
            {
                "totalCount": total,
                "pageNo": page_no,
                "pageSize": page_size,
                "codecs": CodecSummarySerializer(page, many=True).data,
            }
        )

    @extend_schema(
        operation_id="uploadCodec",
        tags=TAGS,
        summary="Upload an offline plugin (multipart `file`), or deploy an online one (JSON)",
        description=(
            "Multipart: the plugin zip as `file` (manifest.json, the script, vectors.json), and optionally "
            "`profileId`; the product is otherwise the application's with the manifest's manufacturerId and "
            "model. The checker runs first (F-3.8): a refused plugin answers 400 with every issue and the "
            "checker's report as `check`. JSON: `{profileId, messages}` deploys an online plugin after the "
            "F-3.2 checks. Either way the plugin becomes the codec's next version. `activate` chooses: true "
            "makes it active now, false keeps the current one (try the new one on stored uplinks first). "
            "Left out, it is active at once while no device is registered with the product, and not "
            "activated once devices are (`activate=false`): a script that uploaded to a product with devices "
            "activates explicitly, with `activate=true` or the activate call. Test vectors are recommended, "
            "not required: without them the upload passes and `check.warnings` says so."
        ),
        request={"multipart/form-data": CodecUploadSerializer, "application/json": OnlineDeploySerializer},
        responses={201: UploadResultSerializer, **REFUSED, **AUTH_ERRORS},
    )
    def post(self, request: Request) -> Response:
        application = get_application(request)
        if request.content_type.startswith("application/json"):
            body = OnlineDeploySerializer(data=request.data)
            body.is_valid(raise_exception=True)
            product = self._product(request, body.validated_data["profileId"])
            activate = activate_choice(request.data.get("activate"))
            version = codec_actions.do_deploy_online(
                product, {"messages": request.data.get("messages")}, activate=activate
            )
            check = None
        else:
            upload = request.FILES.get("file")
            if upload is None:
                raise fail("CODEC_FILE_MISSING")
            limit = settings.CODEC_MAX_UPLOAD_BYTES
            if upload.size > limit:
                raise fail("CODEC_UPLOAD_TOO_LARGE", file=upload.name, size=Raw(upload.size), limit=Raw(limit))
            data = upload.read(limit + 1)
            activate = activate_choice(request.data.get("activate"))
            product = None
            if request.data.get("profileId"):
                product = self._product(request, request.data["profileId"])
            version = codec_actions.do_upload_codec(application, upload.name, data, product=product, activate=activate)
            check = CheckReportSerializer(version.report.as_dict()).data
        body = _detail(version.codec)
        body["uploaded"] = VersionSerializer(version).data
        if check is not None:
            body["check"] = check
        return Response(body, status=status.HTTP_201_CREATED)

    def _product(self, request: Request, profile_id: Any) -> Product:
        try:
            key = uuid.UUID(str(profile_id))
        except ValueError:
            raise NotFound() from None
        product = Product.objects.for_app(get_application(request)).filter(product_id=key).first()
        if product is None:
            raise NotFound()
        return product


class CodecView(CodecAPIView):
    @extend_schema(
        operation_id="getCodec",
        tags=TAGS,
        summary="Read one codec with its versions",
        parameters=[CODEC_ID],
        responses={200: CodecDetailSerializer, **NOT_FOUND, **AUTH_ERRORS},
    )
    def get(self, request: Request, codec_id: str) -> Response:
        return Response(_detail(self.own_codec(request, codec_id)))

    @extend_schema(
        operation_id="changeCodec",
        tags=TAGS,
        summary="Change a codec's settings: which fPort its uplinks without one get (uplinkPorts)",
        description="CoAP, LwM2M and MQTT uplinks carry no fPort; a TTN or ChirpStack codec gets the port "
        'this mapping gives for the channel the uplink came on: "*" (every uplink), "data/binary" (MQTT '
        "topic suffix) or a resource path (/19/0/0, /t/d; a gateway sub-device's /{prefix}/19/0/0 matches "
        "/19/0/0). Unmatched uplinks get the manifest's fPort. Allowed on locked products. A bad entry "
        "answers 400 100022 naming it (CODEC_PORT_CHANNEL, CODEC_FPORT) and changes nothing.",
        parameters=[CODEC_ID],
        request=CodecChangeSerializer,
        responses={200: CodecDetailSerializer, **REFUSED, **NOT_FOUND, **AUTH_ERRORS},
    )
    def patch(self, request: Request, codec_id: str) -> Response:
        codec = self.own_codec(request, codec_id)
        body = request.data if isinstance(request.data, dict) else {}
        if "uplinkPorts" not in body:
            raise fail("CODEC_PORT_CHANNEL", path="$.uplinkPorts", value=Raw("(missing)"))
        codec_actions.do_set_uplink_ports(codec, body["uplinkPorts"])
        return Response(_detail(codec))

    @extend_schema(
        operation_id="deleteCodec",
        tags=TAGS,
        summary="Delete a codec with all its versions, while no device uses its product",
        parameters=[CODEC_ID],
        responses={204: None, **NOT_FOUND, **LOCKED, **AUTH_ERRORS},
    )
    def delete(self, request: Request, codec_id: str) -> Response:
        codec_actions.do_delete_codec(self.own_codec(request, codec_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CodecVersionView(CodecAPIView):
    @extend_schema(
        operation_id="getCodecVersion",
        tags=TAGS,
        summary="Read one version: the online plugin's messages, or the offline plugin's manifest, script and vectors",
        parameters=[CODEC_ID, NUMBER],
        responses={200: VersionDetailSerializer, **NOT_FOUND, **AUTH_ERRORS},
    )
    def get(self, request: Request, codec_id: str, number: int) -> Response:
        codec = self.own_codec(request, codec_id)
        version = codec.versions.filter(number=number).first()
        if version is None:
            raise NotFound()
        return Response(VersionDetailSerializer(version).data)

    @extend_schema(
        operation_id="deleteCodecVersion",
        tags=TAGS,
        summary="Delete a version; the active one only while no device uses the product",
        parameters=[CODEC_ID, NUMBER],
        responses={204: None, **NOT_FOUND, **LOCKED, **AUTH_ERRORS},
    )
    def delete(self, request: Request, codec_id: str, number: int) -> Response:
        codec = self.own_codec(request, codec_id)
        if not codec.versions.filter(number=number).exists():
            raise NotFound()
        codec_actions.do_delete_version(codec, number)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CodecActivateView(CodecAPIView):
    @extend_schema(
        operation_id="activateCodecVersion",
        tags=TAGS,
        summary="Make a version the one that decodes and encodes",
        description="Allowed on a locked product too: that is how its devices' codec changes.",
        parameters=[CODEC_ID, NUMBER],
        request=None,
        responses={200: CodecDetailSerializer, **NOT_FOUND, **AUTH_ERRORS},
    )
    def post(self, request: Request, codec_id: str, number: int) -> Response:
        codec = self.own_codec(request, codec_id)
        if not codec.versions.filter(number=number).exists():
            raise NotFound()
        codec_actions.do_activate_version(codec, number)
        return Response(_detail(codec))


def payload_bytes(text: Any) -> bytes:
    """Hex from a request, spaces allowed; CodecError naming the rule otherwise."""
    if not isinstance(text, str):
        raise fail("CODEC_PAYLOAD_HEX", path="$.payload", value=str(text))
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError:
        raise fail("CODEC_PAYLOAD_HEX", path="$.payload", value=text[:80]) from None


class DecodeView(CodecAPIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="decodePayload",
        tags=TAGS,
        summary="Decode a payload as a device would send it (online debugging)",
        description=(
            "Answers the deviceReq or deviceRsp, the ways its values break the profile's types and ranges "
            "(`issues`, [] when none), and what the plugin logged. A payload the codec cannot decode "
            "answers 400 with the error (message, field and byte offset, or the plugin's own message) and "
            "the logs. `fPort` and `variables` reach TTN and ChirpStack codecs (a codec whose messages "
            "depend on the port); the others ignore them."
        ),
        parameters=[CODEC_ID, VERSION],
        request=DecodeRequestSerializer,
        responses={200: DecodeResultSerializer, **REFUSED, **NOT_FOUND, **AUTH_ERRORS},
    )
    def post(self, request: Request, codec_id: str) -> Response:
        codec = self.own_codec(request, codec_id)
        data = request.data if isinstance(request.data, dict) else {}
        payload = payload_bytes(data.get("payload"))
        port, variables = shapes.call_options(data)
        number, outcomes = runtime.decode_outcomes(
            codec.product,
            [payload],
            version=_version_number(request),
            check=False,
            ports=[port],
            variables=variables,
        )
        outcome = outcomes[0]
        if outcome.error is not None:
            return Response(error_body("100022", outcome.error.issues, logs=outcome.logs), status=400)
        issues = check_uplink(index_for(codec.product), outcome.value)
        return Response(
            {
                "version": number,
                "result": outcome.value,
                "issues": [found.as_dict() for found in issues],
                "logs": outcome.logs,
            }
        )


class EncodeView(CodecAPIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="encodeMessage",
        tags=TAGS,
        summary="Encode a cloudReq (a command) or a cloudRsp (a report ACK) (online debugging)",
        description=(
            "The body is the cloudReq `{msgType: 'cloudReq', serviceId, cmd, paras, mid}` (paras checked "
            "against the profile, F-5.9) or the cloudRsp `{msgType: 'cloudRsp', request: '<hex of the "
            "uplink>', errcode, hasMore}`, with optionally `fPort` (the port a TTN or ChirpStack codec encodes "
            "for; by default the manifest's command port) and `variables`. Answers the bytes in hex; null "
            "for a cloudRsp without ACK (F-3.7)."
        ),
        parameters=[CODEC_ID, VERSION],
        request=OpenApiTypes.OBJECT,
        responses={200: EncodeResultSerializer, **REFUSED, **NOT_FOUND, **AUTH_ERRORS},
    )
    def post(self, request: Request, codec_id: str) -> Response:
        codec = self.own_codec(request, codec_id)
        port, variables = shapes.call_options(request.data)
        number, outcome = runtime.encode_outcome(
            codec.product, request.data, version=_version_number(request), fport=port, variables=variables
        )
        if outcome.error is not None:
            return Response(error_body("100022", outcome.error.issues, logs=outcome.logs), status=400)
        value = outcome.value
        return Response(
            {"version": number, "payload": value.hex().upper() if value is not None else None, "logs": outcome.logs}
        )
