"""The OpenAPI schema's conventions, in one place (``DEFAULT_SCHEMA_CLASS``), so that client
generators get a schema they can use without reading each view:

- every refusal a route can give is declared with the one error shape of ``core.api_errors``
  (``{"error": {"code", "message", "field"?}}``): 400 where a body or a query is read, 413 and 415
  where a body is, 401 and 403 where a caller must be signed in, 404 where the path names
  something, 429 where the view is throttled. A view that declares a refusal itself keeps its own
  description, and gets the shape where it gave none;
- a body's media types come from the view's parsers (JSON alone by default; the upload routes
  multipart alone), so a generator writes one branch per route, not three competing ones;
- a file in a request is ``format: binary`` (drf-spectacular types it as a URL unless every
  request component is split off, which would rename them all).

Operation ids are the views' own (``extend_schema(operation_id=...)``) or drf-spectacular's,
which follow the path; ``tests/test_api_schema.py`` keeps their list, so a change is deliberate.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.plumbing import append_meta, build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers
from rest_framework.permissions import AllowAny

BODY_METHODS = {"POST", "PUT", "PATCH"}

REFUSALS = {
    "400": "Invalid input: `error.message` says what is wrong and `error.field` names the field where there is one.",
    "401": "No credentials, or a token or session that is not valid.",
    "403": "Signed in, but not allowed: not the owner, or an API token without the scope this route needs.",
    "404": "Nothing of that id that the caller may see.",
    "413": "The body is too large.",
    "415": "The body's Content-Type is not one this route reads.",
    "429": "Too many requests; `Retry-After` says when to try again.",
}


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable code: invalid, not_found, conflict, ...")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    field = serializers.CharField(required=False, help_text="The input field at fault, where there is one.")


class Error(serializers.Serializer):
    """Every refusal of the API has this body."""

    error = ErrorDetail()


class AutoSchema(openapi.AutoSchema):
    def _refusals(self) -> list[str]:
        codes = []
        reads_body = self.method in BODY_METHODS and self.get_request_serializer() is not None
        if reads_body or self._has_query_parameters():
            codes.append("400")
        if self._signed_in_only():
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if reads_body:
            codes += ["413", "415"]
        if getattr(self.view, "throttle_classes", None):
            codes.append("429")
        return codes

    def _has_query_parameters(self) -> bool:
        return any(parameter.get("in") == "query" for parameter in self._get_parameters())

    def _signed_in_only(self) -> bool:
        if self.get_auth() == []:
            return False
        return not any(issubclass(kind, AllowAny) for kind in getattr(self.view, "permission_classes", []))

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if direction == "request" and isinstance(field, serializers.FileField):
            return append_meta(build_basic_type(OpenApiTypes.BINARY), self._get_serializer_field_meta(field, direction))
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        error = {"application/json": {"schema": self.resolve_serializer(Error, direction).ref}}
        for code in self._refusals():
            responses.setdefault(code, {"description": REFUSALS[code]})
        for code, response in responses.items():
            if code.startswith(("4", "5")) and "content" not in response:
                response["content"] = error
        return dict(sorted(responses.items()))
