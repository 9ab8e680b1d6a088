"""Helpers the benchmarks share: what machine ran them and a plain-text table.

Only the standard library here (torch is imported lazily), so a script can print the machine
before it imports anything heavy, and the GPU script can copy what it needs.
"""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """CPU model, cores, torch threads and version, GPU if any: printed at the top of every run."""
    import torch

    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def print_machine(title: str, info: dict | None = None) -> dict:
    info = info or machine()
    print(f"# {title}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print("note: ratios measured side by side in one run hold on a shared, noisy machine; absolute times do not")
    print(flush=True)
    return info


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by the nearest rank; NaN for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A markdown table (it reads in a terminal and pastes into docs/BENCHMARKS.md as is)."""
    if not rows:
        return "(no rows)"
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    out = [line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in cells])


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)



def catalog_teacher_built(ref: str) -> bool:
    """Whether ``catalog:NAME`` (or ``NAME``) is built here; a bench whose teacher is not says so and skips."""
    from prsm.engine.catalog.registry import read_card

    return read_card(ref.removeprefix("catalog:")) is not None
