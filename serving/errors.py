"""The refusals of the predict path, each a ``core.errors.DomainError`` with its HTTP status."""

from core.errors import DomainError


class ServingError(DomainError):
    code = "serving_error"
    status_code = 409


class PredictForbidden(ServingError):
    code = "forbidden"
    status_code = 403


class ModelNotServed(ServingError):
    code = "not_served"
    status_code = 409


class BadPredictInput(ServingError):
    code = "invalid_input"
    status_code = 400


class PaymentRequired(ServingError):
    code = "payment_required"
    status_code = 402


class ModelBusy(ServingError):
    """Too many requests in flight for the model (or the try-it quota spent): retry after ``retry_after`` s."""

    code = "busy"
    status_code = 429

    def __init__(self, message: str, *, retry_after: float = 1, **kwargs):
        super().__init__(message, extra={"retry_after": retry_after}, **kwargs)
        self.retry_after = retry_after


class ServingDown(ServingError):
    code = "serving_unavailable"
    status_code = 503
