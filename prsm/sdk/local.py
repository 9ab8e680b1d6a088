"""In-process mode: the engine runs in a background thread of this process."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from ..planning import BackendRefused, backend_choose, local_model_source, request_to_config, teacher_kind, teacher_task
from ..request import DistillationRequest
from .inputs import local_inputs
from ..serving.formats import served_format
from .types import DeployedModel, Job, JobStatus, SdkError

EXPORT_PREFERENCE = ("onnx", "safetensors", "huggingface", "pth", "tflite", "keras")


class _LocalJob:
    """The engine's callback for one in-process job, and its state."""

    def __init__(self, job_id: str, request: DistillationRequest, config: dict, out_dir: Path):
        self.job_id, self.request, self.config, self.out_dir = job_id, request, config, out_dir
        self.status, self.progress, self.current_stage, self.error = "queued", 0.0, "queued", ""
        self.report: dict | None = None
        self.events: list[dict] = []
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self._emit("stage", {"stage": "queued"})

    def _emit(self, kind: str, payload: dict) -> None:
        with self.lock:
            self.events.append({"type": kind, "job_id": self.job_id, "seq": len(self.events) + 1,
                                "progress": self.progress, "current_stage": self.current_stage, **payload})

    def on_event(self, event: dict) -> None:
        self.progress = max(self.progress, min(100.0, float(event.get("progress", 0))))
        self.current_stage = event.get("stage") or self.current_stage
        self._emit(event.get("type", "log"), {k: v for k, v in event.items() if k not in ("type", "progress")})

    def should_stop(self) -> bool:
        return self.cancel.is_set()

    def run(self) -> None:
        from ..engine.errors import BadInput, Cancelled
        from ..engine.pipeline import run_distillation

        self.status = "running"
        try:
            self.report = run_distillation(self.config, self.out_dir, callback=self)
        except Cancelled:
            self._finish("cancelled")
        except BadInput as exc:
            self._finish("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the caller through get_status
            self._finish("failed", f"{type(exc).__name__}: {exc}")
        else:
            self.progress = 100.0
            self._finish("completed")

    def _finish(self, status: str, error: str = "") -> None:
        self.status, self.current_stage, self.error = status, status, error
        self._emit(status, {"stage": status, "message": error or status})

    def snapshot(self) -> JobStatus:
        return JobStatus(self.job_id, self.status, round(self.progress, 2), self.current_stage, self.error, self.report)


class LocalBackend:
    def __init__(self, work_dir: str | Path | None = None):
        home = Path(os.environ.get("PRSM_HOME", Path.home() / ".cache" / "prsm"))
        self.work_dir = Path(work_dir) if work_dir else home / "jobs"
        self.jobs: dict[str, _LocalJob] = {}
        self.models: dict[str, DeployedModel] = {}

    def create(self, request: DistillationRequest) -> Job:
        from ..engine.catalog import default_data

        if request.marketplace_listing:
            raise SdkError("marketplace_listing: the marketplace is a PRSM server's; give base_url or PRSM_URL",
                           field="marketplace_listing")
        source = None
        teacher = request.teacher
        if request.update_kind is not None:  # the model it starts from: a catalog teacher or a finished run's folder
            from ..engine.errors import BadInput

            field = "base_model" if request.update_kind == "incremental" else "source_model"
            try:
                source = local_model_source(getattr(request, field))
            except BadInput as error:
                raise SdkError(f"{field}: {error}", field=field) from None
            if teacher == getattr(request, field):
                teacher = source.model
        dataset = request.dataset or (default_data(teacher) if teacher.startswith("catalog:") else None)
        if dataset is None:
            raise SdkError("dataset: required for a teacher outside the catalog", field="dataset")
        kind = teacher_kind(teacher)
        try:
            backend, reason = backend_choose(domain=request.domain, teacher_kind=kind, task=teacher_task(teacher),
                                             target_hardware=request.target_hardware, exports=request.export_formats,
                                             requested=request.backend)
        except BackendRefused as refused:
            raise SdkError(f"{refused.field}: {refused}", field=refused.field) from None
        from ..engine.backends import strategy_refused

        if refused := strategy_refused(backend, request.strategies, teacher_task(teacher)):
            field = request.strategy_field(refused[0])
            raise SdkError(f"{field}: {refused[1]}", field=field)
        try:
            config = request_to_config(request, teacher=teacher, dataset=dataset, backend=backend, epochs=request.epochs,
                                       source=source)
        except BackendRefused as refused:
            raise SdkError(f"{refused.field}: {refused}", field=refused.field) from None
        job_id = str(uuid.uuid4())
        job = _LocalJob(job_id, request, config, self.work_dir / job_id)
        self.jobs[job_id] = job
        threading.Thread(target=job.run, name=f"prsm-job-{job_id[:8]}", daemon=True).start()
        return Job(job_id=job_id, backend=backend, backend_reason=reason)

    def _job(self, job_id: str) -> _LocalJob:
        if job_id not in self.jobs:
            raise SdkError(f"no job {job_id} in this process", status=404, code="not_found")
        return self.jobs[job_id]

    def status(self, job_id: str) -> JobStatus:
        return self._job(job_id).snapshot()

    def cancel(self, job_id: str) -> JobStatus:
        self._job(job_id).cancel.set()
        return self.status(job_id)

    def events_since(self, job_id: str, since: int) -> list[dict]:
        job = self._job(job_id)
        with job.lock:
            return [event for event in job.events if event["seq"] > since]

    def deploy(self, job_id: str, export_format: str | None) -> DeployedModel:
        job = self._job(job_id)
        exports, chosen = _deployable(job, export_format)
        served_name = serving_export(job.report, job.request.optimization_target, job.request.target_hardware)
        served_path = str(job.out_dir / exports[served_name]["path"]) if served_name else ""
        limited = job.request.max_inference_latency is not None or job.request.max_memory_usage is not None
        if limited and not served_name:
            raise SdkError("max_inference_latency and max_memory_usage are measured on the served export, and "
                           "this job has no verified ONNX or TFLite export", status=409, field="export_format")
        measured = _check_limits(served_path, job.request) if limited else {}
        model = DeployedModel(model_id=str(uuid.uuid4()), export_format=chosen, job_id=job_id,
                              location=str(job.out_dir / exports[chosen]["path"]), served_format=served_name or "",
                              served_location=served_path, measured=measured)
        model._predict = local_predictor(_load(served_path)) if served_name else _not_servable(sorted(exports))
        self.models[model.model_id] = model
        (job.out_dir / "deployment.json").write_text(json.dumps(model.as_dict(), indent=2))
        return model

    def model(self, model_id: str) -> DeployedModel:
        if model_id not in self.models:
            raise SdkError(f"no deployed model {model_id} in this process", status=404, code="not_found")
        return self.models[model_id]

    def undeploy(self, model_id: str) -> None:
        self.model(model_id)._predict = _undeployed
        del self.models[model_id]


def _deployable(job: _LocalJob, export_format: str | None) -> tuple[dict, str]:
    """(the verified exports, the one to download), or a 409 saying why the job cannot be deployed."""
    if job.status != "completed":
        raise SdkError(f"only a completed job can be deployed; this one is {job.status}", status=409)
    retention, threshold = job.report.get("retention", 0), job.request.quality_threshold
    if retention < threshold:
        raise SdkError(f"retention {retention:.3f} is under quality_threshold {threshold}", status=409,
                       field="quality_threshold")
    failed = sorted(name for name, check in job.report.get("checks", {}).items()
                    if check.get("phase") and not check.get("passed"))
    if failed:  # the server holds such a model for a moderator; here nobody can approve it
        raise SdkError(f"the student failed its safety checks ({', '.join(failed)}); see report['checks']",
                       status=409, code="circuit_breaker_tripped")
    exports = {name: info for name, info in job.report.get("exports", {}).items() if info.get("verified")}
    chosen = export_format or next((name for name in EXPORT_PREFERENCE if name in exports), None)
    if chosen not in exports:
        raise SdkError(f"no verified {chosen!r} export; verified: {', '.join(sorted(exports)) or 'none'}", status=409)
    return exports, chosen


def serving_export(report: dict, optimization_target: str | None = None, hardware: list[str] | None = None) -> str | None:
    """The export that answers predictions, as a server picks it (``prsm.serving.formats``); None without one."""
    verified = {name for name, info in report.get("exports", {}).items() if info.get("verified")}
    config = report.get("config", {})
    return served_format(verified, optimization_target or config.get("optimization_target"),
                         hardware if hardware is not None else config.get("target_hardware"))


def _load(onnx_path: str):
    """The served model, loaded once and kept for this deployment's predictions."""
    from ..serving.errors import ServingError
    from ..serving.model import ServedModel

    try:
        return ServedModel.load(onnx_path)
    except ServingError as exc:
        raise SdkError(f"the export cannot be served: {exc}", status=409, code="not_servable") from None


def local_predictor(served) -> Callable[[list], list[dict]]:
    """``predict`` on a loaded ``ServedModel``; inputs it refuses are a 400 naming the input."""
    from ..serving.errors import InputError

    def predict(inputs: list) -> list[dict]:
        try:
            return served.predict(local_inputs(inputs))
        except InputError as exc:
            raise SdkError(str(exc), status=400, code="invalid", field="inputs") from None

    return predict


def _undeployed(inputs: list) -> list[dict]:
    raise SdkError("this model was undeployed; deploy its job again to predict", status=409, code="undeployed")


def _not_servable(verified: list[str]) -> Callable[[list], list[dict]]:
    def predict(inputs: list) -> list[dict]:
        raise SdkError(f"no verified ONNX or TFLite export to serve (verified: {', '.join(verified) or 'none'}); "
                       "distil with export_formats including 'onnx' (or 'tflite' on the tensorflow backend)",
                       status=409, code="not_servable")

    return predict


def _check_limits(onnx_path: str, request: DistillationRequest) -> dict:
    """The serving path's figures (``prsm.serving.measure``, in a child process); a 409 naming them
    when one of the request's limits is missed, as a server's deploy answers."""
    from ..serving.errors import ServingError
    from ..serving.measure import measure

    try:
        measured = measure(onnx_path)
    except ServingError as exc:
        raise SdkError(f"the export cannot be served: {exc}", status=409, code="not_servable") from None
    misses = []
    if request.max_inference_latency is not None and measured["latency_ms_p95"] > request.max_inference_latency:
        misses.append(f"p95 latency for one input {measured['latency_ms_p95']:.2f} ms > max_inference_latency "
                      f"{request.max_inference_latency:g} ms")
    if request.max_memory_usage is not None and measured["memory_bytes"] > request.max_memory_usage:
        misses.append(f"resident memory of the loaded model {measured['memory_bytes']:,} bytes > max_memory_usage "
                      f"{request.max_memory_usage:,} bytes")
    if misses:
        raise SdkError("measured on the serving path: " + "; ".join(misses) + "; the model was not deployed",
                       status=409, code="serving_limits",
                       field="max_inference_latency" if "latency" in misses[0] else "max_memory_usage")
    return measured
