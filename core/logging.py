"""Request log lines and the JSON formatter used when ``LOG_FORMAT=json``."""

import json
import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from datetime import datetime, timezone

from django.utils.functional import SimpleLazyObject, empty

request_log = logging.getLogger("prsm.request")

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class RequestLogMiddleware:
    """Logs one line per HTTP request: method, path, status, duration and user. Sync and async: the predict
    route's short chain is async (prsm_site/asgi.py), so its async view serves calls concurrently."""

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
        started = time.perf_counter()
        response = self.get_response(request)
        self._log(request, response, started)
        return response

    async def _acall(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        user = getattr(request, "user", None)
        if isinstance(user, SimpleLazyObject) and user._wrapped is empty and hasattr(request, "auser"):
            request.user = await request.auser()  # a view that never read the user: its session read stays off the loop
        self._log(request, response, started)
        return response

    def _log(self, request, response, started: float) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        user = getattr(request, "user", None)
        username = user.get_username() if user is not None and user.is_authenticated else "-"
        level = logging.INFO
        if response.status_code >= 500:  # 503 is a health check saying "down", not a bug
            level = logging.WARNING if response.status_code == 503 else logging.ERROR
        request_log.log(
            level,
            "%s %s %s %sms user=%s",
            request.method,
            request.get_full_path(),
            response.status_code,
            duration_ms,
            username,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user": username,
            },
        )


class OnlyExceptions(logging.Filter):
    """Keeps Django's own request log for tracebacks; the status lines come from RequestLogMiddleware."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is not None


class ClientErrorsAsWarnings(logging.Filter):
    """Django logs a suspicious request (a Host not allowed, a form with too many fields) as an ERROR
    with its traceback; it is the client's doing, so it is written as one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text = None, None
        return True
