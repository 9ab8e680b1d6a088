"""Before a job runs: the student's size, latency and retention it should give, from the completed
jobs on this server that were like it, or from the design rule when none was.

Anyone's completed jobs count, as figures only: ranges and a count, never a name, id or owner.
Reads only: one query (two when it falls back to the task) over the latest completed jobs,
that fetches four numbers a job, not whole reports.
"""

from __future__ import annotations

from django.db.models import Q, Subquery, Value
from django.db.models.functions import Coalesce

from prsm.engine.students.design import SIZE_RATIOS

from .models import DistillationJob

PAST_RUNS = 50  # the latest completed jobs like this one that an expectation reads: enough for a range
HISTORY = 500  # how far back, in completed jobs, it looks for them: the engine changes, and the queries stay cheap
_FIGURES = ("report__student__params", "report__compression_ratio", "report__student__latency_ms_p50",
            "report__retention")


def expected_outcome(*, teacher: str, engine_teacher: str, task: str, teacher_params: int, target_size: str,
                     search: str = "off") -> dict:
    """``source`` "past_runs" with ``runs`` jobs' [min, max] of each figure (None where no job measured
    it): the jobs on this teacher at this size, else those on any teacher of the same task at this
    size (the size then follows from this teacher's parameters and their compression); otherwise
    ``source`` "design_rule": the size budget, and latency and retention left to the run."""
    like = DistillationJob.objects.filter(status=DistillationJob.Status.COMPLETED, pk__gte=_history_start(),
                                          engine_config__target_size=target_size)
    rows = _figures(like.filter(engine_config__teacher=engine_teacher))
    if rows:
        return _from_runs(rows, basis=f"{_jobs(rows)} on {teacher} at target size {target_size}")
    rows = _figures(like.filter(_of_task(task))) if task else []
    if rows:
        return _from_runs(rows, basis=f"no completed job on {teacher} at target size {target_size} yet; "
                                      f"{_jobs(rows)} on other {task} teachers at that size",
                          teacher_params=teacher_params)
    return design_rule(teacher_params=teacher_params, target_size=target_size, search=search)


def design_rule(*, teacher_params: int, target_size: str, search: str = "off") -> dict:
    """What is known before any job like this has run: at most the target's share of the teacher."""
    ratio = SIZE_RATIOS[target_size]
    trials = " (its search's first trials show on the job page)" if search != "off" else " (on the job page)"
    return {"source": "design_rule", "runs": 0,
            "params": [None, teacher_params // ratio] if teacher_params else None,
            "compression": [ratio, None] if teacher_params else None,
            "latency_ms_p50": None, "retention": None,
            "basis": "no completed job like this yet: the size is the target's limit"
                     + ("" if teacher_params else ", and the teacher's size is not known before the run")
                     + f"; latency and retention are measured by the run{trials}"}


def copy_of(*, ref: str, params: int) -> dict:
    """An update or an adaptation: the student starts as a copy of the model ``ref`` and keeps its size."""
    return {"source": "copy", "runs": 0, "params": [params, params] if params else None, "compression": None,
            "latency_ms_p50": None, "retention": None,
            "basis": f"the new model starts as a copy of {ref} and keeps its size; latency and retention are "
                     "measured by the run"}


def _history_start():
    """The id of the HISTORY-th latest completed job (0 with fewer), computed once in the query: a
    bound on the ids keeps the planner from a plan that repeats a subquery for every row."""
    ids = (DistillationJob.objects.filter(status=DistillationJob.Status.COMPLETED)
           .order_by("-pk").values("pk")[HISTORY - 1:HISTORY])
    return Coalesce(Subquery(ids), Value(0))


def _of_task(task: str) -> Q:
    """Jobs on teachers of this task: as their estimate says (kept in line with the row), or for a job
    estimated before the estimate said it, as its report does (stored out of line, slower to read)."""
    return Q(estimate__task=task) | Q(estimate__task__isnull=True, report__task=task)


def _figures(jobs) -> list[tuple]:
    """(params, compression, latency, retention) of the latest PAST_RUNS of ``jobs``: the latest are
    picked first, so that only their reports are opened (a report is kilobytes, stored out of line)."""
    latest = jobs.order_by("-finished_at").values("pk")[:PAST_RUNS]
    rows = DistillationJob.objects.filter(pk__in=latest).order_by().values_list(*_FIGURES)
    return [row for row in rows if any(_is_number(value) for value in row)]


def _from_runs(rows: list[tuple], *, basis: str, teacher_params: int = 0) -> dict:
    """With ``teacher_params`` (jobs on other teachers), the size is this teacher's over their compression."""
    params, compression, latency, retention = (_span(column) for column in zip(*rows))
    if teacher_params and compression:
        params = (round(teacher_params / compression[1]), round(teacher_params / compression[0]))
    return {"source": "past_runs", "runs": len(rows),
            "params": [int(params[0]), int(params[1])] if params else None,
            "compression": _rounded(compression, 2), "latency_ms_p50": _rounded(latency, 4),
            "retention": _rounded(retention, 4), "basis": basis}


def _span(values) -> tuple[float, float] | None:
    numbers = [v for v in values if _is_number(v)]
    return (min(numbers), max(numbers)) if numbers else None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rounded(span, digits: int) -> list[float] | None:
    return [round(span[0], digits), round(span[1], digits)] if span else None


def _jobs(rows: list) -> str:
    count = len(rows)
    if count >= PAST_RUNS:
        return f"the latest {count} completed jobs"
    return "1 completed job" if count == 1 else f"{count} completed jobs"
