"""The predict route's lean path under ASGI: ``POST /api/v1/models/{model_id}/predict/`` with an API token
and a JSON body, answered without building a Django request (``prsm_site/asgi.py`` routes it here; a
multipart upload or a browser session goes to the Django view, ``endpoint.py``).

Through Django's ASGI handler, DRF and three queries, a call cost about 13 ms of the web server's CPU
before the model ran; here the API adds about 3 ms to the plain model call, 2 of them over the pool's own
(bench/serving.py, docs/BENCHMARKS.md).
What changes is when the checks run, not which:

- **Grants.** Whether a token may call a model is decided by the platform's own code (DRF's token
  authentication, ``TokenScope``, ``deployment_or_404``, ``services.predict_grant``: access, the served
  export, price, arrears) in a worker thread, and the answer, a refusal included, is kept in the process
  for ``PREDICT_GRANT_CACHE_S`` seconds (an LRU of ``GRANTS_KEPT``). A change made through the platform
  (a token revoked, a model undeployed, a listing suspended or bought, a wallet in arrears) bumps a
  generation number in the cache (``throttles.grants_changed``, from signals in ``apps.py``); every call reads it
  in the same Redis round trip as its rate count, and a grant older than the generation is decided again
  at once. A renter's grant ends with the rent; a change made around the services (``QuerySet.update``)
  is seen within ``PREDICT_GRANT_CACHE_S``.
- **The rate** (``PREDICT_RATE_PER_MINUTE``) is the same count as ``throttles.PredictRateThrottle``'s (the
  same keys), in one round trip with the generation, on an asyncio Redis client.
- **The inputs** pass ``api.PredictInput`` and ``services.predict_inputs`` as in the view; the refusals are
  ``core.api_errors``' bodies, statuses and headers.
- **Metering.** The ``Prediction`` row is written after the answer is sent, with the rows of the calls
  answered in the next 20 ms, in one ``bulk_create`` (``Meter``), so a busy server does not pay a
  thread hop and a transaction per call. The call's coroutine waits for its row, so a server that stops gracefully loses none; a crash can lose the rows of the calls of
  the last few milliseconds, which are then not billed (never billed twice).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import Http404
from django.http.request import split_domain_port, validate_host
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from accounts.auth import ApiTokenAuthentication
from accounts.permissions import TokenScope
from accounts.services import api_key_hash
from core import clock
from core.api_errors import REFUSALS, RequestTooLarge, api_exception_handler
from marketplace.selectors import purchase_current
from prsm.serving import errors as pool_errors
from prsm.serving.aio import AsyncServingClient

from . import selectors, services, throttles
from .api import PredictApi, PredictInput, deployment_or_404
from .errors import ModelBusy
from .models import Prediction

log = logging.getLogger("prsm.request")

GRANTS_KEPT = 10_000
REDIS_CONNECTIONS = 16  # per web process: calls share them, one round trip each


def _monotonic() -> float:
    return time.monotonic()


@dataclass(frozen=True)
class Grant:
    """What one token may do with one model, as decided at ``generation``: a call without inputs, or a
    refusal."""

    call: services.PredictCall | None
    refusal: Exception | None
    caller_key: str
    username: str
    generation: int
    expires: float  # time.monotonic()
    ends_at: datetime | None = None  # a renter's grant ends with the rent (core.clock's time)

    def stale(self, generation: int) -> bool:
        return (self.expires < _monotonic() or self.generation < generation
                or (self.ends_at is not None and clock.now() >= self.ends_at))


def grant_decide(key: str, model_id: str) -> Grant:
    """The platform's checks for ``Authorization: Token <key>`` on ``model_id``, in a worker thread."""
    close_old_connections()  # a worker thread's connection obeys CONN_MAX_AGE as a request's does
    generation = throttles.grants_generation()  # read first: a change made while deciding is seen by the next call
    expires = _monotonic() + settings.PREDICT_GRANT_CACHE_S
    try:
        user, token = ApiTokenAuthentication().authenticate_credentials(key)
        request = SimpleNamespace(user=user, auth=token, method="POST")
        TokenScope().has_permission(request, PredictApi)
        deployment = deployment_or_404(request, model_id, light=True)
        call = services.predict_grant(user=user, deployment=deployment, token=token)
    except (*REFUSALS, Http404) as error:  # kept like a grant; anything else (a database down) is not
        return Grant(None, error, "", "-", generation, expires)
    caller = f"token:{call.token.pk}" if call.token is not None else f"user:{user.pk}"  # as predict_caller_key
    ends_at = None
    if call.access == "renter":
        purchase = purchase_current(listing=selectors.deployment_listing(call.deployment), user=user)
        ends_at = purchase.expires_at if purchase is not None else clock.now()
    return Grant(call, None, caller, user.get_username(), generation, expires, ends_at)


class Grants:
    """The process's kept grants, by (key, model id), least recently used dropped past ``GRANTS_KEPT``."""

    def __init__(self) -> None:
        self.kept: OrderedDict[tuple[str, str], Grant] = OrderedDict()

    async def get(self, key: str, model_id: str, *, newer_than: int = -1) -> Grant:
        name = (api_key_hash(key), model_id)
        grant = self.kept.get(name)
        if grant is None or grant.stale(newer_than):
            grant = await sync_to_async(grant_decide, thread_sensitive=False)(key, model_id)
            self.kept[name] = grant
            while len(self.kept) > GRANTS_KEPT:
                self.kept.popitem(last=False)
        self.kept.move_to_end(name)
        return grant


class Meter:
    """Writes answered calls' ``Prediction`` rows in batches: a writer task waits ``linger_s`` after the
    first row for more, writes them in one ``bulk_create``, and goes on while rows keep coming. A caller
    waits for its row; one that goes away (cancelled) still has it written."""

    def __init__(self, linger_s: float = 0.02) -> None:
        self.linger_s = linger_s
        self.waiting: list[tuple[Prediction, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def write(self, row: Prediction) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.waiting.append((row, done))
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self.waiting:
            await asyncio.sleep(self.linger_s)  # one write for the calls of the next few milliseconds
            batch, self.waiting = self.waiting, []
            try:
                await sync_to_async(_rows_write, thread_sensitive=False)([row for row, _ in batch])
                error = None
            except Exception as failed:  # noqa: BLE001 - every waiting call hears of it
                error = failed
            for _, future in batch:
                if future.done():  # its caller went away
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)


def _rows_write(rows: list[Prediction]) -> None:
    close_old_connections()
    Prediction.objects.bulk_create(rows)


class RateCounter:
    """The per-token count of ``throttles`` and the grants' generation, in one Redis round trip (an
    asyncio client per event loop); on a cache that is not Redis (tests), the throttle's own counting."""

    def __init__(self) -> None:
        self.clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> (location, client)

    async def count(self, caller_key: str, window: int) -> tuple[int, int]:
        """(this call's number in the window, the grants' generation)."""
        cache, key = throttles.shared_cache(), throttles.rate_key(caller_key, window)
        client = self._redis()
        if client is None:
            return throttles.window_count(cache, key), throttles.grants_generation()
        full_key = cache.make_and_validate_key(key)
        async with client.pipeline(transaction=False) as pipe:
            pipe.incr(full_key).expire(full_key, throttles.WINDOW_S * 2)
            count, _, generation = await pipe.get(cache.make_and_validate_key(throttles.GRANTS_GENERATION_KEY)).execute()
        return int(count), int(generation or 0)

    async def generation(self) -> int:
        client = self._redis()
        if client is None:
            return throttles.grants_generation()
        return int(await client.get(throttles.shared_cache().make_and_validate_key(throttles.GRANTS_GENERATION_KEY)) or 0)

    def _redis(self):
        config = settings.CACHES["default"]
        if "redis" not in config["BACKEND"].lower():
            return None
        location = config["LOCATION"] if isinstance(config["LOCATION"], str) else config["LOCATION"][0]
        loop = asyncio.get_running_loop()
        kept = self.clients.get(loop)
        if kept is None or kept[0] != location:
            import redis.asyncio as aioredis

            # a bounded pool that waits for a free connection (the default one refuses past its size)
            pool = aioredis.BlockingConnectionPool.from_url(location, max_connections=REDIS_CONNECTIONS, timeout=10)
            kept = (location, aioredis.Redis(connection_pool=pool))
            self.clients[loop] = kept
        return kept[1]


grants, meter, rates = Grants(), Meter(), RateCounter()


def handles(scope) -> bool:
    """Whether the lean path takes this call: an API token and a JSON body (else the Django view does)."""
    headers = dict(scope.get("headers") or ())
    return (headers.get(b"authorization", b"").startswith(b"Token ")
            and headers.get(b"content-type", b"application/json").split(b";")[0].strip() == b"application/json")


async def predict_app(scope, receive, send) -> None:
    """ASGI: the predict call (``handles(scope)`` said yes)."""
    started = time.perf_counter()
    model_id = scope["path"].rstrip("/").split("/")[-2]
    username, status = "-", 500
    try:
        status, body, headers, row, username = await _answer(scope, receive, model_id)
    except Exception:  # noqa: BLE001 - never a traceback to the caller; logged as the exception handler would
        logging.getLogger("prsm.errors").exception("Unhandled error on the predict path")
        status, body, headers, row = 500, json.dumps({"error": {"code": "server_error", "message": "Internal server error."}}).encode(), [], None
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"), *headers]})
    await send({"type": "http.response.body", "body": body})
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    log.log(logging.INFO if status < 500 else logging.ERROR, "%s %s %s %sms user=%s", "POST", scope["path"], status,
            duration_ms, username, extra={"method": "POST", "path": scope["path"], "status": status,
                                          "duration_ms": duration_ms, "user": username})
    if row is not None:
        try:
            await meter.write(row)
        except Exception:  # noqa: BLE001 - the answer is sent; the call goes unbilled, and the log says so
            logging.getLogger("prsm.errors").exception("A prediction's metering row could not be written")


async def _answer(scope, receive, model_id: str):
    """(status, body, extra headers, the metering row or None, the caller's name)."""
    username = "-"
    try:
        headers = dict(scope.get("headers") or ())
        host = headers.get(b"host", b"").decode("latin-1")
        allowed = settings.ALLOWED_HOSTS or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])  # as Django
        if not validate_host(split_domain_port(host)[0], allowed):
            raise exceptions.ParseError(f"Invalid HTTP_HOST header: {host!r}.")
        raw = await _body(receive, headers)
        key = headers[b"authorization"].decode("latin-1")[len("Token "):].strip()
        grant = await grants.get(key, model_id)
        if grant.refusal is not None:  # a kept refusal stands unless something changed since
            grant = await grants.get(key, model_id, newer_than=await rates.generation())
            if grant.refusal is not None:
                raise grant.refusal
        username = grant.username
        if settings.PREDICT_RATE_PER_MINUTE > 0 or settings.PREDICT_GRANT_CACHE_S > 0:
            now = throttles._now()
            window = int(now // throttles.WINDOW_S)
            count, generation = await rates.count(grant.caller_key, window)
            if generation > grant.generation:  # something changed since the grant was decided
                grant = await grants.get(key, model_id, newer_than=generation)
                if grant.refusal is not None:
                    raise grant.refusal
            if 0 < settings.PREDICT_RATE_PER_MINUTE < count:
                raise exceptions.Throttled(wait=max(1.0, (window + 1) * throttles.WINDOW_S - now))
        call = services.predict_with_inputs(grant.call, _inputs(raw))
        try:
            outputs = await AsyncServingClient(settings.SERVING_SOCKET_DIR, timeout_s=settings.SERVING_TIMEOUT_S).predict_async(
                call.key, call.path, call.inputs, version=call.version)
        except pool_errors.ServingError as error:
            raise services.pool_refusal(error) from None
        body = json.dumps(services.predict_body(call, outputs), separators=(",", ":")).encode()
        return 200, body, [], services.prediction_row(call), username
    except Exception as error:  # noqa: BLE001 - the refusals, as the API answers them elsewhere
        return (*refusal(error), None, username)


async def _body(receive, headers) -> bytes:
    limit = settings.PREDICT_MAX_BODY_BYTES
    too_large = RequestTooLarge(f"The body is over {limit:,} bytes; a prediction call takes at most {limit:,} "
                                "(send fewer inputs per call).")
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"The body is {int(declared):,} bytes; a prediction call takes at most {limit:,} "
                              "(send fewer inputs per call).")
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise exceptions.ParseError("The client went away before sending the whole body.")
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise too_large
        parts.append(part)
        if not message.get("more_body"):
            return b"".join(parts)


def _inputs(raw: bytes) -> list:
    try:
        data = json.loads(raw)
    except ValueError as error:  # as DRF's JSONParser words it
        raise exceptions.ParseError(f"JSON parse error - {error}") from None
    serializer = PredictInput(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["inputs"]


def refusal(error: Exception) -> tuple[int, bytes, list]:
    """(status, body, headers) for a refusal, from the API's exception handler; 401 names the scheme and a
    429 says when to come back, as DRF's views do."""
    if isinstance(error, ModelBusy):
        error = exceptions.Throttled(wait=error.retry_after, detail=error.message)
    if isinstance(error, Http404):
        error = exceptions.NotFound(str(error) or "Not found.")
    response = api_exception_handler(error, {})
    headers = [(name.lower().encode(), value.encode()) for name, value in response.items() if name.lower() == "retry-after"]
    if response.status_code == 401:
        headers.append((b"www-authenticate", b'Token'))
    return response.status_code, JSONRenderer().render(response.data), headers
