"""What the ledger's services refuse: domain errors, answered by the API's one exception handler."""

from core.errors import DomainError


class LedgerError(DomainError):
    code = "ledger_error"
    status_code = 409


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
