"""Writes for distillation jobs: create (plan, hold, enqueue), lease, events, finish, cancel, deploy."""

from __future__ import annotations

import functools
import time
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.broker import actor_named
from core.errors import DomainError
from accounts.services import notification_send
from core.workers import live_workers
from ledger import pricing, services as ledger
from ledger.amounts import UNITS_PER_FTNS
from prsm.request import DistillationRequest
from prsm.serving.formats import served_format
from safety import services as safety_services
from webhooks import services as webhooks

from .http_teachers import report_token_units, with_token_fee
from .models import Artifact, Dataset, DeployedModel, DistillationJob, JobEvent, Teacher
from .planning import VALIDATION_SUITES, engine_config, plan
from .selectors import job_deploy_problem, job_out_dir, job_teacher_owners
from .uploads import UploadError, dataset_store, discard, receive, teacher_store, upload_folder


class JobError(DomainError):
    status_code = 409
    code = "conflict"


class OverBudget(JobError):
    status_code = 422
    code = "over_budget"


def job_group(job_id) -> str:
    return f"job.{job_id}"


def job_hold_reference(job: DistillationJob) -> str:
    return f"job:{job.job_id}"


@transaction.atomic
def distillation_job_create(*, owner, request: DistillationRequest, priority: int = 0) -> DistillationJob:
    job_plan = plan(request=request, owner=owner)
    budget_units = request.budget_ftns * UNITS_PER_FTNS
    if job_plan.cost.total > budget_units:
        raise OverBudget(
            f"The estimate ({job_plan.estimate()['cost_ftns']} FTNS) is over the budget ({request.budget_ftns} FTNS).",
            field="budget_ftns", extra={"estimate": job_plan.estimate()},
        )
    job = DistillationJob(
        owner=owner, request=request.model_dump(mode="json"), engine_config=engine_config(request=request, job_plan=job_plan),
        backend=job_plan.backend, backend_reason=job_plan.backend_reason, estimate=job_plan.estimate(),
        cost_estimate_ftns=-(-job_plan.cost.total // UNITS_PER_FTNS), priority=priority,
    )
    job.full_clean(validate_unique=False, validate_constraints=False)  # a new uuid; the database holds the constraints
    job.save()
    ledger.hold_place(user=owner, reference=job_hold_reference(job), amount=job_plan.cost.total, budget=budget_units)
    # stored, not broadcast: no one can be listening to a job that did not exist a moment ago, and a
    # page or client that connects reads it back (a broadcast cost ~10 ms of the request: a thread hop
    # and a round trip to the channel layer)
    job_event_append(job=job, type="stage", payload={"stage": "queued", "message": "queued"}, token=None,
                     broadcast=False)
    time_limit_ms = int((job_plan.duration_s * 3 + 600) * 1000)
    transaction.on_commit(lambda: _enqueue(job.job_id, time_limit_ms))
    return job


def _enqueue(job_id, time_limit_ms: int) -> None:
    distillation_run = actor_named("distillation_run")  # tasks.py, which calls these services
    message = distillation_run.message_with_options(args=(str(job_id),), time_limit=time_limit_ms)
    if any("gpu" in worker.get("queues", ()) for worker in live_workers()):
        message = message.copy(queue_name="gpu")  # a worker with CUDA is up: it takes training first
    distillation_run.broker.enqueue(message)


def job_event_append(*, job: DistillationJob, type: str, payload: dict, token: int | None, fields: dict | None = None,
                     broadcast: bool = True) -> dict | None:
    """Store one event (and the job fields it changes) and broadcast it; None when the lease was lost.

    With a ``token`` the write happens only while that worker still holds the job's lease (fencing).
    """
    with transaction.atomic():
        rows = DistillationJob.objects.filter(pk=job.pk)
        if token is not None:
            rows = rows.filter(lease_token=token, status=DistillationJob.Status.RUNNING)
        if not rows.update(last_seq=F("last_seq") + 1, **(fields or {})):
            return None
        current = DistillationJob.objects.values("last_seq", "progress", "current_stage").get(pk=job.pk)
        seq = current.pop("last_seq")
        message = {"type": type, "job_id": str(job.job_id), "seq": seq, "sent_at": time.time(), **current, **payload}
        JobEvent.objects.create(job=job, seq=seq, type=type, payload=message)
    if broadcast:
        transaction.on_commit(lambda: _broadcast(job.job_id, message))
    return message


def _broadcast(job_id, message: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(job_group(job_id), {"type": "job.event", "message": message})


def job_lease_acquire(*, job_id) -> tuple[DistillationJob, int] | None:
    """Take the job for this worker; None when it is finished. Raises LeaseBusy while another worker holds it."""
    with transaction.atomic():
        job = DistillationJob.objects.select_for_update().get(job_id=job_id)
        now = timezone.now()
        if job.is_finished:
            return None
        if job.status == DistillationJob.Status.RUNNING and job.lease_expires_at and job.lease_expires_at > now:
            raise LeaseBusy(f"job {job_id} is held by another worker until {job.lease_expires_at.isoformat()}")
        if job.cancel_requested:  # cancelled while queued, or its worker died after the cancel
            _finish_cancelled(job, used_seconds=_seconds_run(job))
            return None
        running = DistillationJob.objects.filter(owner_id=job.owner_id, status=DistillationJob.Status.RUNNING,
                                                 lease_expires_at__gt=now).exclude(pk=job.pk).count()
        if running >= settings.DISTILLATION_MAX_RUNNING_PER_USER:
            raise LeaseBusy(f"the owner of job {job_id} already runs {running} jobs; it waits its turn")
        job.lease_token += 1
        job.attempts += 1
        job.status = DistillationJob.Status.RUNNING
        job.started_at = job.started_at or now
        job.lease_expires_at = now + timedelta(seconds=settings.DISTILLATION_LEASE_SECONDS)
        job.save(update_fields=["lease_token", "attempts", "status", "started_at", "lease_expires_at"])
        return job, job.lease_token


def _seconds_run(job: DistillationJob) -> float:
    """Time a job ran before its worker went away: from its start to its last event."""
    last = job.events.order_by("-seq").values_list("created_at", flat=True).first()
    return max(0.0, (last - job.started_at).total_seconds()) if job.started_at and last else 0.0


class LeaseBusy(Exception):
    """Another worker runs the job; the message is retried later and becomes a no-op once the job ends."""


def job_lease_renew(*, job: DistillationJob, token: int) -> bool:
    """Extend the lease; False when this worker no longer holds it or a cancel was requested."""
    renewed = DistillationJob.objects.filter(
        pk=job.pk, lease_token=token, status=DistillationJob.Status.RUNNING, cancel_requested=False
    ).update(lease_expires_at=timezone.now() + timedelta(seconds=settings.DISTILLATION_LEASE_SECONDS))
    return bool(renewed)


def _teachers(job: DistillationJob) -> int:
    """How many teacher fees the job pays: one per teacher of an ensemble."""
    return len((job.estimate or {}).get("teacher_owner_ids") or [None])


def _measured_cost(report_or_seconds, teachers: int = 1) -> pricing.JobCost:
    seconds = report_or_seconds
    if isinstance(report_or_seconds, dict):
        seconds = sum(stage["seconds"] for stage in report_or_seconds.get("stages", {}).values())
    hours = Fraction(seconds).limit_denominator(10**6) / 3600
    cost = pricing.job_cost(teachers=teachers, compute_hours=hours, validation_suites=VALIDATION_SUITES)
    # a teacher over HTTP: the tokens it used (report.teacher.usage), priced into its fee
    return with_token_fee(cost, report_token_units(report_or_seconds if isinstance(report_or_seconds, dict) else None))


@transaction.atomic
def job_complete(*, job: DistillationJob, token: int, report: dict) -> bool:
    job = DistillationJob.objects.select_for_update().get(pk=job.pk)
    if job.lease_token != token or job.status != DistillationJob.Status.RUNNING:
        return False
    root = Path(settings.MEDIA_ROOT)
    for fmt, export in report.get("exports", {}).items():
        path = Path(export["path"])
        path = path if path.is_absolute() else job_out_dir(job) / path
        Artifact.objects.update_or_create(job=job, format=fmt, defaults={
            "path": str(path.relative_to(root)), "sha256": export["sha256"], "size_bytes": export["size_bytes"],
            "verified": bool(export.get("verified")), "max_abs_diff": export.get("max_abs_diff"),
        })
    ledger.hold_settle(reference=job_hold_reference(job), cost=_measured_cost(report, _teachers(job)),
                       teacher_owners=job_teacher_owners(job=job))
    _finish(job, DistillationJob.Status.COMPLETED, report=report)
    safety_services.safety_report_build(job=job)
    return True


@transaction.atomic
def job_fail(*, job: DistillationJob, token: int | None, message: str, platform_fault: bool, used_seconds: float) -> bool:
    job = DistillationJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished or (token is not None and job.lease_token != token):
        return False
    reference = job_hold_reference(job)
    if platform_fault:
        ledger.hold_refund(reference=reference)
    else:
        ledger.hold_settle(reference=reference, cost=_measured_cost(used_seconds, _teachers(job)),
                           teacher_owners=job_teacher_owners(job=job))
    _finish(job, DistillationJob.Status.FAILED, error=message)
    safety_services.safety_breaker_trip_record(job=job, folder=job_out_dir(job))
    return True


@transaction.atomic
def job_cancel(*, job: DistillationJob) -> DistillationJob:
    """Queued jobs end at once; a running job's worker sees the request within seconds and stops."""
    job = DistillationJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise JobError(f"The job is already {job.status}.")
    job.cancel_requested = True
    job.save(update_fields=["cancel_requested"])
    if job.status == DistillationJob.Status.QUEUED:
        _finish_cancelled(job, used_seconds=0)
    return job


@transaction.atomic
def job_cancelled(*, job: DistillationJob, token: int, used_seconds: float) -> bool:
    job = DistillationJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished or job.lease_token != token:
        return False
    _finish_cancelled(job, used_seconds=used_seconds)
    return True


def _finish_cancelled(job: DistillationJob, *, used_seconds: float) -> None:
    reference = job_hold_reference(job)
    if used_seconds:
        ledger.hold_settle(reference=reference, cost=_measured_cost(used_seconds, _teachers(job)),
                           teacher_owners=job_teacher_owners(job=job))
    else:
        ledger.hold_release(reference=reference)
    _finish(job, DistillationJob.Status.CANCELLED)


def _finish(job: DistillationJob, status: str, *, report: dict | None = None, error: str = "") -> None:
    fields = {"status": status, "finished_at": timezone.now(), "lease_expires_at": None, "error": error}
    if status == DistillationJob.Status.COMPLETED:
        fields.update(progress=100.0, current_stage="completed", report=report)
    else:
        fields["current_stage"] = status
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=list(fields))
    payload = {"stage": status, "message": error or status}
    job_event_append(job=job, type=status, payload=payload, token=None)
    if status != DistillationJob.Status.CANCELLED:  # the owner cancelled it: they know
        teacher = (job.estimate or {}).get("teacher", "the teacher")
        message = (f"Your distillation of {teacher} finished." if status == DistillationJob.Status.COMPLETED
                   else f"Your distillation of {teacher} failed: {error}")
        notification_send(user=job.owner, kind=f"job_{status}", message=message, link=f"/jobs/{job.job_id}/")
        webhooks.event_emit(user=job.owner, type=f"job.{status}", data=job_event_data(job))


def job_event_data(job: DistillationJob) -> dict:
    """What a job.completed or job.failed webhook says: the job, its links, and its key results when it has them."""
    report = job.report or {}
    student, teacher = report.get("student") or {}, report.get("teacher") or {}
    results = {"retention": report.get("retention"), "compression_ratio": report.get("compression_ratio"),
               "speedup": report.get("speedup"), "student_accuracy": student.get("accuracy"),
               "teacher_accuracy": teacher.get("accuracy"), "student_latency_ms_p50": student.get("latency_ms_p50"),
               "student_params": student.get("params"), "exports": sorted(report.get("exports") or {}) or None}
    return {"job_id": str(job.job_id), "status": job.status, "teacher": (job.estimate or {}).get("teacher"),
            "backend": job.backend, "error": job.error or None, "created_at": job.created_at,
            "finished_at": job.finished_at, "page_url": webhooks.site_url(f"/jobs/{job.job_id}/"),
            "api_url": webhooks.site_url(f"/api/v1/distillations/{job.job_id}/"),
            "results": {name: value for name, value in results.items() if value is not None}}


def job_serving_artifact(job: DistillationJob, artifacts: dict[str, Artifact]) -> Artifact | None:
    """The export the serving pool runs (``prsm.serving.formats.served_format``: ONNX, else TFLite; int8
    when it verified and the request asked for speed or a phone); None without one."""
    request = job.request or {}
    name = served_format({n for n, a in artifacts.items() if a.verified}, request.get("optimization_target"),
                         request.get("target_hardware"))
    return artifacts[name] if name else None


def job_deploy(*, job: DistillationJob, export_format: str | None = None) -> DeployedModel:
    """Serve a completed job's export; refused while its safety breaker blocks it. Listing it too
    (the request's ``marketplace_listing``) is the marketplace's ``job_deploy_and_list``.

    The request's ``max_inference_latency`` and ``max_memory_usage``, when set, are measured on the serving
    path first (``prsm.serving.measure``, in a child process, outside any lock): a miss is refused with the
    figures (409) and nothing is deployed. A deployment that was undeployed is deployed again. After the
    commit the serving pool is asked to load (warm) the model."""
    if problem := job_deploy_problem(job):
        raise JobError(problem[0], field=problem[1])
    artifacts = {a.format: a for a in job.artifacts.all()}
    existing = DeployedModel.objects.filter(job=job).select_related("serving_artifact").first()
    served = existing.serving_artifact if existing is not None and existing.serving_artifact else job_serving_artifact(job, artifacts)
    if existing is not None and existing.is_live:
        return existing
    if existing is None:
        wanted = export_format or next((f for f in ("onnx", "safetensors", "huggingface", "pth", "tflite", "keras")
                                        if f in artifacts), None)
        if wanted not in artifacts:
            raise JobError(f"The job has no {wanted!r} export; it has {', '.join(sorted(artifacts)) or 'none'}.", field="export_format")
        if not artifacts[wanted].verified:
            raise JobError(f"The {wanted} export did not pass verification; it cannot be deployed.", field="export_format")
    measured = _serving_limits_check(job, served)
    with transaction.atomic():
        job = DistillationJob.objects.select_for_update().get(pk=job.pk)
        if problem := job_deploy_problem(job):
            raise JobError(problem[0], field=problem[1])
        deployed = DeployedModel.objects.filter(job=job).first()
        if deployed is None:
            deployed = DeployedModel(job=job, artifact=artifacts[wanted], serving_artifact=served, measured=measured or {})
            deployed.full_clean()
            deployed.save()
        elif not deployed.is_live:
            deployed.undeployed_at = None
            deployed.serving_artifact = deployed.serving_artifact or served
            deployed.measured = measured or deployed.measured
            deployed.save(update_fields=["undeployed_at", "serving_artifact", "measured"])
        if deployed.serving_artifact_id is not None:
            model_id = str(deployed.model_id)
            transaction.on_commit(lambda: actor_named("serving_warm").send(model_id))
    return deployed


def _serving_limits_check(job: DistillationJob, served: Artifact | None) -> dict | None:
    """The serving path's figures when the request set a latency or memory limit (None when it set
    neither); JobError 409 with the figures when one is missed or the model cannot be served."""
    request = job.request or {}
    max_latency, max_memory = request.get("max_inference_latency"), request.get("max_memory_usage")
    if max_latency is None and max_memory is None:
        return None
    if served is None:
        raise JobError("The request sets max_inference_latency or max_memory_usage, which are measured on the "
                       "served export, and this job has no verified ONNX or TFLite export.", field="export_format")
    from prsm.serving.errors import ServingError
    from prsm.serving.measure import measure

    try:
        measured = measure(Path(settings.MEDIA_ROOT) / served.path)
    except ServingError as error:
        raise JobError(f"The {served.format} export could not be served: {error}", field="export_format") from None
    misses = []
    if max_latency is not None and measured["latency_ms_p95"] > max_latency:
        misses.append(f"p95 latency for one input {measured['latency_ms_p95']:.2f} ms > max_inference_latency {max_latency:g} ms")
    if max_memory is not None and measured["memory_bytes"] > max_memory:
        misses.append(f"resident memory of the loaded model {measured['memory_bytes']:,} bytes > "
                      f"max_memory_usage {max_memory:,} bytes")
    if misses:
        raise JobError("Measured on the serving path: " + "; ".join(misses) + ". The model was not deployed.",
                       code="serving_limits", field="max_inference_latency" if "latency" in misses[0] else "max_memory_usage",
                       extra={"measured": measured})
    return measured



# --- Uploaded teachers and data sets (files: distillation/uploads/)


def _upload_name(name: str, file) -> str:
    chosen = name or Path(getattr(file, "name", "") or "upload").name
    return "".join(ch for ch in chosen if ch.isprintable())[:200] or "upload"


def _flagging(kind: str):
    """Wraps an upload service: a refusal whose pickle scan found forbidden imports (a likely
    attack) is recorded for the moderators, outside the upload's rolled-back transaction."""

    def wrap(create):
        @functools.wraps(create)
        def service(*, owner, **kwargs):
            try:
                return create(owner=owner, **kwargs)
            except UploadError as error:
                if error.imports and error.received is not None:
                    safety_services.flagged_upload_record(
                        user=owner, kind=kind, filename=error.received.original_name, sha256=error.received.sha256,
                        reason=error.message, imports=list(error.imports))
                raise

        return service

    return wrap


def _keep_received(error: BaseException, received) -> None:
    if received is not None and getattr(error, "received", False) is None:
        error.received = received


@_flagging("dataset")
@transaction.atomic
def dataset_upload_create(*, owner, file, name: str = "") -> "Dataset":
    """Store and validate a data file (CSV, JSONL, or an archive of image folders); raises UploadError."""
    dataset = Dataset(owner=owner, name=_upload_name(name, file))
    folder = upload_folder("datasets", dataset.public_id)
    received = None
    try:
        received = receive(file, folder, max_bytes=settings.UPLOAD_MAX_DATASET_BYTES)
        stored = dataset_store(received, folder)
        dataset.format, dataset.path, dataset.task = stored.format, stored.path, stored.task
        dataset.rows, dataset.classes = stored.rows, stored.classes
        dataset.sha256, dataset.size_bytes = received.sha256, received.size
        dataset.status = Dataset.Status.READY
        dataset.full_clean()
        dataset.save()
    except BaseException as error:
        discard(folder)
        _keep_received(error, received)
        raise
    return dataset


@_flagging("teacher")
@transaction.atomic
def teacher_upload_create(*, owner, file, name: str = "", dataset=None) -> "Teacher":
    """Store and check a teacher file (PyTorch weights in a model folder become safetensors); a worker
    then loads and analyses it (``tasks.teacher_analyze``)."""
    if dataset is not None and (dataset.owner_id != owner.pk or dataset.status != dataset.Status.READY):
        raise UploadError("the data set is not one of your ready data sets", field="dataset")
    teacher = Teacher(owner=owner, name=_upload_name(name, file), dataset=dataset)
    folder = upload_folder("teachers", teacher.public_id)
    received = None
    try:
        received = receive(file, folder, max_bytes=settings.UPLOAD_MAX_TEACHER_BYTES)
        stored = teacher_store(received, folder)
        teacher.kind, teacher.path = stored.kind, stored.path
        teacher.sha256, teacher.size_bytes = received.sha256, received.size
        teacher.full_clean()
        teacher.save()
    except BaseException as error:
        discard(folder)
        _keep_received(error, received)
        raise
    transaction.on_commit(lambda: _enqueue_teacher_analysis(teacher.public_id))
    return teacher


def _enqueue_teacher_analysis(public_id) -> None:
    actor_named("teacher_analyze").send(str(public_id))


@transaction.atomic
def teacher_load_result_store(*, teacher, task: str = "", classes: list | None = None, params: int | None = None,
                              reason: str = "") -> "Teacher":
    """Ready when the engine loaded it (task, classes, params), else rejected with ``reason``."""
    teacher = type(teacher).objects.select_for_update().get(pk=teacher.pk)
    if reason:
        teacher.status, teacher.status_reason = teacher.Status.REJECTED, reason[:2000]
    else:
        teacher.status, teacher.status_reason = teacher.Status.READY, ""
        teacher.task, teacher.classes, teacher.params = task or "", list(classes or []), params
    teacher.full_clean()
    teacher.save()
    return teacher


@transaction.atomic
def teacher_analysis_store(*, teacher, analysis: dict | None, error: str = "") -> "Teacher":
    teacher = type(teacher).objects.select_for_update().get(pk=teacher.pk)
    teacher.analysis, teacher.analysis_error, teacher.analyzed_at = analysis, error[:2000], timezone.now()
    teacher.full_clean()
    teacher.save()
    return teacher
