"""Plain JSON values from what the engine computes (numpy scalars, tuples, non-string keys)."""

from __future__ import annotations

import numpy as np


def jsonable(value):
    """``value`` with dict keys as strings, tuples as lists and numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
