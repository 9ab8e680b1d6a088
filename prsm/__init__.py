"""PRSM Distill: the Django-free library (engine, SDK, CLI)."""
__version__ = "0.1.0"
