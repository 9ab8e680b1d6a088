"""The API's body parser (``DEFAULT_PARSER_CLASSES``): DRF's JSON parser, with the limits a hostile
body meets. JSON routes read JSON only (a form body is a 415), so a client generator writes one
branch per route.

JSON goes through ``core.untrusted_json`` (depth, number length, lone surrogates); a body past
``DATA_UPLOAD_MAX_MEMORY_SIZE`` is refused, also when no Content-Length announced it (Django checks
only the header). The upload routes read multipart with DRF's own parser, which Django's already limits.
What a parser raises is answered in one place, ``core.api_errors``."""

import codecs

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from . import untrusted_json


def _read_capped(stream) -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return body


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.decode(_read_capped(stream), encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not {encoding} text ({exc.reason})") from None
        try:
            return untrusted_json.loads(text)
        except untrusted_json.UntrustedJsonError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
