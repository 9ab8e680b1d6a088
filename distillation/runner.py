"""Runs one leased job through the engine: the callback that stores and streams its events, a
lease kept alive beside the run, and the ending that matches what happened."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connection
from django.utils import timezone
from pydantic import ValidationError

from prsm.engine.config import DistillConfig
from prsm.engine.errors import BadInput, Cancelled
from prsm.engine.teachers.http import teacher_secrets

from . import selectors, services
from .http_teachers import run_secrets
from .models import DistillationJob

log = logging.getLogger("prsm.jobs")

RENEW_EVERY_S = 2.0  # also how soon a cancel is seen: well under the promised 5 seconds
# A few messages a second at most. Metric events are not thinned: the engine sends one an epoch (and
# the teacher's and student's accuracy once each), and a dropped one is a point missing from the chart.
MIN_INTERVAL_S = {"progress": 0.25, "log": 0.25}


class JobRunner:
    """The engine's callback for one job held by this worker under ``token``."""

    def __init__(self, job: DistillationJob, token: int) -> None:
        self.job, self.token = job, token
        self.stop_reason: str | None = None  # "cancel" or "lost"
        self._last_sent: dict[str, float] = {}
        self._done = threading.Event()
        self._started = time.monotonic()
        self._progress = float(job.progress)

    # --- the engine's callback

    def on_event(self, event: dict) -> None:
        kind = event.get("type", "log")
        now = time.monotonic()
        if kind in MIN_INTERVAL_S and now - self._last_sent.get(kind, 0) < MIN_INTERVAL_S[kind]:
            return
        self._last_sent[kind] = now
        # Logs and metrics carry their stage's starting point; the job's progress never goes back.
        self._progress = max(self._progress, min(100.0, float(event.get("progress", 0))))
        fields = {"progress": round(self._progress, 2)}
        if event.get("stage"):
            fields["current_stage"] = event["stage"]
        payload = {k: v for k, v in event.items() if k not in ("type", "progress")}
        if services.job_event_append(job=self.job, type=kind, payload=payload, token=self.token, fields=fields) is None:
            self.stop_reason = self.stop_reason or "lost"

    def should_stop(self) -> bool:
        return self.stop_reason is not None

    # --- the lease, renewed beside the run

    def _keep_lease(self) -> None:
        try:
            while not self._done.wait(RENEW_EVERY_S):
                if not services.job_lease_renew(job=self.job, token=self.token):
                    cancelled = DistillationJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
                    self.stop_reason = "cancel" if cancelled else "lost"
                    return
        finally:
            connection.close()

    # --- the run

    def run(self) -> None:
        from prsm.engine.pipeline import run_distillation

        keeper = threading.Thread(target=self._keep_lease, name=f"lease-{self.job.job_id}", daemon=True)
        keeper.start()
        try:
            config = self._config()
            # a teacher over HTTP: its key in memory for this run only (never in engine_config or the report)
            with teacher_secrets(**run_secrets(config=self.job.engine_config, owner=self.job.owner)):
                report = run_distillation(config, selectors.job_out_dir(self.job), callback=self)
        except Cancelled:
            self._end_stopped()
        except BadInput as exc:
            services.job_fail(job=self.job, token=self.token, message=str(exc), platform_fault=False, used_seconds=self.used)
        except Exception as exc:  # noqa: BLE001 - any other failure is the platform's: refund, and say so
            log.exception("job %s failed", self.job.job_id)
            services.job_fail(job=self.job, token=self.token, platform_fault=True, used_seconds=self.used,
                              message=f"The run failed inside the platform ({type(exc).__name__}: {exc}). Your budget was refunded.")
        else:
            close_old_connections()
            services.job_complete(job=self.job, token=self.token, report=report)
        finally:
            self._done.set()
            keeper.join(timeout=RENEW_EVERY_S * 2)

    def _config(self) -> DistillConfig:
        """The job's config as the engine takes it; one it refuses is the request's fault, so the user's."""
        try:
            return DistillConfig.model_validate(self.job.engine_config)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise BadInput(f"{field}: {first['msg'].removeprefix('Value error, ')}") from None

    @property
    def used(self) -> float:
        return time.monotonic() - self._started

    def _end_stopped(self) -> None:
        if self.stop_reason == "cancel" or DistillationJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            services.job_cancelled(job=self.job, token=self.token, used_seconds=self.used)
        else:
            log.warning("job %s: another worker took the lease; this run stops", self.job.job_id)

    def release(self) -> None:
        """Give the lease up at once (this worker is shutting down); a redelivery resumes the job."""
        DistillationJob.objects.filter(pk=self.job.pk, lease_token=self.token).update(lease_expires_at=timezone.now())
