from bisect import bisect_left
from itertools import accumulate
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from safety.selectors import job_deploy_refusal

from .models import DeployedModel, DistillationJob, JobEvent

MODEL_CARD_MAX_CHARS = 50_000


def job_visible_to(*, user, job_id) -> DistillationJob | None:
    """The job when ``user`` owns it or is staff; None otherwise (callers answer 404 either way)."""
    if user is None or not user.is_authenticated:
        return None
    jobs = DistillationJob.objects.all() if user.is_staff else DistillationJob.objects.filter(owner=user)
    return jobs.filter(job_id=job_id).first()


def jobs_of(*, user):
    return DistillationJob.objects.filter(owner=user).order_by("-created_at")


def job_out_dir(job: DistillationJob) -> Path:
    """Where the engine writes a job's exports, report and model card."""
    return Path(settings.MEDIA_ROOT) / "jobs" / str(job.job_id)


def job_model_card(*, job: DistillationJob) -> str | None:
    """The MODEL_CARD.md the engine wrote beside the exports (its first 50,000 characters), if any."""
    path = job_out_dir(job) / "MODEL_CARD.md"
    try:
        return path.read_text(errors="replace")[:MODEL_CARD_MAX_CHARS] if path.is_file() else None
    except OSError:
        return None


def job_events_since(*, job: DistillationJob, since: int, limit: int = 1000) -> list[dict]:
    return list(JobEvent.objects.filter(job=job, seq__gt=since).order_by("seq").values_list("payload", flat=True)[:limit])


def jobs_queue_figures(*, jobs) -> dict[int, tuple[int | None, float | None]]:
    """(queue position, ETA in seconds) of each job, by pk, with one read of the queue at most.

    The position is 1 for the next job to start, None once it runs or ended: higher priority first,
    FIFO within a priority. The ETA comes from the estimate and the progress, None once it ended; a
    queued job adds the estimated time of the jobs ahead of it, run one at a time.
    """
    figures = {}
    for job in jobs:
        if job.status == DistillationJob.Status.RUNNING:
            figures[job.pk] = (None, round(_duration(job.estimate) * (1 - job.progress / 100), 1))
        elif job.is_finished:
            figures[job.pk] = (None, None)
    queued = [job for job in jobs if job.pk not in figures]
    if queued:
        rows = DistillationJob.objects.filter(status=DistillationJob.Status.QUEUED).values_list(
            "priority", "created_at", "estimate")
        queue = sorted((-priority, created_at, _duration(estimate)) for priority, created_at, estimate in rows)
        keys = [(key, created_at) for key, created_at, _ in queue]
        seconds_before = [0.0, *accumulate(duration for _, _, duration in queue)]
        for job in queued:
            ahead = bisect_left(keys, (-job.priority, job.created_at))  # strictly before it
            figures[job.pk] = (ahead + 1, round(_duration(job.estimate) + seconds_before[ahead], 1))
    return figures


def _duration(estimate: dict) -> float:
    return float(estimate.get("duration_s", 0))


def job_teacher_owners(*, job: DistillationJob) -> list:
    """Who is paid each teacher access fee, in the job's teacher order: an uploaded teacher's owner
    (as the plan recorded it); None for a catalog teacher (the platform's pool)."""
    estimate = job.estimate or {}
    owner_ids = estimate.get("teacher_owner_ids") or [estimate.get("teacher_owner_id")]
    users = get_user_model().objects.in_bulk([pk for pk in owner_ids if pk])
    return [users.get(pk) if pk else None for pk in owner_ids]


# The metric events' keys that the job page charts, in order: (key, label, axis).
METRIC_SERIES = (("train_loss", "training loss", "y"), ("val_accuracy", "validation accuracy", "y2"))


def job_metric_series(job: DistillationJob) -> dict:
    """The job's stored metric events as chart series over training steps, with the teacher's
    accuracy as a reference line; ``last_seq`` lets a live page append only newer events."""
    series = {key: {"key": key, "name": name, "axis": axis, "x": [], "y": []} for key, name, axis in METRIC_SERIES}
    references, last_seq = [], 0
    for seq, payload in JobEvent.objects.filter(job=job, type="metric").order_by("seq").values_list("seq", "payload"):
        last_seq = seq
        metrics, step = payload.get("metrics") or {}, payload.get("step")
        if "teacher_accuracy" in metrics:
            references = [{"key": "teacher_accuracy", "name": "teacher accuracy", "axis": "y2",
                           "y": metrics["teacher_accuracy"]}]
        if step is None:
            continue
        for key, line in series.items():
            if isinstance(metrics.get(key), (int, float)):
                line["x"].append(step)
                line["y"].append(metrics[key])
    return {"x_title": "training step", "y_title": "loss", "y2_title": "accuracy",
            "series": list(series.values()), "references": references, "last_seq": last_seq}


# --- The search for the best student: the report's account once the job completed; before that
# (and for a job that failed or was cancelled), its stored trial events, which the live page extends

# The trial chart's series: (key, name, marker symbol); the chosen trial is a star drawn over its point.
SEARCH_SERIES = (("complete", "ran to the end", "circle"), ("pruned", "pruned (fell behind)", "circle-open"),
                 ("reference", "labels only (reference)", "diamond"))


def job_search(job: DistillationJob) -> dict | None:
    """The search's level, its trials as table rows (``label``, ``settings``, ``chosen``) and, from
    the report, the choice, why and the labels-only comparison; ``last_seq`` is the newest trial
    event it holds. None for a job that did not, and will not, search."""
    reported = (job.report or {}).get("search")
    if isinstance(reported, dict):
        trials, last_seq = reported.get("trials") or [], job.last_seq
    else:
        reported = {}
        trials, last_seq = _trial_events(job)
        level = (job.engine_config or {}).get("search", "off")
        if not trials and (job.is_finished or level == "off"):
            return None
        reported["level"] = level
    chosen = reported.get("chosen")
    rows = [{**trial, "position": trial["number"] + 1, "label": trial_label(trial), "settings": trial_settings(trial),
             "checks": trial_checks(trial), "chosen": trial["number"] == chosen} for trial in trials if isinstance(trial.get("number"), int)]
    labels_only = reported.get("labels_only")
    if isinstance(labels_only, dict) and isinstance(labels_only.get("gain"), (int, float)):
        labels_only = {**labels_only, "gain_abs": abs(labels_only["gain"])}
    return {**reported, "trials": rows, "chosen_row": next((row for row in rows if row["chosen"]), None),
            "labels_only": labels_only, "from_report": "why" in reported, "last_seq": last_seq}


def _trial_events(job: DistillationJob) -> tuple[list[dict], int]:
    """The trials of the job's trial events, one per trial number (a resumed job's last), and the
    newest event's seq."""
    trials, last_seq = {}, 0
    for seq, payload in JobEvent.objects.filter(job=job, type="trial").order_by("seq").values_list("seq", "payload"):
        last_seq = seq
        trial = payload.get("trial")
        if isinstance(trial, dict) and isinstance(trial.get("number"), int):
            trials[trial["number"]] = trial
    return sorted(trials.values(), key=lambda trial: trial["number"]), last_seq


def trial_checks(trial: dict) -> str:
    """A finished trial's deploy checks, measured on validation, in a table cell ("" where none
    were; static/js/job.js writes the same)."""
    gate = trial.get("gate")
    if not isinstance(gate, dict):
        return ""
    if gate.get("passed"):
        return "deploy checks pass"
    return "fails " + ", ".join(str(name).replace("_", " ") for name in gate.get("failed") or [])


def trial_settings(trial: dict) -> str:
    """A trial's distillation settings in a table cell (static/js/job.js writes the same)."""
    if trial.get("reference"):
        return "labels only (alpha 0)"
    extra = " · + unlabelled rows" if trial.get("extra") else ""
    return f"T {trial.get('temperature', 0):g} · alpha {trial.get('alpha', 0):g} · lr ×{trial.get('lr_scale', 1):g}{extra}"


def trial_label(trial: dict) -> str:
    return f"{trial.get('design', '?')}, {trial_settings(trial)}"


def job_search_series(job: DistillationJob) -> dict:
    """The trials as chart series: student parameters (log scale) against validation accuracy,
    one series per outcome and the chosen trial marked; the job page appends newer trial events."""
    search = job_search(job) or {"trials": [], "last_seq": 0, "chosen_row": None}
    series = {key: {"key": key, "name": name, "type": "scatter", "mode": "markers", "symbol": symbol, "axis": "y",
                    "x": [], "y": [], "text": []} for key, name, symbol in SEARCH_SERIES}
    for row in search["trials"]:
        if isinstance(row.get("params"), (int, float)) and isinstance(row.get("val_accuracy"), (int, float)):
            line = series[trial_series_key(row)]
            line["x"].append(row["params"])
            line["y"].append(row["val_accuracy"])
            line["text"].append(f"trial {row['position']}: {row['label']}")
    lines = list(series.values())
    if (chosen := search["chosen_row"]) is not None:
        lines.append({"key": "chosen", "name": "chosen", "type": "scatter", "mode": "markers", "symbol": "star",
                      "size": 16, "axis": "y",
                      "x": [chosen["params"]], "y": [chosen["val_accuracy"]],
                      "text": [f"trial {chosen['position']}: {chosen['label']}"]})
    return {"x_title": "student parameters (log scale)", "y_title": "validation accuracy", "x_type": "log",
            "y_rangemode": "normal", "event_type": "trial", "series": lines, "references": [],
            "last_seq": search["last_seq"]}


def trial_series_key(trial: dict) -> str:
    return "reference" if trial.get("reference") else ("pruned" if trial.get("state") == "pruned" else "complete")


# --- The job page (templates/distillation/job.html): its timeline, log lines and comparison charts

LOG_EVENT_TYPES = ("stage", "log", "completed", "failed", "cancelled")


def job_stage_timeline(job: DistillationJob) -> list[dict]:
    """The stages the job went through, in order: ``{stage, seconds, state}`` with state "done",
    "running" (the current one, ``started`` its Unix time) or the job's end ("failed", "cancelled").
    A completed job's seconds are its report's; otherwise they run from one stage event to the next."""
    reported = (job.report or {}).get("stages") or {}
    if reported:  # in running order: PostgreSQL's jsonb does not keep the keys' order, each stage's "order" does
        ordered = sorted(reported.items(), key=lambda item: item[1].get("order", len(reported)))
        return [{"stage": name, "seconds": record.get("seconds"), "state": "done"} for name, record in ordered]
    events = [(payload, at) for payload, at in JobEvent.objects.filter(job=job, type="stage").order_by("seq")
              .values_list("payload", "created_at") if payload.get("stage") != "queued"]
    end = job.finished_at or timezone.now()
    stages: dict[str, dict] = {}  # a job resumed after a worker died runs a stage again: its times add up
    for index, (payload, started) in enumerate(events):
        until = events[index + 1][1] if index + 1 < len(events) else end
        row = stages.setdefault(payload.get("stage") or "", {"stage": payload.get("stage") or "", "seconds": 0.0})
        row["seconds"] = round(row["seconds"] + max(0.0, (until - started).total_seconds()), 3)
        row["state"], row["started"] = "done", started.timestamp()
    rows = list(stages.values())
    if rows and not job.is_finished:
        rows[-1]["state"] = "running"
    elif rows and job.status != DistillationJob.Status.COMPLETED:
        rows[-1]["state"] = job.status
    return rows


def job_log_lines(job: DistillationJob, *, limit: int = 20) -> list[dict]:
    """The newest stage changes, log lines and the ending, oldest first (what the page's live list
    starts from; newer ones come over the websocket)."""
    payloads = JobEvent.objects.filter(job=job, type__in=LOG_EVENT_TYPES).order_by("-seq").values_list("payload", flat=True)
    return list(reversed(payloads[:limit]))


def job_deploy_blocker(job: DistillationJob) -> str | None:
    """Why the job cannot be deployed or listed now, in plain words, or None."""
    problem = job_deploy_problem(job)
    return problem[0] if problem else None


def job_deploy_problem(job: DistillationJob) -> tuple[str, str | None] | None:
    """The first rule that stops deploying the job (a completed job, the safety breaker, the quality
    threshold, a verified export) as (message, the field it is about), or None. ``services.job_deploy``
    refuses with it; the job page disables its forms with it."""
    if job.status != DistillationJob.Status.COMPLETED:
        return f"Only a completed job can be deployed; this one is {job.status}.", None
    if refusal := job_deploy_refusal(job=job):
        return refusal, None
    retention = (job.report or {}).get("retention")
    threshold = (job.request or {}).get("quality_threshold", 0)
    if retention is None or retention < threshold:
        return (f"The student kept {retention if retention is None else format(retention, '.1%')} of the teacher's "
                f"accuracy, under the job's quality threshold of {threshold:.0%}; it cannot be deployed."), "quality_threshold"
    failed = [(name, check) for name, check in ((job.report or {}).get("checks") or {}).items()
              if isinstance(check, dict) and check.get("specialty") and not check.get("passed")]
    if failed:
        name, check = failed[0]
        return (f"The specialty requirement {name.removeprefix('specialty_')} was not met: {check.get('detail')} scored "
                f"{check.get('score', 0):.3f}, under its minimum of {check.get('threshold', 0):.3f}; it cannot be "
                "deployed."), "specialty_requirements"
    if not job.artifacts.filter(verified=True).exists():
        return "No export of this job passed verification; there is nothing to deploy.", "export_format"
    return None


def deployments_of(*, user):
    """The user's deployed models, newest first, with their job and export."""
    return DeployedModel.objects.filter(job__owner=user).select_related("job", "artifact").order_by("-created_at")


COMPARED = ("teacher", "student")
MOBILE_BAR = "student, int8 TFLite (1 thread)"


def job_comparison_charts(job: DistillationJob) -> dict[str, dict]:
    """Teacher against student from the job's report, one chart series each (the JSON the page draws;
    the API's ``report`` holds the same figures): accuracy (with the labels-only baseline when the
    job trained one), size in parameters, latency p50/p95, the student's per-class accuracy and
    confusion matrix, and both models' reliability diagrams, when the report has them. Only charts whose figures exist are returned."""
    report = job.report or {}
    sides = {name: report.get(name) or {} for name in COMPARED}
    charts = {}
    accuracy = _bars(sides, "accuracy", "accuracy (held-out test split)")
    if accuracy and isinstance((report.get("baseline") or {}).get("accuracy"), (int, float)):
        accuracy["x"].append("labels-only baseline")
        accuracy["y"].append(report["baseline"]["accuracy"])
    if accuracy:
        charts["accuracy"] = _chart("model", "accuracy", [accuracy], y_range=[0, 1])
    if params := _bars(sides, "params", "parameters"):
        charts["size"] = _chart("model", "parameters", [params])
    latency = [line for line in (_bars(sides, "latency_ms_p50", "p50"), _bars(sides, "latency_ms_p95", "p95")) if line]
    mobile = sides["student"].get("mobile")
    if latency and isinstance(mobile, dict):  # a mobile target: the int8 file the phone runs, timed here in LiteRT
        for line in latency:
            if isinstance(mobile.get(line["key"]), (int, float)):
                line["x"].append(MOBILE_BAR)
                line["y"].append(mobile[line["key"]])
    if latency:
        charts["latency"] = _chart("model", "latency, ms (CPU, batch 1)", latency)
    per_class = sides["student"].get("per_class_accuracy")
    if isinstance(per_class, dict) and per_class:
        # the classes' own order (jsonb keeps an object's keys in its own order, not the report's)
        names = [str(name) for name in report.get("classes") or [] if str(name) in per_class] or list(per_class)
        line = {"key": "per_class_accuracy", "name": "student", "type": "bar", "axis": "y",
                "x": names, "y": [per_class[name] for name in names]}
        charts["per_class"] = _chart("class", "student accuracy", [line], y_range=[0, 1])
    matrix = sides["student"].get("confusion_matrix")
    if isinstance(matrix, list) and matrix:
        classes = [str(name) for name in (report.get("classes") or range(len(matrix)))]
        line = {"key": "confusion_matrix", "name": "examples", "type": "heatmap", "axis": "y",
                "x": classes, "y": classes, "z": matrix}
        charts["confusion"] = _chart("predicted class", "true class", [line])
    curves = [{"key": f"reliability_{side}", "name": side, "axis": "y", "x": table["confidence"], "y": table["accuracy"]}
              for side in COMPARED if isinstance(table := sides[side].get("reliability"), dict) and table.get("confidence")]
    if curves:
        diagonal = {"key": "calibrated", "name": "perfectly calibrated", "axis": "y", "x": [0, 1], "y": [0, 1]}
        charts["reliability"] = _chart("confidence", "accuracy at that confidence", curves + [diagonal], y_range=[0, 1])
    return charts


def _bars(sides: dict, key: str, name: str) -> dict | None:
    present = [side for side in COMPARED if isinstance(sides[side].get(key), (int, float))]
    if not present:
        return None
    return {"key": key, "name": name, "type": "bar", "axis": "y", "x": present, "y": [sides[side][key] for side in present]}


def _chart(x_title: str, y_title: str, series: list[dict], *, y_range: list | None = None, y_type: str | None = None) -> dict:
    chart = {"x_title": x_title, "y_title": y_title, "series": series, "references": [], "last_seq": 0}
    if y_range:
        chart["y_range"] = y_range
    if y_type:
        chart["y_type"] = y_type
    return chart


def job_deployment(job: DistillationJob) -> DeployedModel | None:
    return DeployedModel.objects.filter(job=job).select_related("artifact").first()
