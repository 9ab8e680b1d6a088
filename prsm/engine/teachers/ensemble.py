"""Several teachers as one: their outputs fused into the soft target the student learns.

Each member runs on its own encoding of the rows (a Hugging Face teacher on its tokens, an ONNX
one on the features), so teachers of different kinds and sizes can be fused; the fused outputs are
cached on disk like a single teacher's (``training.cache``), so each teacher runs once per row.

Fusion works on probabilities and returns their logarithm as logits (``softmax(log p) = p``):

- ``weighted_ensemble``: ``p = sum_i w_i p_i``;
- ``confidence``: each row's weights ``w_i * max_c p_i(c)``, normalised per row, so a teacher
  counts more where it is sure;
- ``domain_routing``: a row whose ``domain`` (the data's ``domain`` column) a teacher names goes
  to the teachers of that domain (their weights, normalised); other rows to all of them.

``p_i`` is teacher i's softmax over the ensemble's classes: with ``align`` (the request's
``knowledge_alignment``) its labels are matched to the ensemble's by name (another order is
reordered, extra labels dropped and the rest renormalised, a missing one refused) and its
temperature is fitted on the validation split (the one that minimises the negative
log-likelihood of the labels) before fusing; without it every teacher must have the ensemble's
labels in the ensemble's order and keeps temperature 1.

The student is designed from one member, the ``primary`` (its layers and tokenizer), and its size
budget is the primary's; the report compares its accuracy with the ensemble's and with the best
single teacher's.
"""

from __future__ import annotations

import numpy as np

from ..adapters import Inputs
from ..data.types import TaskData
from ..errors import BadInput
from .base import Teacher, _generic, align_classes

ROUTE = "route"  # the inputs' key holding each row's routing (a member's index, -1: every member)
TEMPERATURE_GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))  # calibration's candidates


class EnsembleTeacher(Teacher):
    kind = "ensemble"

    def __init__(self, members: list[Teacher], weights: list[float], domains: list[str | None], fusion: str,
                 align: bool, primary: int) -> None:
        self.members, self.weights, self.domains = members, np.asarray(weights, dtype=np.float64), domains
        self.fusion, self.align, self.primary = fusion, align, members[primary]
        parts = "+".join(f"{m.ref}@{w:g}" + (f"[{d}]" if d else "") for m, w, d in zip(members, weights, domains))
        super().__init__(f"ensemble:{parts}/{fusion}" + ("/aligned" if align else ""))
        runtimes = {m.runtime for m in members}
        self.runtime = runtimes.pop() if len(runtimes) == 1 else "mixed"
        self.task = self.primary.task
        self.tokenizer = getattr(self.primary, "tokenizer", None)  # the mask token of text variants
        self.temperatures = [1.0] * len(members)
        self.maps: list[np.ndarray] | None = None  # each member's output column for each ensemble class
        self.summary: dict = {}  # teacher_eval's figures, for the report

    # -- what a teacher offers ------------------------------------------------------------------

    def check(self, data: TaskData) -> None:
        for member in self.members:
            member.check(data)

    def describe(self) -> dict:
        """The primary's shape; parameters and bytes of all the teachers together (what the student
        replaces), and the primary's parameters as the student's size budget (``design_params``)."""
        described = [m.describe() for m in self.members]
        primary = described[self.members.index(self.primary)]
        return primary | {"params": int(sum(d["params"] for d in described)),
                          "size_bytes": int(sum(d["size_bytes"] for d in described)),
                          "design_params": int(primary["params"]),
                          "members": [{"ref": m.ref, "kind": m.kind, "params": int(d["params"])}
                                      for m, d in zip(self.members, described)]}

    def align_data(self, data: TaskData) -> TaskData:
        """The data in the primary's class order (as for one teacher), and each member's outputs
        mapped onto it; refused when a member's labels cannot be matched."""
        sorted_classes = list(data.classes)
        data = align_classes(data, self.primary)
        self.classes = list(self.primary.classes)
        self.maps = [self._map(member, sorted_classes) for member in self.members]
        if self.fusion == "domain_routing":
            self._check_routing(data)
        return data

    def _map(self, member: Teacher, sorted_classes: list[str]) -> np.ndarray:
        own = member.classes
        if own is None or _generic(own):
            count = member.num_outputs or len(sorted_classes)
            if count != len(sorted_classes):
                raise BadInput(f"teacher_models: {member.ref} has {count} classes and no names for them; the data has "
                               f"{len(sorted_classes)}, so they cannot be matched")
            own = sorted_classes  # a teacher that does not name its classes uses the data's sorted order
        if own == self.classes:
            return np.arange(len(own))
        if not self.align:
            raise BadInput(f"teacher_models: {member.ref}'s labels ({', '.join(own)}) differ from "
                           f"{self.primary.ref}'s ({', '.join(self.classes)}); set knowledge_alignment to match them by name")
        missing = [name for name in self.classes if name not in own]
        if missing:
            raise BadInput(f"knowledge_alignment: {member.ref} has no label {missing[0]!r} (its labels: "
                           f"{', '.join(own)}), so its outputs cannot be aligned with the other teachers'")
        return np.array([own.index(name) for name in self.classes])

    def _check_routing(self, data: TaskData) -> None:
        named = {d for d in self.domains if d}
        if data.domains is None:
            raise BadInput("fusion_strategy: domain_routing sends each row to the teacher of its domain, and the data "
                           "has no 'domain' column")
        if not named & set(data.domains):
            raise BadInput(f"fusion_strategy: no row's domain is one the teachers name ({', '.join(sorted(named))})")

    def encode(self, data: TaskData) -> Inputs:
        """Every member's own encoding of the rows (keys ``m0.input_ids``, ``m1.x``...), and with
        domain_routing each row's route."""
        inputs = {f"m{i}.{name}": array for i, member in enumerate(self.members)
                  for name, array in member.encode(data).items()}
        if self.fusion == "domain_routing":
            inputs[ROUTE] = self._routes(data)
        return inputs

    def _routes(self, data: TaskData) -> np.ndarray:
        """Per row, a bit mask of the members whose domain is the row's (0: none names it)."""
        masks = np.zeros(len(data), dtype=np.int64)
        for i, domain in enumerate(self.domains):
            if domain and data.domains is not None:
                masks |= np.array([row == domain for row in data.domains], dtype=np.int64) << i
        return masks

    def member_logits_of(self, inputs: Inputs, batch_size: int = 256) -> list[np.ndarray]:
        """Each member's logits over the ensemble's classes (mapped, before any temperature)."""
        out = []
        for i, member in enumerate(self.members):
            prefix = f"m{i}."
            own = {name[len(prefix):]: array for name, array in inputs.items() if name.startswith(prefix)}
            logits = np.asarray(member.logits_of(own, batch_size), dtype=np.float64)
            out.append(logits[:, self.maps[i]] if self.maps is not None else logits)
        return out

    def logits_of(self, inputs: Inputs, batch_size: int = 256) -> np.ndarray:
        return self.fuse(self.member_logits_of(inputs, batch_size), inputs.get(ROUTE))

    def member_logits(self, data: TaskData) -> list[np.ndarray]:
        return self.member_logits_of(self.encode(data))

    # -- fusion and calibration -----------------------------------------------------------------

    def fuse(self, member_logits: list[np.ndarray], routes: np.ndarray | None = None) -> np.ndarray:
        """The fused log-probabilities ``[n, classes]`` (float32) of the members' mapped logits."""
        log_probs = np.stack([_log_softmax(z / t) for z, t in zip(member_logits, self.temperatures)])  # [m, n, c]
        weights = np.broadcast_to(self.weights[:, None], log_probs.shape[:2]).copy()  # [m, n]
        if self.fusion == "confidence":
            weights *= np.exp(log_probs.max(axis=2))
        elif self.fusion == "domain_routing" and routes is not None:
            routes = np.asarray(routes, dtype=np.int64)
            chosen = ((routes[None, :] >> np.arange(len(self.members))[:, None]) & 1).astype(bool)  # [m, n]
            routed = chosen.any(axis=0)
            weights[:, routed] *= chosen[:, routed]
        weights /= weights.sum(axis=0, keepdims=True)
        with np.errstate(divide="ignore"):
            fused = _logsumexp(log_probs + np.log(weights)[:, :, None], axis=0)
        return fused.astype(np.float32)

    def calibrate(self, validation: TaskData) -> None:
        """With ``align``, each member's temperature fitted on the validation rows (lowest NLL)."""
        if not self.align:
            return
        labels = np.asarray(validation.labels)
        self.temperatures = [fit_temperature(z, labels) for z in self.member_logits(validation)]

    def evaluate_members(self, data: TaskData) -> np.ndarray:
        """The fused logits of ``data``, with each teacher's run once for them and the ensemble's
        summary (each teacher's accuracy beside the ensemble's, how often they agree) kept for the report."""
        inputs = self.encode(data)
        logits = self.member_logits_of(inputs)
        fused = self.fuse(logits, inputs.get(ROUTE))
        labels = np.asarray(data.labels)
        predictions = np.stack([z.argmax(1) for z in logits])
        members = [{"ref": m.ref, "kind": m.kind, "weight": float(w), "domain": d, "temperature": round(float(t), 4),
                    "accuracy": float((p == labels).mean())}
                   for m, w, d, t, p in zip(self.members, self.weights, self.domains, self.temperatures, predictions)]
        best = max(members, key=lambda member: member["accuracy"])
        self.summary = {"fusion": self.fusion, "knowledge_alignment": self.align, "members": members,
                        "designed_from": self.primary.ref, "accuracy": float((fused.argmax(1) == labels).mean()),
                        "all_agree": float((predictions == predictions[0]).all(axis=0).mean()),
                        "best_teacher": best["ref"], "best_teacher_accuracy": best["accuracy"]}
        return fused

    # -- costs ----------------------------------------------------------------------------------

    def cost(self, inputs: Inputs) -> dict:
        """Every member run in turn: latencies, memory and FLOPs add up."""
        costs = []
        for i, member in enumerate(self.members):
            prefix = f"m{i}."
            costs.append(member.cost({name[len(prefix):]: a for name, a in inputs.items() if name.startswith(prefix)}))
        total = dict(costs[self.members.index(self.primary)])
        for key in ("latency_ms_p50", "latency_ms_p95", "latency_ms_p50_batch32", "latency_ms_p95_batch32",
                    "peak_memory_bytes", "flops_per_example"):
            values = [c.get(key) for c in costs]
            total[key] = sum(values) if all(v is not None for v in values) else None
        total["runtime"] = self.runtime
        return total

    def report_extra(self) -> dict:
        return {"ensemble": self.summary} if self.summary else {}


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in ``TEMPERATURE_GRID`` whose softmax gives ``labels`` the lowest mean NLL."""
    logits = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(labels))
    losses = [-_log_softmax(logits / t)[rows, labels].mean() for t in TEMPERATURE_GRID]
    return float(TEMPERATURE_GRID[int(np.argmin(losses))])


def _log_softmax(z: np.ndarray) -> np.ndarray:
    return z - _logsumexp(z, axis=-1)[..., None]


def _logsumexp(z: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(z, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.squeeze(top, axis=axis) + np.log(np.sum(np.exp(z - top), axis=axis))


def load_ensemble(config, load_one) -> EnsembleTeacher:
    """The ensemble ``config.ensemble`` names; ``load_one(ref)`` loads one of its teachers."""
    spec = config.ensemble
    members = [load_one(m.teacher) for m in spec.members]
    primary = [m.teacher for m in spec.members].index(config.teacher)
    return EnsembleTeacher(members, [m.weight for m in spec.members], [m.domain for m in spec.members], spec.fusion,
                           spec.align, primary)
