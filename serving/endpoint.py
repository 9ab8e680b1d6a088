"""``POST /api/v1/models/{model_id}/predict/`` as an async view, so that concurrent calls wait on the pool
together (and batch there) instead of taking turns in the web server's one thread for sync views.

The checks are DRF's and the services' own, run in a worker thread (``predict_prepare``: authentication,
the token's scope, the per-token rate, the body, access, price); the model runs in the serving pool, reached
with the asyncio client; the call is metered in a worker thread (``predict_record``). ``api.PredictApi``
describes the route in the schema and holds the DRF settings used here."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from core.api_errors import RequestTooLarge
from core.errors import DomainError
from prsm.serving import errors as pool_errors
from prsm.serving.aio import AsyncServingClient

from . import services
from .api import PredictApi, PredictImagesApi, deployment_or_404
from .errors import ModelBusy


def predict_endpoint_for(view_class: type[PredictApi]):
    """The async view of a predict route described (in the schema) and checked by ``view_class``."""

    @csrf_exempt  # as DRF's views: session callers are held to CSRF by SessionAuthentication
    async def endpoint(request, model_id):
        return await _predict(view_class(), request, model_id)

    endpoint.cls, endpoint.initkwargs = view_class, {}  # what drf-spectacular reads to document the route
    return endpoint


async def _predict(view: PredictApi, request, model_id):
    view.args, view.kwargs, view.headers, view.format_kwarg = (), {"model_id": model_id}, {}, None
    drf_request = view.initialize_request(request, model_id=model_id)
    view.request = drf_request
    try:
        call = await sync_to_async(_prepare, thread_sensitive=False)(view, drf_request, model_id)
        client = AsyncServingClient(settings.SERVING_SOCKET_DIR, timeout_s=settings.SERVING_TIMEOUT_S)
        try:
            outputs = await client.predict_async(call.key, call.path, call.inputs, version=call.version)
        except pool_errors.ServingError as error:
            raise services.pool_refusal(error) from None
        body = await sync_to_async(_record, thread_sensitive=False)(call, outputs)
    except ModelBusy as error:
        return _refusal(view, exceptions.Throttled(wait=error.retry_after, detail=error.message))
    except (DomainError, exceptions.APIException, Exception) as error:  # noqa: BLE001 - mapped as DRF maps it
        return _headers(_refusal(view, error))
    return _headers(JsonResponse(body))


def _headers(response):
    """What SecurityMiddleware would add (the route runs without it under ASGI: prsm_site/asgi.py)."""
    response["X-Content-Type-Options"] = "nosniff"
    response.setdefault("Referrer-Policy", "same-origin")
    return response


def _prepare(view: PredictApi, request, model_id) -> services.PredictCall:
    close_old_connections()  # a worker thread's connection obeys CONN_MAX_AGE as a request's does
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.PREDICT_MAX_BODY_BYTES:
        raise RequestTooLarge(f"The body is {length:,} bytes; a prediction call takes at most "
                              f"{settings.PREDICT_MAX_BODY_BYTES:,} (send fewer inputs per call).")
    view.initial(request)  # authentication, the token's scope, the per-token rate
    deployment = deployment_or_404(request, model_id, light=True)
    return services.predict_prepare(user=request.user, deployment=deployment, inputs=view.inputs_of(request),
                                    token=request.auth)


def _record(call: services.PredictCall, outputs: list) -> dict:
    close_old_connections()
    return services.predict_record(call=call, outputs=outputs)


def _refusal(view: PredictApi, error: Exception):
    """The error as DRF would answer it from the view (status, body, WWW-Authenticate, Retry-After)."""
    response = view.handle_exception(error)
    response.accepted_renderer, response.accepted_media_type = JSONRenderer(), "application/json"
    response.renderer_context = {"view": view, "request": view.request, "response": response}
    return response.render()


predict_endpoint = predict_endpoint_for(PredictApi)
predict_images_endpoint = predict_endpoint_for(PredictImagesApi)
