"""The one domain error every app raises for something a user can fix or must be told.

The API maps it once (``core.api_errors.api_exception_handler``) to ``{"error": {"code",
"message", "field"?}}`` with ``status_code``; the HTML views map it once too (a message beside the
form or the field). Apps subclass it to name their own cases; they never map it themselves.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with a stable ``code``, a plain ``message``, the ``field`` it is about (if any)
    and the HTTP ``status_code`` it answers with."""

    status_code: int = 409
    code: str = "conflict"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 status_code: int | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message, self.field = message, field
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}  # more fields for the error body (an estimate, a retry time)

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return error
