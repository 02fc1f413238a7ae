"""How the OpenAPI schema describes northbound authentication (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
