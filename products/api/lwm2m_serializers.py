"""Shapes of the LwM2M calls: a product's mapping (`/api/v1/profiles/{id}/lwm2m`) and the object registry
(`/api/v1/lwm2m/objects`). The mapping's rules are products.lwm2m_mapping's; these describe it for the schema."""

from __future__ import annotations

from rest_framework import serializers


class AttributesSerializer(serializers.Serializer):
    pmin = serializers.IntegerField(required=False, help_text="Minimum period between notifications, seconds.")
    pmax = serializers.IntegerField(required=False, help_text="Maximum period between notifications, seconds.")
    gt = serializers.FloatField(required=False, help_text="Notify when the value rises above (numeric resources).")
    lt = serializers.FloatField(required=False, help_text="Notify when the value falls below (numeric resources).")
    st = serializers.FloatField(required=False, help_text="Notify when the value moves by at least (numeric).")
    epmin = serializers.IntegerField(required=False)
    epmax = serializers.IntegerField(required=False)


class MappedPropertySerializer(serializers.Serializer):
    serviceId = serializers.CharField()
    property = serializers.CharField(help_text="A propertyName of the service.")
    path = serializers.CharField(help_text="/object/instance/resource, e.g. /3303/0/5700.")
    attributes = AttributesSerializer(required=False)


class MappedCommandSerializer(serializers.Serializer):
    serviceId = serializers.CharField()
    command = serializers.CharField(help_text="A commandName of the service.")
    path = serializers.CharField(help_text="/object/instance/resource, e.g. /3/0/4.")
    operation = serializers.ChoiceField(("write", "execute"))
    para = serializers.CharField(required=False, help_text="The para whose value is written (write) or the argument.")


class MappingSerializer(serializers.Serializer):
    """The product's LwM2M side, as exported and imported (docs/lwm2m-objects.md)."""

    objects = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="The product's own DDF XML documents."
    )
    attributes = AttributesSerializer(required=False, help_text="Write-Attributes defaults for every mapped path.")
    properties = MappedPropertySerializer(many=True, required=False)
    commands = MappedCommandSerializer(many=True, required=False)


class MappingErrorSerializer(serializers.Serializer):
    error_code = serializers.CharField(help_text="100022")
    error_desc = serializers.CharField(help_text="The field, what is wrong, and the rule's code in brackets.")
    field = serializers.CharField(help_text="Where, e.g. properties[0].path.")
    rule = serializers.CharField(help_text="The rule's code, e.g. LWM2M_TYPE (docs/lwm2m-objects.md).")


class ObjectSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.CharField()
    multiple = serializers.BooleanField()
    licence = serializers.CharField(required=False, help_text="As the registry's file states it.")


class ResourceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    operations = serializers.CharField(help_text="R, W, RW, E or empty.")
    multiple = serializers.BooleanField()
    mandatory = serializers.BooleanField()
    type = serializers.CharField()
    range = serializers.CharField(help_text="RangeEnumeration as the definition writes it.")
    units = serializers.CharField()
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)


class ObjectSerializer(ObjectSummarySerializer):
    urn = serializers.CharField()
    mandatory = serializers.BooleanField()
    resources = ResourceSerializer(many=True)


class RegistrySerializer(serializers.Serializer):
    source = serializers.CharField()
    commit = serializers.CharField()
    objects = ObjectSummarySerializer(many=True)
