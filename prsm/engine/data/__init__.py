from .types import TaskData

__all__ = ["TaskData"]
