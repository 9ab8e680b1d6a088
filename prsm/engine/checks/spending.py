"""What a run has spent so far, metered as it trains, against the job's budget.

The platform prices a job as fixed fees plus a rate per compute hour (the ledger's one pricing
rule); it hands the engine those numbers in :class:`Budget`, in the ledger's smallest units. The
meter applies the same rule to the time this run has taken so far, so the circuit breaker can stop
a run before it spends past what its owner allowed.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from .record import check_record

clock = time.perf_counter  # module-level so that a test can drive the meter with a clock of its own


class Budget(BaseModel):
    """The most a run may spend and the price rule, all in integer units (10^-6 FTNS by default)."""

    model_config = ConfigDict(extra="forbid")

    limit_units: int = Field(ge=1, description="the job's budget: the breaker trips once spending reaches it")
    fixed_units: int = Field(0, ge=0, description="what the job costs however long it runs (base, teacher, validation fees)")
    compute_hour_units: int = Field(0, ge=0, description="the price of one hour of compute")
    units_per_ftns: int = Field(1_000_000, ge=1)


class SpendingMeter:
    """Spending = fixed fees + the compute-hour rate x the seconds since the run began, rounded half
    up to a unit: the rule the platform bills by, applied as the run goes."""

    def __init__(self, budget: Budget, run_started: float) -> None:
        self.budget, self.run_started = budget, run_started
        self.spent_units = budget.fixed_units

    def read(self) -> int:
        seconds = max(0.0, clock() - self.run_started)
        self.spent_units = self.budget.fixed_units + int(seconds * self.budget.compute_hour_units / 3600 + 0.5)
        return self.spent_units

    def over(self, where: str) -> dict | None:
        """The failed ``circuit_breaker`` record once spending has reached the budget, else None."""
        spent, limit = self.read(), self.budget.limit_units
        if spent < limit:
            return None
        return check_record(score=self.ftns(spent), threshold=self.ftns(limit), passed=False, phase="during",
                            reason="over_budget", spent_units=spent, budget_units=limit,
                            detail=f"spending reached {self.shown(spent)} of the {self.shown(limit)} FTNS budget {where}")

    def ftns(self, units: int) -> float:
        return units / self.budget.units_per_ftns

    def shown(self, units: int) -> str:
        """``1,000`` or ``1,000.25``: whole FTNS, or two decimals when there is a fraction."""
        return f"{self.ftns(units):,.2f}".removesuffix(".00")
