"""The API speaks JSON: a client that asks for something else (a browser's ``Accept: text/html``)
still gets JSON rather than a 406 or DRF's browsable pages. Views with renderers of their own (the
OpenAPI schema's YAML and JSON, the Swagger page) are negotiated as usual."""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JsonUnlessAsked(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
