"""The OpenAPI schema that /api/schema/ serves, generated in this process once, and its operations."""

from __future__ import annotations

import functools

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@functools.cache
def served_schema() -> dict:
    """The schema as /api/schema/ serves it (drf-spectacular's generator, as its view calls it)."""
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    with GENERATOR_STATS.silence():  # `manage.py spectacular` reports its warnings; the tests need the schema
        schema = SchemaGenerator().get_schema(request=None, public=True)
    # Round-trip through the renderer's JSON so the test sees what a client reads (no Python-only types).
    import json

    from rest_framework.renderers import JSONRenderer

    return json.loads(JSONRenderer().render(schema))


def operations() -> list[str]:
    """Every operation as "METHOD /path", in the schema's order."""
    return [
        f"{method.upper()} {path}"
        for path, item in served_schema()["paths"].items()
        for method in HTTP_METHODS
        if method in item
    ]
