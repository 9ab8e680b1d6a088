"""The Python SDK: ``DistillationOrchestrator``, in-process or against a PRSM server."""

from .orchestrator import DistillationOrchestrator
from .types import DeployedModel, Job, JobStatus, SdkError

__all__ = ["DeployedModel", "DistillationOrchestrator", "Job", "JobStatus", "SdkError"]
