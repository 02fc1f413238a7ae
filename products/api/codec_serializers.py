"""Shapes of the Developer Center's codec calls under /api/v1/codecs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.errors import CATALOGUE
from applications.formats import format_time
from products.codecs.errors import CodecIssue
from products.models import Codec, CodecVersion

FORMATS = {"online": "online", "script": "oceanconnect", "ttn": "ttn"}


ACTIVATE_HELP = (
    "true: the new version becomes active now; false: the current one stays active, so the new one can be "
    "tried on stored uplinks first (replay). Left out: active at once while no device is registered with "
    "the product, not activated once devices are (since issue 19; it was never activated then)."
)


class CodecUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The plugin zip: manifest.json, the script, and optionally vectors.json or TTN's *-codec.yaml."
    )
    profileId = serializers.UUIDField(
        required=False, help_text="The product it is for; by default the manifest's manufacturerId and model say."
    )
    activate = serializers.BooleanField(required=False, allow_null=True, default=None, help_text=ACTIVATE_HELP)


class OnlineDeploySerializer(serializers.Serializer):
    profileId = serializers.UUIDField(help_text="The product whose codec this is.")
    activate = serializers.BooleanField(required=False, allow_null=True, default=None, help_text=ACTIVATE_HELP)
    messages = serializers.ListField(
        child=serializers.DictField(),
        help_text="The online plugin's messages (docs/architecture.md, Codecs): name, kind, serviceId, "
        "command, ack, fields [{name, type, length, default, lengthField, target}].",
    )


class CodecIssueSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The rule, a stable code listed in docs/errors.md, e.g. CODEC_JS_SYNTAX.")
    file = serializers.CharField(help_text="The file inside the zip; empty when not about one.")
    path = serializers.CharField(help_text="JSON path in that file or in the message, e.g. $.messages[0].fields[2].")
    messageName = serializers.CharField(help_text="The codec message (online plugins), else empty.")
    field = serializers.CharField(help_text="The field, property or parameter, else empty.")
    offset = serializers.IntegerField(allow_null=True, help_text="Byte offset in the payload, else null.")
    detail = serializers.CharField(allow_null=True, help_text="The plugin's own error message, else null.")
    message = serializers.CharField(help_text="What is wrong, in English.")
    fix = serializers.CharField(help_text="How to fix it, as docs/errors.md says.")


class CodecErrorSerializer(serializers.Serializer):
    error_code = serializers.CharField(help_text="100022 when refused, 200002 when the product is locked.")
    error_desc = serializers.CharField(help_text="The platform's text and the first issue.")
    errors = CodecIssueSerializer(
        many=True,
        required=False,
        help_text="Each issue; absent when the request itself was malformed (a bad query parameter or JSON "
        "body), which answers the plain 100022 body.",
    )
    logs = serializers.ListField(child=serializers.CharField(), required=False, help_text="What the plugin logged.")


def _time(value) -> str | None:
    return format_time(value)


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(source="number")
    format = serializers.SerializerMethodField(help_text="online, oceanconnect or ttn.")
    active = serializers.BooleanField()
    pluginVersion = serializers.CharField(
        source="plugin_version", help_text="The manifest's version (offline plugins)."
    )
    fileName = serializers.CharField(source="file_name")
    checksum = serializers.CharField()
    createdAt = serializers.SerializerMethodField(help_text="yyyyMMddTHHmmssZ")

    @extend_schema_field(serializers.CharField())
    def get_format(self, version: CodecVersion) -> str:
        return FORMATS[version.kind]

    @extend_schema_field(serializers.CharField())
    def get_createdAt(self, version: CodecVersion) -> str | None:
        return _time(version.created_at)


class VersionDetailSerializer(VersionSerializer):
    definition = serializers.JSONField(help_text="The online plugin's messages, or the offline plugin's manifest.")
    source = serializers.CharField(help_text="The offline plugin's script; empty for online plugins.")
    vectors = serializers.JSONField()


class CodecSummarySerializer(serializers.Serializer):
    """A codec in a list; `activeVersion`, `format` and `versionCount` come annotated from one query."""

    codecId = serializers.UUIDField(source="codec_id")
    profileId = serializers.UUIDField(source="product.product_id")
    deviceType = serializers.CharField(source="product.device_type")
    manufacturerId = serializers.CharField(source="product.manufacturer_id")
    model = serializers.CharField(source="product.model")
    activeVersion = serializers.IntegerField(source="active_number", allow_null=True)
    format = serializers.SerializerMethodField(help_text="The active version's: online, oceanconnect, ttn or null.")
    versionCount = serializers.IntegerField(source="version_count")
    uplinkPorts = serializers.DictField(
        source="uplink_ports",
        child=serializers.IntegerField(),
        help_text='The fPort the codec gets per channel of CoAP, LwM2M and MQTT uplinks (which carry none): "*" '
        'for every uplink, "data/binary" for MQTT, a resource path like /19/0/0 or /t/d; unmatched: the '
        "manifest's fPort.",
    )
    hasDraft = serializers.SerializerMethodField(help_text="The online builder holds a draft.")
    createdAt = serializers.SerializerMethodField(help_text="yyyyMMddTHHmmssZ")
    updatedAt = serializers.SerializerMethodField(help_text="yyyyMMddTHHmmssZ")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_format(self, codec: Codec) -> str | None:
        return FORMATS.get(codec.active_kind) if codec.active_kind else None

    @extend_schema_field(serializers.BooleanField())
    def get_hasDraft(self, codec: Codec) -> bool:
        return codec.has_draft

    @extend_schema_field(serializers.CharField())
    def get_createdAt(self, codec: Codec) -> str | None:
        return _time(codec.created_at)

    @extend_schema_field(serializers.CharField())
    def get_updatedAt(self, codec: Codec) -> str | None:
        return _time(codec.updated_at)


class CodecChangeSerializer(serializers.Serializer):
    """PATCH /api/v1/codecs/{codecId}: the codec's own settings (products.codecs.ports)."""

    uplinkPorts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='{"<channel>": <fPort>}: "*", "data/binary" or a resource path such as /19/0/0; {} clears it.',
    )


class CodecDetailSerializer(CodecSummarySerializer):
    versions = VersionSerializer(many=True, source="version_list")


class CodecPageSerializer(serializers.Serializer):
    totalCount = serializers.IntegerField()
    pageNo = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    codecs = CodecSummarySerializer(many=True)


class CheckVectorSerializer(serializers.Serializer):
    direction = serializers.CharField()
    name = serializers.CharField()
    path = serializers.CharField()
    passed = serializers.BooleanField()


class CheckReportSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    file = serializers.CharField()
    manufacturerId = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    version = serializers.CharField(allow_null=True)
    format = serializers.CharField(allow_null=True)
    functions = serializers.ListField(child=serializers.CharField())
    vectors = CheckVectorSerializer(many=True)
    msPerCall = serializers.DictField(child=serializers.FloatField())
    errors = CodecIssueSerializer(
        many=True,
        required=False,
        help_text="Each issue; absent when the request itself was malformed (a bad query parameter or JSON "
        "body), which answers the plain 100022 body.",
    )
    warnings = CodecIssueSerializer(
        many=True, help_text="What the plugin may keep but should fix (CODEC_VECTORS_MISSING); never a refusal."
    )
    logs = serializers.ListField(
        child=serializers.CharField(),
        help_text="What the plugin printed, warned and threw while its failing vectors ran, by vector name.",
    )


class UploadResultSerializer(CodecDetailSerializer):
    uploaded = VersionSerializer(help_text="The version just stored; active unless devices lock the product.")
    check = CheckReportSerializer(help_text="The checker's report (F-3.8).")


class DecodeRequestSerializer(serializers.Serializer):
    payload = serializers.CharField(help_text="The uplink's bytes in hex, like 01000004D2FFF6; spaces are ignored.")
    fPort = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The LoRaWAN port the codec gets (TTN and ChirpStack codecs); by default the manifest's fPort.",
    )
    variables = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="The codec's variables (ChirpStack's device variables), over the manifest's `variables`.",
    )


class DecodeResultSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The codec version that decoded it.")
    result = serializers.JSONField(help_text="The deviceReq or deviceRsp.")
    issues = CodecIssueSerializer(
        many=True, help_text="How the values break the profile's types and ranges; [] if not."
    )
    logs = serializers.ListField(child=serializers.CharField(), help_text="What the plugin logged (console.log).")


class EncodeResultSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    payload = serializers.CharField(allow_null=True, help_text="Hex of the bytes; null when a cloudRsp gets no ACK.")
    logs = serializers.ListField(child=serializers.CharField())


def error_body(code: str, issues: list[CodecIssue], *, logs: list[str] | None = None) -> dict[str, Any]:
    """The body of a refused codec call: the platform's error_code and every issue (docs/errors.md)."""
    first = issues[0]
    more = f" ({len(issues) - 1} more)" if len(issues) > 1 else ""
    where = f"{first.location}: " if first.location else ""
    body: dict[str, Any] = {
        "error_code": code,
        "error_desc": f"{CATALOGUE[code][1]} {where}{first.message_en}{more}",
        "errors": [found.as_dict() for found in issues],
    }
    if logs is not None:
        body["logs"] = logs
    return body
