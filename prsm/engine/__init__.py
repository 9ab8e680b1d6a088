"""The distillation engine: data, teachers, students, training, evaluation, export, checks.

Django-free: the web platform reaches it only through ``prsm.engine.pipeline``.
"""
