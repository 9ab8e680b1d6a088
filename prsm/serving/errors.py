"""What the serving library raises; the web layer maps each to one HTTP status."""

from __future__ import annotations


class ServingError(Exception):
    """Base of every serving failure (answered 500 unless a subclass says otherwise)."""


class InputError(ServingError):
    """The caller's inputs do not fit the model (wrong kind, wrong size, undecodable): a 400."""


class ServingBusy(ServingError):
    """The model has as many requests in flight as it may: retry after ``retry_after_s`` (a 429)."""

    def __init__(self, message: str = "the model is busy", retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServingUnavailable(ServingError):
    """No serving pool answers, or it went away mid-call: a 503."""


class ModelUnavailable(ServingError):
    """The path is not a servable model (missing, not ONNX, or without its preprocessing)."""
