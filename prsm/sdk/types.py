from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

FINISHED = ("completed", "failed", "cancelled")


class SdkError(RuntimeError):
    """A request the orchestrator refused; ``field`` names the request field when there is one,
    ``retry_after`` (seconds) comes with a 429."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None, field: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status, self.code, self.field, self.retry_after = status, code, field, retry_after


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
    """A deployed student. ``export_format`` is the download; ``served_format`` the ONNX export
    that answers ``predict`` ("onnx", or "onnx-int8" when it verified and the request asked for speed)."""

    model_id: str
    export_format: str
    job_id: str
    location: str = ""  # a local path in-process, a download URL remotely
    served_format: str = ""
    served_location: str = ""  # in-process: the ONNX file predict loads
    version: str = ""  # the served model's version, as the server's last answer named it
    measured: dict = field(default_factory=dict)  # latency_ms_p50/p95, memory_bytes when deploy measured them
    _predict: Callable[[list], list[dict]] | None = field(default=None, repr=False, compare=False)

    async def predict(self, inputs: list) -> list[dict]:
        """One ``{"label", "probabilities"}`` per input: a str for a text model, a list of numbers or a
        dict keyed by column for a tabular one, bytes or a ``pathlib.Path`` for an image model."""
        if self._predict is None:
            raise SdkError("this model has no way to predict: get it from an orchestrator's deploy_model or model",
                           status=409, code="not_servable")
        return await asyncio.to_thread(self._predict, check_inputs(inputs))

    def as_dict(self) -> dict:
        return {"model_id": self.model_id, "export_format": self.export_format, "job_id": self.job_id,
                "location": self.location, "served_format": self.served_format,
                "served_location": self.served_location, "measured": self.measured}


def check_inputs(inputs) -> list:
    """The inputs as a list, or a 400 naming the mistake (a lone text would otherwise be read letter by letter)."""
    if isinstance(inputs, (str, bytes, dict)) or not isinstance(inputs, (list, tuple)):
        raise SdkError(f"inputs: give a list of inputs, e.g. [\"a great film\"], not a {type(inputs).__name__}",
                       status=400, code="invalid", field="inputs")
    if not inputs:
        raise SdkError("inputs: give at least one input", status=400, code="invalid", field="inputs")
    return list(inputs)
