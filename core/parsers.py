"""The API's body parsers (``DEFAULT_PARSER_CLASSES``): DRF's, with the limits a hostile body meets.

JSON goes through ``core.untrusted_json`` (depth, number length, lone surrogates); JSON and form
bodies past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` are refused, also when no Content-Length announced them
(Django checks only the header). Multipart is DRF's own, which Django's parser already limits.
What a parser raises is answered in one place, ``core.api_errors``."""

import codecs
import io

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


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return super().parse(io.BytesIO(_read_capped(stream)), media_type, parser_context)
