"""A product's LwM2M mapping: GET/PUT /api/v1/profiles/{id}/lwm2m (edit, export, import), validated
against the registry and the product's own DDF XML, and the registry the picker reads."""

from __future__ import annotations

import copy
import json

import pytest

from products.models import Product
from tests.products.fixtures import import_files
from tests.products.lwm2m_fixtures import standard_files, standard_mapping
from tests.products.test_lwm2m_objects import OWN_DDF


def _url(product) -> str:
    return f"/api/v1/profiles/{product.product_id}/lwm2m"


def _put(client, product, body, headers=None):
    return client.put(_url(product), json.dumps(body), content_type="application/json", headers=headers or {})


def test_the_owner_sets_the_mapping_and_exports_it_for_import_into_another_product(client, owner_app):
    product = import_files(owner_app, standard_files())
    empty = client.get(_url(product), headers=owner_app.headers())
    assert empty.json() == {"objects": [], "attributes": {}, "properties": [], "commands": []}

    response = _put(client, product, standard_mapping(), owner_app.headers())

    assert response.status_code == 200, response.content
    exported = client.get(_url(product), headers=owner_app.headers()).json()
    assert exported["properties"][0] == {
        "serviceId": "Temperature", "property": "temperature", "path": "/3303/0/5700", "attributes": {"st": 0.5}
    }  # fmt: skip
    assert exported["commands"][2]["para"] == "timezone"
    assert exported == response.json()
    # import: the exported document is taken as it is by another product of the same profile
    twin = import_files(owner_app, standard_files(model="std2"))
    assert _put(client, twin, exported, owner_app.headers()).status_code == 200
    assert client.get(_url(twin), headers=owner_app.headers()).json() == exported


def test_a_locked_product_may_change_it(client, owner_app, registered_devices):
    product = import_files(owner_app, standard_files())
    registered_devices(product, 1)
    assert _put(client, product, standard_mapping(), owner_app.headers()).status_code == 200


def test_another_application_gets_404_and_anonymous_403_and_nothing_changes(client, owner_app, other_app):
    product = import_files(owner_app, standard_files())
    assert _put(client, product, standard_mapping(), other_app.headers()).status_code == 404
    assert client.get(_url(product), headers=other_app.headers()).status_code == 404
    assert _put(client, product, standard_mapping()).status_code == 403
    assert Product.objects.get(pk=product.pk).lwm2m_mapping == {}


def _broken(pointer, value):
    mapping = standard_mapping()
    target = mapping
    for key in pointer[:-1]:
        target = target[key]
    target[pointer[-1]] = value
    return mapping


@pytest.mark.parametrize(
    ("mapping", "field", "rule", "words"),
    [
        (_broken(("properties", 0, "path"), "/3303/0"), "properties[0].path", "LWM2M_PATH_SYNTAX", "/object/instance"),
        (_broken(("properties", 0, "path"), "/64999/0/1"), "properties[0].path", "LWM2M_PATH_OBJECT", "neither"),
        (
            _broken(("properties", 0, "path"), "/3303/0/9999"),
            "properties[0].path",
            "LWM2M_PATH_RESOURCE",
            "no resource",
        ),
        (_broken(("properties", 4, "path"), "/3/1/9"), "properties[4].path", "LWM2M_PATH_INSTANCE", "one instance"),
        # a decimal property on a String resource
        (_broken(("properties", 0, "path"), "/3303/0/5701"), "properties[0].path", "LWM2M_TYPE", "String"),
        # an int property on a Float resource
        (_broken(("properties", 4, "path"), "/3303/0/5700"), "properties[4].path", "LWM2M_TYPE", "dataType int"),
        (_broken(("properties", 0, "path"), "/3/0/4"), "properties[0].path", "LWM2M_OPERATION", "not readable"),
        (_broken(("properties", 1, "path"), "/3/0/13"), "properties[1].path", "LWM2M_TYPE", "is Time"),
        (_broken(("properties", 0, "serviceId"), "Light"), "properties[0].serviceId", "LWM2M_SERVICE", "no service"),
        (_broken(("properties", 0, "property"), "temp"), "properties[0].property", "LWM2M_PROPERTY", "no property"),
        (
            _broken(("properties", 3, "attributes"), {"st": 1, "lt": 3.0, "gt": 4.0}),
            "properties[3].attributes.lt",
            "LWM2M_ATTRIBUTE",
            "lt + 2",
        ),
        (
            _broken(("properties", 1, "attributes"), {"gt": 1}),
            "properties[1].attributes.gt",
            "LWM2M_ATTRIBUTE",
            "numeric resources only",
        ),
        (_broken(("attributes",), {"pmin": 600, "pmax": 60}), "attributes.pmin", "LWM2M_ATTRIBUTE", "pmax"),
        (_broken(("attributes",), {"pmin": -1}), "attributes.pmin", "LWM2M_ATTRIBUTE", "whole seconds"),
        (_broken(("commands", 0, "path"), "/3/0/0"), "commands[0].operation", "LWM2M_OPERATION", "does not allow"),
        (_broken(("commands", 2, "operation"), "read"), "commands[2].operation", "LWM2M_OPERATION", "write or execute"),
        (_broken(("commands", 2, "para"), "zone"), "commands[2].para", "LWM2M_PARA", "no para"),
        (_broken(("commands", 0, "command"), "HALT"), "commands[0].command", "LWM2M_COMMAND", "no command"),
        (
            _broken(("properties", 5), {"serviceId": "Temperature", "property": "temperature", "path": "/3303/1/5700"}),
            "properties[5]",
            "LWM2M_DUPLICATE",
            "mapped twice",
        ),
        (
            _broken(("properties", 5), {"serviceId": "Device", "property": "manufacturer", "path": "/3303/0/5700"}),
            "properties[5].path",
            "LWM2M_DUPLICATE",
            "/3303/0/5700 is mapped twice",
        ),
        (_broken(("objects",), ["<LWM2M><Object>"]), "objects[0]", "DDF_XML", "not well-formed"),
        (
            _broken(("objects",), [OWN_DDF.decode().replace("26241", "3303")]),
            "objects[0]",
            "DDF_REGISTERED",
            "the registry's",
        ),
        (_broken(("extra",), 1), ".extra", "LWM2M_SHAPE", "not a key"),
    ],
)
def test_a_wrong_mapping_is_refused_naming_the_field_and_the_rule(client, owner_app, mapping, field, rule, words):
    product = import_files(owner_app, standard_files())
    response = _put(client, product, mapping, owner_app.headers())
    body = response.json()
    assert response.status_code == 400, body
    assert body["error_code"] == "100022"
    assert (body["field"], body["rule"]) == (field, rule)
    assert words in body["error_desc"] and rule in body["error_desc"]
    assert Product.objects.get(pk=product.pk).lwm2m_mapping == {}


def test_a_products_own_object_is_mapped_by_its_definition(client, owner_app):
    files = standard_files()
    temperature = files["service/Temperature/profile/servicetype-capability.json"]["services"][0]
    temperature["properties"].append(copy.deepcopy(temperature["properties"][0]) | {"propertyName": "flow"})
    product = import_files(owner_app, files)
    mapping = standard_mapping()
    mapping["objects"] = [OWN_DDF.decode()]
    mapping["properties"].append({"serviceId": "Temperature", "property": "flow", "path": "/26241/0/0"})

    response = _put(client, product, mapping, owner_app.headers())

    assert response.status_code == 200, response.content
    stored = Product.objects.get(pk=product.pk).lwm2m_mapping
    assert stored["definitions"]["26241"]["resources"]["0"]["units"] == "l/min"
    assert response.json()["objects"] == [OWN_DDF.decode()]


def test_the_picker_lists_the_registry_and_shows_an_objects_resources(client, owner_app):
    listed = client.get("/api/v1/lwm2m/objects", headers=owner_app.headers()).json()
    assert len(listed["commit"]) == 40
    assert {"id": 3303, "name": "Temperature", "version": "1.1", "multiple": True, "licence": "BSD-3-Clause"} in (
        listed["objects"]
    )
    temperature = client.get("/api/v1/lwm2m/objects/3303", headers=owner_app.headers()).json()
    assert {"id": 5700, "name": "Sensor Value", "type": "Float"}.items() <= temperature["resources"][0].items()
    assert client.get("/api/v1/lwm2m/objects/64999", headers=owner_app.headers()).status_code == 404
    assert client.get("/api/v1/lwm2m/objects").status_code == 403


def test_the_calls_are_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/?format=json").json()
    put = schema["paths"]["/api/v1/profiles/{profile_id}/lwm2m"]["put"]
    assert put["operationId"] == "setProfileLwm2m"
    assert put["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/MappingError")
    assert schema["paths"]["/api/v1/lwm2m/objects/{object_id}"]["get"]["operationId"] == "getLwm2mObject"
