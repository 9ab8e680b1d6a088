"""The one clock that rental expiry and bonus periods read.

In production it is ``timezone.now()``. Under the test settings (``PRSM_TEST_CLOCK``) it adds an offset
kept in Redis under the run's namespace, so a test can move time forward for itself and for the server
and worker processes it started, instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .workers import redis_client


def _offset_key() -> str:
    return f"{settings.PRSM_NAMESPACE}:test-clock-offset-s"


def now() -> datetime:
    if not getattr(settings, "PRSM_TEST_CLOCK", False):
        return timezone.now()
    offset = redis_client().get(_offset_key())
    return timezone.now() + timedelta(seconds=float(offset or 0))


def clock_advance(*, seconds: float) -> None:
    """Move the test clock forward (tests only: refused unless the test settings turned the clock on)."""
    if not getattr(settings, "PRSM_TEST_CLOCK", False):
        raise RuntimeError("the clock moves only under the test settings")
    redis_client().incrbyfloat(_offset_key(), seconds)


def clock_reset() -> None:
    if getattr(settings, "PRSM_TEST_CLOCK", False):
        redis_client().delete(_offset_key())
