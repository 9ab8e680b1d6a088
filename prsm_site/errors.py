"""One error shape for the whole API: ``{"error": {"code", "message", "field"?}}``."""

import logging

from django.http import JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger("prsm.errors")

_STATUS_CODES = {
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
    response = exception_handler(exc, context)
    if response is None:
        log.exception("Unhandled API error", exc_info=exc)
        return Response(error_body("server_error", "Internal server error."), status=500)
    message, code, field = _first_error(response.data)
    if isinstance(exc, exceptions.ValidationError):
        code = code if code and code != "invalid" else "invalid"
    else:
        code = getattr(exc, "default_code", None) or _STATUS_CODES.get(response.status_code, "error")
    response.data = error_body(code, message, field)
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait) + 1)
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def json_error(status_code: int, message: str, code: str | None = None) -> JsonResponse:
    return JsonResponse(error_body(code or _STATUS_CODES.get(status_code, "error"), message), status=status_code)


def api_not_found(request, *args, **kwargs):
    return json_error(status.HTTP_404_NOT_FOUND, f"No API route {request.path}; see /api/docs/.")


def handler404(request, exception=None):
    if _is_api(request):
        return json_error(status.HTTP_404_NOT_FOUND, "Not found.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return json_error(status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error.")
    from django.views.defaults import server_error

    return server_error(request)


def csrf_failure(request, reason=""):
    if _is_api(request):
        return json_error(status.HTTP_403_FORBIDDEN, f"CSRF check failed: {reason}", code="csrf_failed")
    return django_csrf_failure(request, reason=reason)
