"""What the ledger's services refuse. The API turns each into the project's error shape."""


class LedgerError(Exception):
    code = "ledger_error"
    status_code = 409

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class BudgetExceeded(LedgerError):
    code = "budget_exceeded"
    status_code = 422


class HoldNotFound(LedgerError):
    code = "hold_not_found"
    status_code = 404


class HoldConflict(LedgerError):
    """A hold already closed another way, or a reference reused for a different hold."""

    code = "hold_conflict"


class NotReversible(LedgerError):
    code = "not_reversible"
