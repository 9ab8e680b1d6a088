"""Every operation of the OpenAPI schema that takes a body refuses each malformed body
(tests/hostile_bodies.py) with a 4xx in the API's error shape, and the server logs no ERROR line
for any of them: a malformed request is the client's mistake, never the server's."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.hostile_bodies import bodies_of, operations


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_log():
    """ERROR records from every logger, those that do not propagate to the root included."""
    handler = Collect()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in ("django.request", "django.security",
                                                                            "django.server", "prsm.errors"))]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.records
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def client(db):
    user = get_user_model().objects.create_user("mallory", password="a long hostile passphrase")
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _schema() -> dict:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    return json.loads(response.content)


def _refusal(response) -> str | None:
    """What is wrong with the answer to a malformed request, or None when it is a proper refusal."""
    if not 400 <= response.status_code < 500:
        return f"status {response.status_code}"
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return f"status {response.status_code} without the error shape: {response.content[:120]!r}"
    if not (isinstance(error.get("code"), str) and isinstance(error.get("message"), str) and error["message"]):
        return f"status {response.status_code} with an incomplete error: {error}"
    return None


@pytest.mark.django_db
def test_every_body_route_refuses_every_malformed_body_with_a_4xx_and_no_error_log(client, error_log):
    ops = operations(_schema())
    assert len(ops) > 10  # the walk found the schema's operations
    wrong, sent = [], 0
    for operation in ops:
        for what, content_type, body in bodies_of(operation):
            error_log.clear()
            response = client.generic(operation.method.upper(), operation.path, body, content_type=content_type,
                                      HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), HTTP_ACCEPT="application/json")
            sent += 1
            if problem := _refusal(response):
                wrong.append(f"{operation} [{what}]: {problem}")
            if error_log:
                wrong.append(f"{operation} [{what}]: logged {error_log[0].getMessage()[:120]}")
    print(f"hostile bodies: {sent} requests over {len(ops)} operations, {len(wrong)} not refused properly")
    assert not wrong, f"{len(wrong)} of {sent}:\n" + "\n".join(wrong[:60])
