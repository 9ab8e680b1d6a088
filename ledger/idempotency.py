"""Idempotency keys for every money-moving POST (ledger transfers and grants, marketplace purchases).

Decorate an APIView's ``post`` with ``@idempotent``. The client sends ``Idempotency-Key``; the
first request's response (status and body, errors included; not 5xx) is stored with a
fingerprint of method, path and body, and for ``LEDGER_IDEMPOTENCY_TTL`` seconds (24 h) the same
key with the same body gets that response again, marked ``Idempotent-Replayed: true``, while the
same key with another body is refused with 409.

Concurrency: the key's row is inserted first, in the request's transaction; a second request
with the same key blocks on the unique index until the first commits, then replays it. So 50
identical requests at once move money once and all see one response.
"""

import hashlib
import json
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.api_errors import REFUSALS

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    location=OpenApiParameter.HEADER,
    required=True,
    type=str,
    description="A unique string per intended operation (a UUID is best). Retrying with the same key and "
    "body replays the first response; the same key with another body is 409. Keys expire after 24 hours.",
)


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request."


def request_fingerprint(request) -> str:
    data = request.data
    body = {key: data.getlist(key) for key in data} if hasattr(data, "getlist") else data
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(post):
    @wraps(post)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise exceptions.ValidationError(
                {HEADER: f"Send an {HEADER} header (1 to {MAX_KEY_LENGTH} printable characters) with every payment."},
                code="idempotency_key_required",
            )
        return idempotent_response(
            view=view, request=request, key=key, respond=lambda: post(view, request, *args, **kwargs)
        )

    return wrapper


@transaction.atomic
def idempotent_response(*, view, request, key: str, respond) -> Response:
    now = timezone.now()
    fingerprint = request_fingerprint(request)
    IdempotencyKey.objects.filter(user=request.user, key=key, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                user=request.user, key=key, fingerprint=fingerprint,
                expires_at=now + timedelta(seconds=settings.LEDGER_IDEMPOTENCY_TTL),
            )
    except IntegrityError:
        return _replay(IdempotencyKey.objects.get(user=request.user, key=key), fingerprint)

    try:
        with transaction.atomic():
            response = respond()
    except REFUSALS as exc:  # a refusal (a DomainError, a validation error) is a response too, replayed as one
        response = view.get_exception_handler()(exc, view.get_exception_handler_context())
    if response.status_code >= 500:  # not the request's fault: forget the key so that a retry runs again
        transaction.set_rollback(True)
        return response
    record.status_code = response.status_code
    record.response_body = json.dumps(response.data, cls=DjangoJSONEncoder)
    record.save(update_fields=["status_code", "response_body"])
    return Response(json.loads(record.response_body), status=record.status_code)


def _replay(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return Response(json.loads(record.response_body), status=record.status_code, headers={"Idempotent-Replayed": "true"})


def idempotency_keys_purge() -> int:
    """Delete expired keys (expired ones are already ignored; this only reclaims the rows)."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
