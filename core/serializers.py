"""Input serializers that refuse what they do not know: a field a route does not take is a 400
naming it, never silently dropped (a purchase that says ``max_price`` must not go through without
it). Every JSON body the API reads uses this base, as ``DistillationRequest`` does in the engine."""

from collections.abc import Mapping

from rest_framework import serializers


class StrictInput(serializers.Serializer):
    """A field not listed here is refused with 400 naming it."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and (unknown := sorted(set(data) - set(self.fields))):
            raise serializers.ValidationError({unknown[0]: ["Unknown field."]}, code="unknown_field")
        return super().to_internal_value(data)
