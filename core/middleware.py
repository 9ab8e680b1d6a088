"""Checks every API request gets before its view: the paging parameters every list shares.

DRF's ``LimitOffsetPagination`` takes any positive integer, and a 23-digit ``limit`` overflows the
database's integer (a 500); a list view may name that class itself, so the bounds are held here,
once for every list, and a value out of them is a 400 naming the parameter.

Sync and async: the predict route's short chain is async (prsm_site/asgi.py)."""

import re

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import TooManyFieldsSent
from django.http import JsonResponse

from .api_errors import error_body, malformed_request

MAX_LIMIT = 1000
MAX_OFFSET = 10**12
PAGING = (("limit", 1, MAX_LIMIT), ("offset", 0, MAX_OFFSET))
_DIGITS = re.compile(r"\d{1,13}")


def _paging_error(request) -> tuple[str, str] | None:
    for name, least, most in PAGING:
        raw = request.GET.get(name)
        if raw is not None and not (_DIGITS.fullmatch(raw) and least <= int(raw) <= most):
            return name, f"{name} must be a whole number from {least} to {most:,}."
    return None


class ApiQueryBounds:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        return self._refusal(request) or self.get_response(request)

    async def _acall(self, request):
        return self._refusal(request) or await self.get_response(request)

    def _refusal(self, request):
        if request.path.startswith("/api/"):
            try:
                error = _paging_error(request)
            except TooManyFieldsSent as exc:
                refusal = malformed_request(exc)
                return JsonResponse(error_body(refusal.default_code, str(refusal.detail)), status=refusal.status_code)
            if error is not None:
                name, message = error
                return JsonResponse(error_body("invalid", message, name), status=400)
        return None

