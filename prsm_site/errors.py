"""The site's 400, 404, 500 and CSRF-failure handlers: JSON in the API's error shape under ``/api/``
(``core.api_errors``), Django's HTML pages elsewhere."""

from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django.views.csrf import csrf_failure as django_csrf_failure
from rest_framework import status

from core.api_errors import json_error


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


@csrf_exempt  # a POST with a token to a route that does not exist is a 404, not a CSRF refusal
def api_not_found(request, *args, **kwargs):
    return json_error(status.HTTP_404_NOT_FOUND, f"No API route {request.path}; see /api/docs/.")


def handler400(request, exception=None):  # a Host not allowed, a form past Django's limits
    if _is_api(request):
        return json_error(status.HTTP_400_BAD_REQUEST, "Bad request.")
    return defaults.bad_request(request, exception)


def handler404(request, exception=None):
    if _is_api(request):
        return json_error(status.HTTP_404_NOT_FOUND, "Not found.")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return json_error(status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error.")
    return defaults.server_error(request)


def csrf_failure(request, reason=""):
    if _is_api(request):
        return json_error(status.HTTP_403_FORBIDDEN, f"CSRF check failed: {reason}", code="csrf_failed")
    return django_csrf_failure(request, reason=reason)
