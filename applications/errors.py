"""The error bodies every API of the platform answers with.

Northbound calls answer exactly as OceanConnect did (shared/reference/northbound-api.md section 5):
`{"error_code":"<string>","error_desc":"<sentence>"}` with the original's HTTP status, and the API
gateway's `{"resultcode":...,"resultmsg":...}` for token and throttling errors. Other apps raise
`NorthboundError("100418")` and get the right status and text from the catalogue below; an
`error_desc` may be made more specific (which field, which rule) without changing the code.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response

# code -> (HTTP status, error_desc). Texts are the original's, typos included where clients match them.
CATALOGUE: dict[str, tuple[int, str]] = {
    "100001": (500, "Internal server error."),
    "100002": (401, "Invalid access token."),
    "100003": (400, "Invalid verify code."),
    "100006": (401, "Refresh access token failed."),
    "100007": (400, "Bad request message."),
    "100008": (500, "The haproxy address is null."),
    "100022": (400, "The input is invalid."),
    "100023": (500, "The data in dataBase is abnomal."),
    "100025": (401, "AppId for auth not exist."),
    "100028": (401, "The user has no right."),
    "100203": (403, "The application is not existed."),
    "100208": (401, "AppId or secret is not right."),
    "100216": (400, "The application input is invalid."),
    "100217": (403, "The application hasn't been authorized."),
    "100218": (400, "The gatewayId and pageNo can't be both null."),
    "100220": (400, "Get AppKey from header failed."),
    "100222": (400, "The request callbackurl is illegal."),
    "100223": (400, "Command counts has reached the upLimit."),
    "100234": (403, "The host field of the callbackUrl is in conflict with existing callbackUrl."),
    "100403": (404, "The device is not existed."),
    "100412": (500, "The amount of device has reached the limit."),
    "100416": (400, "The device has already been binded."),
    "100418": (404, "The deviceData is not existed."),
    "100419": (400, "The deviceId and gatewayId can't be both null."),
    "100425": (200, "The special deviceCapability is not exist."),
    "100426": (400, "The nodeId is duplicated."),
    "100428": (200, "The device is not online."),
    "100431": (200, "The serviceType is not exist."),
    "100432": (200, "The device command is muted."),
    "100434": (200, "The device command is not existed."),
    "100435": (200, "The device command already canceled, expired or executed, Cannot cancel."),
    "100501": (503, "Congestion occurs, and the current network has been flow-controlled"),
    "100601": (200, "The number of device in the group has reached the max."),
    "100602": (200, "The device group name has been used."),
    "100603": (200, "The device group is not existed."),
    "100604": (400, "The device group request parameter is invalid."),
    "100607": (200, "The devGroup has reached the limit."),
    "100609": (400, "Too much devices to add."),
    "100610": (400, "Device is not active."),
    "100611": (400, "Device is online."),
    "100612": (403, "Device is zombie."),
    "120001": (500, "Internal server error."),
    "120007": (400, "Bad request message."),
    "120203": (200, "The application is not existed."),
    "105001": (200, "The batchTask count has reached the limit."),
    "105002": (200, "The batchTask name has exist."),
    "105005": (404, "The batchTask is not existed."),
    "120015": (400, "Bad request error."),
    "123001": (400, "Bad request error."),
    "123002": (404, "Device or package file not found."),
    "123009": (404, "The requested task does not exist."),
    "123016": (400, "The parameter is error, targetversion not match with device."),
    "123019": (400, "manufacturerName is null."),
    "123020": (400, "deviceType is null"),
    "123021": (400, "model is null."),
    "123022": (400, "deviceGroups and devices cannot be null together"),
    "123023": (400, "deviceGroups and devices cannot be exist together"),
    "123024": (400, "The number of deviceGroups or devices reached upper limit"),
    "123025": (400, "executeType is error or can not to be null"),
    "123026": (400, "startTime or endTime is null or error"),
    "123027": (400, "some deviceGroups not found"),
    "123028": (400, "retryTimes is null or beyond the limit"),
    "123032": (400, "startTime can not be later than the endTime"),
    "123033": (400, "startTime can not be earlier than the now"),
    "123034": (400, "endtime must be greater than 5 minutes"),
    "200001": (404, "The resource is not found"),
    "200002": (409, "The resource is conflicted."),
}

# API-gateway errors use another body shape: clients test for "resultcode" and "1010005" to re-login.
GATEWAY_CATALOGUE: dict[str, tuple[int, str]] = {
    "1010004": (403, "app throttle exceed."),
    "1010005": (403, "Invalid access token or appId."),
}


class NorthboundError(exceptions.APIException):
    """An error with an OceanConnect error_code; status and text come from the catalogue."""

    def __init__(self, code: str, desc: str | None = None, http_status: int | None = None) -> None:
        default_status, default_desc = CATALOGUE[code]
        self.error_code = code
        self.error_desc = desc or default_desc
        self.status_code = http_status or default_status
        # An audit entry (applications.audit.Entry) for a refusal that is a security event; recorded by
        # whoever answers the error, after the refused change's transaction has rolled back.
        self.security_event: Any = None
        super().__init__(self.error_desc)

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "error_desc": self.error_desc}


class GatewayError(exceptions.APIException):
    """A token or throttling error, answered in the API gateway's body shape."""

    def __init__(self, code: str, retry_after: int | None = None) -> None:
        self.status_code, self.resultmsg = GATEWAY_CATALOGUE[code]
        self.resultcode = code
        self.retry_after = retry_after
        super().__init__(self.resultmsg)

    def body(self) -> dict[str, str]:
        return {"resultcode": self.resultcode, "resultmsg": self.resultmsg}


def error_body(code: str, desc: str | None = None) -> dict[str, str]:
    return NorthboundError(code, desc).body()


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: every failure becomes one of the original's bodies.

    Anything unexpected is left to Django (a 500 without a stack trace, logged), so that a bug is
    never disguised as a client error.
    """
    if isinstance(exc, GatewayError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return Response(exc.body(), status=exc.status_code, headers=headers)
    if isinstance(exc, NorthboundError):
        from applications.audit import record_refusal  # audit -> models: imported when first needed

        record_refusal(exc)
        return Response(exc.body(), status=exc.status_code)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return Response(GatewayError("1010005").body(), status=403)
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body("100022", f"The input is invalid: {exc.detail}"), status=400)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(
            error_body("100022", f"The input is invalid: unsupported Content-Type {exc.detail}"), status=400
        )
    if isinstance(exc, exceptions.ValidationError):
        return Response(error_body("100022", f"The input is invalid: {_flatten(exc.detail)}"), status=400)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(error_body("100007", str(exc.detail)), status=status.HTTP_405_METHOD_NOT_ALLOWED)
    if isinstance(exc, exceptions.NotFound):
        return Response(error_body("200001"), status=404)
    if isinstance(exc, exceptions.PermissionDenied):
        return Response(error_body("100217"), status=403)
    if isinstance(exc, exceptions.APIException):
        return Response(error_body("100007", str(exc.detail)), status=exc.status_code)
    return None


def _flatten(detail: Any, prefix: str = "") -> str:
    """Turn DRF's nested validation detail into one readable sentence naming each field."""
    if isinstance(detail, dict):
        parts = [_flatten(value, f"{prefix}{key}.") for key, value in detail.items()]
        return "; ".join(parts)
    if isinstance(detail, list):
        return "; ".join(_flatten(item, prefix) for item in detail)
    field = prefix.rstrip(".")
    return f"{field}: {detail}" if field else str(detail)
