"""The public Python API: ``from prsm.distillation import DistillationOrchestrator, DistillationRequest``."""

from .request import DistillationRequest, request_errors
from .sdk import DeployedModel, DistillationOrchestrator, Job, JobStatus, SdkError

__all__ = ["DeployedModel", "DistillationOrchestrator", "DistillationRequest", "Job", "JobStatus", "SdkError",
           "request_errors"]
