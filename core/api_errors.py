"""One error shape for the whole API, ``{"error": {"code", "message", "field"?}}``, made in one place:
the DRF exception handler answers every refusal (a ``DomainError`` from a service, Django's or DRF's
validation errors, DRF's own exceptions, what a malformed request body raises while it is read) and
turns anything else into a logged 500."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from .errors import DomainError

log = logging.getLogger("prsm.errors")

STATUS_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}

# What the handler answers as the client's doing (4xx): an idempotent POST stores these answers too.
REFUSALS = (exceptions.APIException, DomainError, DjangoValidationError)


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"
    default_detail = "The request body is too large."


def malformed_request(exc) -> exceptions.APIException | None:
    """What reading a malformed request raises (Django's body and form limits, text that is not
    UTF-8) as the 4xx it is; ``core.parsers`` raises ParseError for the rest of a bad body."""
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes; "
                               "files go to the upload routes as multipart/form-data.")
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return exceptions.ParseError(f"The form has too many fields (at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,}).")
    if isinstance(exc, UnicodeError):
        return exceptions.ParseError("The request holds text that is not valid UTF-8.")
    return None


def error_body(code: str, message: str, field: str | None = None) -> dict:
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _first_error(detail, path: str = "") -> tuple[str, str | None, str | None]:
    """Walk DRF's nested error detail to the first message, its code and the field it names."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # list items reported by index
                return _first_error(value, f"{path}[{key}]")
            name = "" if key in ("non_field_errors", "detail") else str(key)
            return _first_error(value, f"{path}.{name}" if path and name else (name or path))
    if isinstance(detail, list) and detail:
        if all(isinstance(item, (str, exceptions.ErrorDetail)) for item in detail):
            return str(detail[0]), getattr(detail[0], "code", None), path or None
        for index, item in enumerate(detail):
            if item:
                return _first_error(item, f"{path}[{index}]" if path else str(index))
    return str(detail), getattr(detail, "code", None), path or None


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response({"error": exc.as_dict(), **exc.extra}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):  # a model's full_clean() in a service
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    exc = malformed_request(exc) or exc
    response = exception_handler(exc, context)
    if response is None:
        log.exception("Unhandled API error", exc_info=exc)
        return Response(error_body("server_error", "Internal server error."), status=500)
    message, code, field = _first_error(response.data)
    if isinstance(exc, exceptions.ValidationError):
        code = code if code and code != "invalid" else "invalid"
    else:
        code = getattr(exc, "default_code", None) or STATUS_CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.UnsupportedMediaType) and (view := context.get("view")) is not None:
        message = f"{message} This route reads {' or '.join(p.media_type for p in view.parser_classes)}."
    response.data = error_body(code, message, field)
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait) + 1)
    return response


def json_error(status_code: int, message: str, code: str | None = None) -> JsonResponse:
    """The error shape outside DRF's views (Django's 404, 500 and CSRF handlers under ``/api/``)."""
    return JsonResponse(error_body(code or STATUS_CODES.get(status_code, "error"), message), status=status_code)
