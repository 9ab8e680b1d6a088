"""Choosing the student by trying it: short trials of the designs that fit, with the distillation
settings varied, scored on the validation split only. Optuna's ``SuccessiveHalvingPruner`` stops
the trials that fall behind at each rung; the best trial that ran to the end trains fully.

The plan of trials is fixed before any of them runs, from the seed: first every shortlisted design
at the default settings, with every row it can learn from; then the rule's pick as ``search="off"``
trains it where that differs (without the rows the search made for itself); then settings drawn
from the grid, then the labels-only reference (alpha 0), which is scored and reported but
never chosen. Only the pruner adapts to the results. Finished trials are saved one by one; a resumed
search rebuilds the Optuna study from them (their rung records included), so it prunes and picks
exactly as an uninterrupted one would. Nothing here reads the test split or depends on a framework:
the stage (:mod:`prsm.engine.stages.search`) trains the trials.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only
    import optuna

TEMPERATURES = (1.0, 2.0, 4.0, 8.0)
ALPHAS = (0.3, 0.5, 0.7, 0.9)
LR_SCALES = (0.5, 1.0, 2.0)  # times the backend's default learning rate for the student
# what search="off" trains with; extra: the unlabelled rows (a transfer set, text variants) are trained on
DEFAULTS = {"temperature": 4.0, "alpha": 0.7, "lr_scale": 1.0, "extra": True}
SETTINGS = ("design", "temperature", "alpha", "lr_scale", "extra")
SEARCH_TEXT_VARIANTS = 2  # new versions of each training text the search makes (teacher-labelled) to try
# English sentences of three kinds (tweets, product reviews, editorials) the search offers as a
# transfer set where a text request names none: at most so many per training text, and in all
# (each costs a teacher pass). Twice as many (8 per text, 12,000) were measured on movie reviews at
# "medium" (docs/BENCHMARKS.md): the same trials' validation accuracy moved -1.4 and +0.5 points,
# within noise, for 60% more teacher and training time
SEARCH_TRANSFER = ("builtin:review-snippets", 4, 6000)


def search_transfer_rows(training_rows: int) -> int:
    """How many of ``SEARCH_TRANSFER``'s sentences a job with ``training_rows`` labelled texts is offered."""
    _, per_row, most = SEARCH_TRANSFER
    return min(most, per_row * training_rows)
REDUCTION = 3  # successive halving: a third of the trials at a rung go on to the next
RUNGS = 3  # the shortest trials run 1/9 of the longest's epochs


@dataclass(frozen=True)
class Level:
    name: str
    designs: int  # shortlisted designs, the rule's pick first
    trials: int  # trials that may be chosen (the labels-only reference comes on top)
    max_fraction: float  # the longest trial's epochs, as a share of the final training's

    def trial_epochs(self, final_epochs: int) -> int:
        return max(1, math.ceil(final_epochs * self.max_fraction))

    def min_epochs(self, final_epochs: int) -> int:
        return max(1, self.trial_epochs(final_epochs) // REDUCTION ** (RUNGS - 1))


LEVELS = {"quick": Level("quick", designs=4, trials=8, max_fraction=1 / 3),
          "thorough": Level("thorough", designs=6, trials=18, max_fraction=2 / 3)}


def shortlist(candidates: list[dict], chosen: str, count: int) -> list[dict]:
    """The rule's pick, then the largest fitting candidate of each other family, then of each other
    depth (most parameters first): at a fixed size, one family against another, and depth against
    width, are the trades worth trying."""
    fitting = [c for c in candidates if c.get("fits")]
    largest: dict[tuple, dict] = {}
    for c in fitting:
        key = (family(c), c["layers"])
        if key not in largest or c["params"] > largest[key]["params"]:
            largest[key] = c
    by_size = sorted(largest.values(), key=lambda c: -c["params"])
    picks = [c for c in fitting if c["name"] == chosen]
    families = {family(c) for c in picks}
    for c in by_size:  # one of each other family first: its best shape is worth more than another depth
        if family(c) not in families:
            families.add(family(c))
            picks.append(c)
    picks += by_size
    names, out = set(), []
    for c in picks:
        if c["name"] not in names:
            names.add(c["name"])
            out.append(c)
    return out[:count]


def family(candidate: dict) -> str:
    """A design's family: its kind (``mlp``, ``bilstm``, ``bert``...), and the base it is cut from."""
    architecture = candidate.get("architecture") or {}
    kind = str(architecture.get("kind") or architecture.get("model_type") or "")
    base = (candidate.get("source") or {}).get("base")
    return f"{kind} from {base}" if base else kind


def trial_plan(designs: list[str], level: Level, seed: int, fixed: dict, off: dict | None = None) -> list[dict]:
    """The trials in running order. ``fixed`` holds the settings that are not varied (the request's
    own; ``extra`` without unlabelled rows). ``off``: where ``search="off"`` would train otherwise
    than the defaults (without the rows the search made for itself), the first design so is the
    trial after the designs' own."""
    anchor = {k: fixed.get(k, v) for k, v in DEFAULTS.items()}
    plan = [{"design": name, **anchor} for name in designs]
    if off:
        plan.append({"design": designs[0], **anchor, **off})
    space = {"temperature": TEMPERATURES, "alpha": ALPHAS, "lr_scale": LR_SCALES, "extra": (False, True)}
    axes = [designs] + [(fixed[k],) if k in fixed else values for k, values in space.items()]
    grid = [dict(zip(["design", *space], values)) for values in itertools.product(*axes)]
    for index in np.random.default_rng([seed, 17]).permutation(len(grid)):
        if len(plan) >= level.trials:
            break
        if grid[index] not in plan:
            plan.append(grid[index])
    plan = plan[:max(level.trials, 1)]
    if fixed.get("alpha", None) != 0:
        plan.append({"design": designs[0], **anchor, "alpha": 0.0, "reference": True})
    return [dict(spec, number=i) for i, spec in enumerate(plan)]


# optuna is imported where a study is made, not with this module: the web platform's estimate reads
# the schedule (LEVELS, expected_cost_factor) and needs none of it


def distributions(plan: list[dict]) -> dict:
    """One categorical distribution per setting, over the values the plan uses (the same for every trial)."""
    import optuna

    return {k: optuna.distributions.CategoricalDistribution(sorted({spec[k] for spec in plan}, key=str)) for k in SETTINGS}


def pruner(level: Level, final_epochs: int) -> optuna.pruners.SuccessiveHalvingPruner:
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(min_resource=level.min_epochs(final_epochs),
                                                  reduction_factor=REDUCTION, min_early_stopping_rate=0)


def study_from(records: list[dict], plan: list[dict], level: Level, final_epochs: int) -> optuna.Study:
    """A study holding the finished trials as they were (values, per-epoch values, rung records)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=pruner(level, final_epochs),
                                sampler=optuna.samplers.RandomSampler(seed=0))  # every trial is enqueued: unused
    dists = distributions(plan)
    for record in records:
        state = optuna.trial.TrialState.COMPLETE if record["state"] == "complete" else optuna.trial.TrialState.PRUNED
        study.add_trial(optuna.trial.create_trial(
            state=state, value=record["val_accuracy"] if state == optuna.trial.TrialState.COMPLETE else None,
            params={k: record[k] for k in dists}, distributions=dists,
            intermediate_values={int(k): v for k, v in record["intermediate"].items()},
            system_attrs=record["rungs"]))
    return study


def ask(study: optuna.Study, spec: dict, plan: list[dict]) -> optuna.Trial:
    study.enqueue_trial({k: spec[k] for k in SETTINGS})
    trial = study.ask()
    for name, dist in distributions(plan).items():
        trial.suggest_categorical(name, dist.choices)  # the enqueued value, recorded with its distribution
    return trial


def tell(study: optuna.Study, trial: optuna.Trial, value: float | None) -> None:
    """The trial's end: its best validation accuracy, or None when the pruner stopped it."""
    import optuna

    if value is None:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, value)


def rung_records(study: optuna.Study, trial: optuna.Trial) -> dict:
    frozen = study.get_trials(deepcopy=False)[trial.number]
    return {k: v for k, v in frozen.system_attrs.items() if k.startswith("completed_rung_")}


def choose(records: list[dict], designs: dict[str, dict], target: str, validation_rows: int) -> tuple[dict, str]:
    """The chosen trial and why: among the trials that ran to the end and pass the deploy checks
    measured on validation (``gate``; all of them where none passes, or none was measured), the best
    validation accuracy; within one validation row (at least 0.2 points) of it, the cheapest in
    FLOPs for a speed or efficiency target, the best for an accuracy target."""
    complete = [r for r in records if r["state"] == "complete" and not r.get("reference")]
    if not complete:
        raise ValueError("no trial ran to the end")
    passing = [r for r in complete if (r.get("gate") or {}).get("passed", True)]
    pool = passing or complete
    best = max(r["val_accuracy"] for r in pool)
    tolerance = max(0.002, 1 / max(validation_rows, 1))
    near = [r for r in pool if r["val_accuracy"] >= best - tolerance]
    ran = f"{len(complete)} trial{'s' if len(complete) != 1 else ''} run to the end"
    if target == "accuracy" or len(near) == 1:
        chosen = max(near, key=lambda r: (r["val_accuracy"], -r["number"]))
        why = f"the best validation accuracy ({chosen['val_accuracy']:.4f}) of {ran}"
    else:
        chosen = min(near, key=lambda r: (designs[r["design"]].get("flops") or 0, -r["val_accuracy"], r["number"]))
        why = (f"the fewest FLOPs among the {len(near)} trials within {tolerance:.3f} of the best validation accuracy "
               f"({best:.4f}; optimization_target={target}), of {ran}")
    return chosen, why + _gate_clause(complete, passing, chosen)


def _gate_clause(complete: list[dict], passing: list[dict], chosen: dict) -> str:
    """What the deploy checks on validation did to the choice, in words ("" where nothing)."""
    failed = [r for r in complete if not (r.get("gate") or {}).get("passed", True)]
    if not failed:
        return ""
    if not passing:
        return (" - no trial passed the deploy checks on validation (the best failed "
                f"{', '.join(chosen['gate']['failed'])}), so the checks did not narrow the choice")
    passed_over = [r for r in failed if r["val_accuracy"] > chosen["val_accuracy"]]
    if not passed_over:
        return f" that pass the deploy checks on validation ({len(failed)} failed them)"
    top = max(passed_over, key=lambda r: r["val_accuracy"])
    return (f" that pass the deploy checks on validation: trial {top['number'] + 1} scored higher "
            f"({top['val_accuracy']:.4f}) but failed {', '.join(top['gate']['failed'])}")


def expected_cost_factor(level: Level, final_epochs: int, trials: int | None = None) -> float:
    """The search's training epochs over the final training's, from the schedule. Trials run one
    after another, so the pruner promotes the k-th trial to reach a rung when it is among the best
    k // 3 there so far (the best, while fewer than three have): with values in random order, it
    does with probability max(1, k // 3) / k. Every trial runs to the first rung."""
    reach = float(trials if trials is not None else level.trials + 1)
    longest, rung_end, rung_start, epochs = level.trial_epochs(final_epochs), level.min_epochs(final_epochs), 0, 0.0
    while True:
        epochs += reach * (min(rung_end, longest) - rung_start)
        if rung_end >= longest:
            return epochs / max(final_epochs, 1)
        reach = sum(max(1, k // REDUCTION) / k for k in range(1, round(reach) + 1))
        rung_start, rung_end = rung_end, rung_end * REDUCTION
