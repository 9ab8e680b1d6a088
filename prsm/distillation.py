"""The public Python API: ``from prsm.distillation import DistillationOrchestrator, DistillationRequest``."""

from .request import DistillationRequest, request_errors

__all__ = ["DistillationRequest", "request_errors"]
