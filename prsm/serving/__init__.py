"""Serving distilled models: ONNX Runtime sessions with the export's own preprocessing
(``model``), dynamic batching (``batching``), a pool of worker processes on Unix sockets
(``pool``), its client (``client``) and the deploy-time measurement (``measure``).

Django-free like the rest of ``prsm``; importing this package loads nothing heavy.
"""

from .errors import InputError, ModelUnavailable, ServingBusy, ServingError, ServingUnavailable

__all__ = ["InputError", "ModelUnavailable", "ServingBusy", "ServingError", "ServingUnavailable"]
