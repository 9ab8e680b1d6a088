"""An upload that is refused: a domain error with the reason, about the ``file`` field by default."""

from __future__ import annotations

from core.errors import DomainError


class UploadError(DomainError):
    """An upload that is refused: ``status_code`` 400 (or 413 when too large) with a plain reason."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, status_code: int = 400, code: str = "invalid", field: str = "file",
                 imports: tuple[str, ...] = ()):
        super().__init__(message, field=field, code=code, status_code=status_code)
        self.imports = imports  # forbidden globals a pickle scan found: a likely attack, flagged for moderators
        self.received = None  # the storage.Received file, set by the service that received it


class UploadTooLarge(UploadError):
    def __init__(self, limit: int):
        super().__init__(f"the file is larger than the {_human(limit)} accepted here", status_code=413, code="too_large")


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)
