from __future__ import annotations

from dataclasses import dataclass, field

FINISHED = ("completed", "failed", "cancelled")


class SdkError(RuntimeError):
    """A request the orchestrator refused; ``field`` names the request field when there is one."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.field = status, code, field


@dataclass
class Job:
    job_id: str
    backend: str
    backend_reason: str = ""
    status: str = "queued"
    estimate: dict = field(default_factory=dict)


@dataclass
class JobStatus:
    job_id: str
    status: str
    progress: float
    current_stage: str
    error: str = ""
    report: dict | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass
class DeployedModel:
    model_id: str
    export_format: str
    job_id: str
    location: str = ""  # a local path in-process, a download URL remotely
