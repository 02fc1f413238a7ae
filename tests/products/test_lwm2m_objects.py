"""The LwM2M object registry as committed data, and products' own DDF XML (products.lwm2m_objects)."""

from __future__ import annotations

import pytest

from products import lwm2m_objects
from products.lwm2m_objects import DefinitionError, parse_ddf

OWN_DDF = b"""<?xml version="1.0" encoding="UTF-8"?>
<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Object ObjectType="MODefinition">
    <Name>Water Meter Extras</Name>
    <ObjectID>26241</ObjectID>
    <ObjectURN>urn:oma:lwm2m:x:26241</ObjectURN>
    <ObjectVersion>1.0</ObjectVersion>
    <MultipleInstances>Single</MultipleInstances>
    <Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>Flow</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>
        <Mandatory>Mandatory</Mandatory><Type>Float</Type><RangeEnumeration>0..500.5</RangeEnumeration>
        <Units>l/min</Units><Description>Flow rate.</Description></Item>
      <Item ID="1"><Name>Flush</Name><Operations>E</Operations><MultipleInstances>Single</MultipleInstances>
        <Mandatory>Optional</Mandatory><Type></Type><RangeEnumeration></RangeEnumeration><Units></Units>
        <Description></Description></Item>
    </Resources>
  </Object>
</LWM2M>
"""


def test_the_registry_names_its_commit_and_each_objects_licence():
    registry = lwm2m_objects.registry()
    assert registry["source"] == "https://github.com/OpenMobileAlliance/lwm2m-registry"
    assert len(registry["commit"]) == 40
    assert len(registry["objects"]) > 300
    assert all(definition["licence"] for definition in registry["objects"].values())
    assert lwm2m_objects.registry_object(3303)["licence"] == "BSD-3-Clause"


def test_the_registry_has_the_standard_and_ipso_objects_with_types_units_and_ranges():
    temperature = lwm2m_objects.registry_object(3303)
    assert temperature["name"] == "Temperature"
    assert temperature["resources"]["5700"]["type"] == "Float"
    assert temperature["resources"]["5701"]["type"] == "String"  # Sensor Units
    device = lwm2m_objects.registry_object(3)
    assert device["resources"]["4"]["name"] == "Reboot"
    assert device["resources"]["4"]["operations"] == "E"
    assert device["resources"]["9"]["min"] == 0 and device["resources"]["9"]["max"] == 100  # battery %
    assert device["resources"]["9"]["units"] == "/100"  # the registry writes SenML units
    for object_id in (0, 1, 4, 6, 19, 3304, 3316):
        assert lwm2m_objects.registry_object(object_id) is not None
    assert lwm2m_objects.registry_object(64999) is None


def test_a_products_own_ddf_is_read():
    [definition] = parse_ddf(OWN_DDF)
    assert definition["id"] == 26241 and definition["multiple"] is False
    assert definition["resources"]["0"] == {
        "id": 0, "name": "Flow", "operations": "R", "multiple": False, "mandatory": True, "type": "Float",
        "range": "0..500.5", "units": "l/min", "min": 0, "max": 500.5,
    }  # fmt: skip
    assert definition["resources"]["1"]["operations"] == "E"
    own = {"26241": definition}
    assert lwm2m_objects.definition(26241, own) is definition
    assert lwm2m_objects.definition(3303, own)["name"] == "Temperature"


@pytest.mark.parametrize(
    ("document", "code", "words"),
    [
        (b"<LWM2M><Object>", "DDF_XML", "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><LWM2M>&b;</LWM2M>',
            "DDF_XML",
            "declares what is not allowed",
        ),
        (b"<Objects/>", "DDF_ROOT", "root element must be LWM2M"),
        (b"<LWM2M/>", "DDF_NO_OBJECT", "defines no Object"),
        (OWN_DDF.replace(b"<ObjectID>26241", b"<ObjectID>x"), "DDF_ID", "ObjectID must be a whole number"),
        (OWN_DDF.replace(b"<Name>Flow</Name>", b"<Name></Name>"), "DDF_FIELD_MISSING", "resource 0 needs a Name"),
        (OWN_DDF.replace(b"<Type>Float", b"<Type>Double"), "DDF_TYPE", "Type must be one of"),
        (OWN_DDF.replace(b"<Operations>R<", b"<Operations>X<"), "DDF_OPERATIONS", "Operations must be one of"),
        (OWN_DDF.replace(b'Item ID="1"', b'Item ID="0"'), "DDF_DUPLICATE", "defines resource 0 twice"),
        (
            OWN_DDF.replace(b"<MultipleInstances>Single</MultipleInstances>\n    <Mandatory>", b"<Mandatory>"),
            "DDF_FIELD_VALUE",
            "object 26241 MultipleInstances must be one of Single, Multiple",
        ),
        (b"<LWM2M>" + b" " * lwm2m_objects.MAX_DDF_BYTES + b"</LWM2M>", "DDF_TOO_LARGE", "at most"),
    ],
)
def test_a_malformed_ddf_is_refused_naming_the_rule(document, code, words):
    with pytest.raises(DefinitionError) as refused:
        parse_ddf(document)
    assert refused.value.code == code
    assert words in str(refused.value) and code in str(refused.value)
