"""Choosing a student: generate candidates, measure each one here, keep the most capable that
meets every constraint, and say why. Nothing here depends on a framework: a backend supplies the
candidates (with a ``measure`` function) and this module ranks them.

Capability is approximated by parameter count; the choice is deterministic given the candidates'
sizes and FLOPs (measured latency only decides the latency constraint), so a seed repeats a run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

from ..errors import BadInput

SIZE_RATIOS = {"small": 20, "medium": 8, "large": 3}
TARGETS = ("speed", "accuracy", "efficiency")


@dataclass
class DesignRequest:
    target_size: str = "small"
    optimization_target: str = "speed"
    max_latency_ms: float | None = None
    max_memory_bytes: int | None = None
    layer_count: int | None = None
    hidden_size: int | None = None
    attention_heads: int | None = None

    def __post_init__(self) -> None:
        if self.target_size not in SIZE_RATIOS:
            raise BadInput(f"target_size must be one of {', '.join(SIZE_RATIOS)}, not {self.target_size!r}")
        if self.optimization_target not in TARGETS:
            raise BadInput(f"optimization_target must be one of {', '.join(TARGETS)}, not {self.optimization_target!r}")


@dataclass
class Candidate:
    name: str
    architecture: dict
    params: int
    layers: int
    width: int
    heads: int | None = None
    latency_ms: float | None = None
    memory_bytes: int | None = None
    flops: int | None = None
    fits: bool = True
    reasons: list[str] = field(default_factory=list)
    # where its tokens and first weights come from when not the request's own (a search candidate
    # cut from a pretrained base: {"base": ref, "vocabulary_size": cap?}); None: the request's
    source: dict | None = None
    # where latency and memory were measured when not the backend's own CPU runtime ("tflite-int8"
    # for a mobile target); None: as the backend runs it here
    measured_on: str | None = None

    def summary(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "architecture" and (k not in ("source", "measured_on") or v)} \
            | {"architecture": self.architecture}


def choose(candidates: list[Candidate], request: DesignRequest, teacher_params: int,
           measure: Callable[[Candidate], None]) -> tuple[Candidate, dict]:
    """The chosen candidate and a record of every candidate and the reasons (kept in the report)."""
    budget = teacher_params // SIZE_RATIOS[request.target_size]
    fitting = screen(candidates, request, budget, measure)
    if not fitting:
        raise BadInput(_impossible(candidates, request, budget))
    chosen = _rank(fitting, request.optimization_target)
    chosen.reasons.append(_why(chosen, fitting, request, budget))
    record = {"param_budget": budget, "size_ratio": SIZE_RATIOS[request.target_size], "request": asdict(request),
              "chosen": chosen.name, "candidates": [c.summary() for c in candidates if c.fits or c.latency_ms is not None]
              + [_short(c) for c in candidates if not c.fits and c.latency_ms is None]}
    return chosen, record


def screen(candidates: list[Candidate], request: DesignRequest, budget: int,
           measure: Callable[[Candidate], None]) -> list[Candidate]:
    """The candidates within ``budget`` parameters and every constraint of ``request``, each of them
    measured on this CPU; the others keep their reasons."""
    for candidate in candidates:
        _check_static(candidate, request, budget)
    for candidate in (c for c in candidates if c.fits):
        measure(candidate)
        _check_measured(candidate, request)
    return [c for c in candidates if c.fits]


def _short(candidate: Candidate) -> dict:
    return {"name": candidate.name, "params": candidate.params, "fits": False, "reasons": candidate.reasons}


def _check_static(c: Candidate, r: DesignRequest, budget: int) -> None:
    if c.params > budget:
        c.fits = False
        c.reasons.append(f"{c.params:,} params > budget {budget:,} (1/{SIZE_RATIOS[r.target_size]} of the teacher)")
    for name, want, have in (("layer_count", r.layer_count, c.layers), ("hidden_size", r.hidden_size, c.width),
                             ("attention_heads", r.attention_heads, c.heads)):
        if want is not None and want != have:
            c.fits = False
            c.reasons.append(f"{name} is {have}, asked for {want}")


def _check_measured(c: Candidate, r: DesignRequest) -> None:
    if r.max_latency_ms is not None and c.latency_ms > r.max_latency_ms:
        c.fits = False
        c.reasons.append(f"latency {c.latency_ms:.3f} ms > max_inference_latency {r.max_latency_ms} ms")
    if r.max_memory_bytes is not None and c.memory_bytes > r.max_memory_bytes:
        c.fits = False
        c.reasons.append(f"memory {c.memory_bytes:,} bytes > max_memory_usage {r.max_memory_bytes:,} bytes")


def _rank(fitting: list[Candidate], target: str) -> Candidate:
    largest = max(c.params for c in fitting)
    if target == "accuracy":
        return max(fitting, key=lambda c: (c.params, -c.layers))
    # speed: the cheapest in FLOPs among those keeping half the capacity; efficiency: a quarter,
    # then the most parameters per FLOP (wide and shallow beats deep and narrow on a CPU)
    floor = largest * (0.5 if target == "speed" else 0.25)
    pool = [c for c in fitting if c.params >= floor]
    if target == "speed":
        return min(pool, key=lambda c: (c.flops or 0, c.layers, -c.params))
    return max(pool, key=lambda c: (c.params / max(c.flops or 1, 1), c.params))


def _why(chosen: Candidate, fitting: list[Candidate], r: DesignRequest, budget: int) -> str:
    rule = {"accuracy": "the most parameters", "speed": "the fewest FLOPs among those with >= 1/2 of the largest's parameters",
            "efficiency": "the most parameters per FLOP among those with >= 1/4 of the largest's parameters"}
    return (f"chosen: {rule[r.optimization_target]} (optimization_target={r.optimization_target}) among "
            f"{len(fitting)} candidates within {budget:,} params and every constraint")


def _impossible(candidates: list[Candidate], r: DesignRequest, budget: int) -> str:
    """Name the constraint that rules out the last candidates."""
    explicit = {k: v for k, v in (("layer_count", r.layer_count), ("hidden_size", r.hidden_size),
                                  ("attention_heads", r.attention_heads)) if v is not None}
    smallest = min(c.params for c in candidates)
    if smallest > budget:
        return f"target_size={r.target_size} needs <= {budget:,} params; the smallest student has {smallest:,}"
    sized = [c for c in candidates if c.params <= budget and not any(x in " ".join(c.reasons) for x in explicit)]
    if explicit and not sized:
        shown = ", ".join(f"{k}={v}" for k, v in explicit.items())
        return f"no student with {shown} fits target_size={r.target_size} (<= {budget:,} params)"
    measured = [c for c in candidates if c.latency_ms is not None]
    if r.max_latency_ms is not None and measured and min(c.latency_ms for c in measured) > r.max_latency_ms:
        return f"max_inference_latency={r.max_latency_ms} ms cannot be met: the fastest student takes {min(c.latency_ms for c in measured):.3f} ms"
    if r.max_memory_bytes is not None and measured:
        return f"max_memory_usage={r.max_memory_bytes:,} bytes cannot be met: the smallest student needs {min(c.memory_bytes for c in measured):,}"
    return "no student meets every constraint together"
