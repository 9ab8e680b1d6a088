"""The one record shape every check returns."""

from __future__ import annotations

import math

PHASES = ("before", "during", "after")


def check_record(*, score: float, threshold: float, passed: bool, detail: str, phase: str, **measurements) -> dict:
    """``{passed, score, threshold, detail, phase, ...measurements}`` with plain JSON numbers."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}")
    score = float(score)
    return {"passed": bool(passed), "score": score if math.isfinite(score) else None, "threshold": float(threshold),
            "detail": detail, "phase": phase, **measurements}
