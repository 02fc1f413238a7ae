"""How the OpenAPI schema describes the platform's calls (drf-spectacular extension, helpers, hook).

The schema is a contract an application developer generates a client from, so it must describe the
answers as they really are: the original's error bodies (`applications.errors`), at the HTTP status the
view really answers them with (several northbound errors come with 200), and the API gateway's
`resultcode` bodies on every authenticated call.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

from applications.errors import CATALOGUE


class NorthboundAuthenticationScheme(OpenApiAuthenticationExtension):
    """`app_key: <appId>` together with `Authorization: Bearer <accessToken>` on every call."""

    target_class = "applications.auth.NorthboundAuthentication"
    name = ["appKey", "bearer"]

    def get_security_requirement(self, auto_schema):
        return {"appKey": [], "bearer": []}

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "app_key", "description": "the application's appId"},
            {"type": "http", "scheme": "bearer", "description": "accessToken from /iocm/app/sec/v1.1.0/login"},
        ]


class ErrorSerializer(serializers.Serializer):
    """`{"error_code":"100418","error_desc":"The deviceData is not existed."}`: the code is a string."""

    error_code = serializers.CharField(help_text="The code from docs/errors.md, as a string.")
    error_desc = serializers.CharField(help_text="The original's text, sometimes naming the field and the rule.")


class GatewayErrorSerializer(serializers.Serializer):
    """The API gateway's body for token and throttling errors (clients look for `resultcode`)."""

    resultcode = serializers.CharField(help_text="1010005 bad token or app_key; 1010004 throttled")
    resultmsg = serializers.CharField()


class PageSchema(AutoSchema):
    """The schema of an APIView whose GET answers one page of a list.

    drf-spectacular cannot tell such a view from a detail view, so both would be named `..._retrieve`
    on paths that differ only by the id (`/devices` and `/devices/{device_id}`)."""

    def get_operation_id(self) -> str:
        return super().get_operation_id().removesuffix("_retrieve").removesuffix("_list") + "_list"


def _describe(codes: list[str]) -> str:
    return " ".join(f"{code}: {CATALOGUE[code][1]}" for code in codes)


def _component(body: Any) -> str:
    name = body.__name__ if isinstance(body, type) else type(body).__name__
    return name.removesuffix("Serializer")


def answers(success: dict[int, Any], *codes: str) -> dict[int, Any]:
    """The `responses` of an operation: its answers in `success` and the errors it can raise.

    `codes` are catalogue codes, answered at the catalogue's status, or `"code:status"` for an error the
    view raises with another status (`NorthboundError("100418", http_status=200)` is `"100418:200"`).
    An error answered with a success status makes that status's body one of the two shapes.
    """
    by_status: dict[int, list[str]] = defaultdict(list)
    for entry in codes:
        code, _, status = entry.partition(":")
        by_status[int(status) if status else CATALOGUE[code][0]].append(code)
    result: dict[int, Any] = dict(success)
    for status, listed in sorted(by_status.items()):
        if status not in result:
            result[status] = OpenApiResponse(ErrorSerializer, description=_describe(listed))
            continue
        answer = result[status]
        body = answer.response if isinstance(answer, OpenApiResponse) else answer
        description = answer.description if isinstance(answer, OpenApiResponse) else ""
        if body is None:  # success answers no body, the error its body: OpenAPI can say only the latter
            text = f"{description or 'Success: no body.'} Or the error body: {_describe(listed)}"
            result[status] = OpenApiResponse(ErrorSerializer, description=text)
            continue
        either = PolymorphicProxySerializer(
            component_name=f"{_component(body)}OrError",
            serializers=[body, ErrorSerializer],
            resource_type_field_name=None,
        )
        text = f"{description} Or the error body: {_describe(listed)}".strip()
        result[status] = OpenApiResponse(either, description=text)
    return result


AUTH_400 = ("100220", "The call has a token but no app_key (or x-app-key) header.")
AUTH_403 = (
    "1010005: the token is missing, invalid or expired, or app_key does not match it; "
    "1010004: the application's call rate is exceeded (with Retry-After); "
    "100217: the appId parameter names another application."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _properties(schema: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return set(schema.get("properties", {}))


def _add_error(
    operation: dict[str, Any], status: str, options: list[str], description: str, schemas: dict[str, Any]
) -> None:
    """Add the error bodies `options` (component names) to the operation's answer for `status`.

    A body already declared there that carries the same key (`error_code`, `resultcode`) covers it: the
    declared body is that error's shape with more fields (a profile's `errors`), and a `oneOf` of both
    would match such a body twice.
    """
    responses = operation.setdefault("responses", {})
    answer = responses.setdefault(status, {"description": ""})
    answer["description"] = f"{answer.get('description', '')} {description}".strip()
    content = answer.setdefault("content", {}).setdefault("application/json", {})
    current = content.get("schema")
    choices = [] if current is None else current.get("oneOf", [current])
    for name in options:
        key = "resultcode" if name == "GatewayError" else "error_code"
        if not any(key in _properties(choice, schemas) for choice in choices):
            choices.append(_ref(name))
    content["schema"] = choices[0] if len(choices) == 1 else {"oneOf": choices}


def authentication_errors(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Postprocessing hook: every call that takes a token also answers the refusals of
    `NorthboundAuthentication` (applications/auth.py), which no view declares itself."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name in ("Error", "GatewayError"):
        if name not in schemas:
            serializer = ErrorSerializer if name == "Error" else GatewayErrorSerializer
            fields = list(serializer().fields)
            schemas[name] = {
                "type": "object",
                "properties": {field: {"type": "string"} for field in fields},
                "required": fields,
            }
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or not any("bearer" in s for s in operation.get("security", [])):
                continue
            _add_error(operation, "400", ["Error"], f"{AUTH_400[0]}: {AUTH_400[1]}", schemas)
            _add_error(operation, "403", ["GatewayError", "Error"], AUTH_403, schemas)
    return result
