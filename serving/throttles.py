"""Per-token rate limit of prediction calls: at most PREDICT_RATE_PER_MINUTE calls a minute for each API
token (a named token; a DRF token or a browser session counts per user), counted in the cache (Redis in
production) so every web process shares one count. Past it the call gets 429 with ``Retry-After``.

The count is a fixed window per clock minute (``add`` then ``incr``, both atomic in Redis), so concurrent
calls cannot overshoot; a client may fit up to twice the rate across the turn of a minute, which a
per-minute limit tolerates. The serving pool's own in-flight limit per model (``ServingBusy``) is separate.
"""

import logging
import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiToken

WINDOW_S = 60


_shared: tuple | None = None


def shared_cache():
    """One cache client for the process. ``django.core.cache.cache`` is one object per request context,
    and under ASGI each one opens its own Redis connection: on the predict path that was a new
    connection per call (about a quarter of the web server's time in bench/serving.py). A change of
    settings (a test's override) makes a new one."""
    global _shared
    config = settings.CACHES["default"]
    marker = (config["BACKEND"], str(config.get("LOCATION")), config.get("KEY_PREFIX"))
    if _shared is None or _shared[0] != marker:
        _shared = (marker, caches.create_connection("default"))
    return _shared[1]


def _now() -> float:
    return time.time()


GRANTS_GENERATION_KEY = "serving:grants-generation"


def grants_changed() -> None:
    """Tell every web process's lean predict path to decide its kept grants again (serving/fast_path.py):
    a token, a user, a deployment, a listing or a purchase changed, or a wallet went into arrears."""
    cache = shared_cache()
    try:
        if not cache.add(GRANTS_GENERATION_KEY, 1, timeout=None):
            cache.incr(GRANTS_GENERATION_KEY)
    except ValueError:  # gone between the add and the incr
        cache.add(GRANTS_GENERATION_KEY, 1, timeout=None)
    except Exception:  # noqa: BLE001 - a cache that is down: kept grants still end after PREDICT_GRANT_CACHE_S
        logging.getLogger("prsm.serving").warning("could not bump the predict grants' generation", exc_info=True)


def grants_generation() -> int:
    return int(shared_cache().get(GRANTS_GENERATION_KEY) or 0)


def rate_key(caller_key: str, window: int) -> str:
    """The cache key of one caller's count in one window (the view's throttle and the lean path share it)."""
    return f"predict-rate:{caller_key}:{window}"


def predict_caller_key(request) -> str:
    """Whose calls one limit counts: the named token, else the user, else the client address."""
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    if request.user is not None and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{BaseThrottle().get_ident(request)}"


def window_count(cache, key: str) -> int:
    """This call's number in the window. On Redis one round trip (INCR and EXPIRE in a pipeline, atomic per
    key); on another cache (tests' local memory) add, then incr."""
    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is not None:
        redis = client(key, write=True)
        full_key = cache.make_and_validate_key(key)
        count, _ = redis.pipeline().incr(full_key).expire(full_key, WINDOW_S * 2).execute()
        return int(count)
    if cache.add(key, 1, timeout=WINDOW_S * 2):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between the add and the incr
        cache.set(key, 1, timeout=WINDOW_S * 2)
        return 1


class PredictRateThrottle(BaseThrottle):
    """DRF throttle for the predict route (``throttle_classes = [PredictRateThrottle]``); DRF answers a
    refusal with ``Throttled`` (429 and ``Retry-After``). A rate of 0 turns the limit off."""

    def __init__(self):
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        rate = settings.PREDICT_RATE_PER_MINUTE
        if rate <= 0:
            return True
        now = _now()
        window = int(now // WINDOW_S)
        key = rate_key(predict_caller_key(request), window)
        count = window_count(shared_cache(), key)
        if count <= rate:
            return True
        self._wait = max(1.0, (window + 1) * WINDOW_S - now)
        return False

    def wait(self) -> float | None:
        return self._wait
