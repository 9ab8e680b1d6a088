"""Every answer the API gives in the tests is one its OpenAPI schema declares: the status is listed for
the operation, and a JSON body fits the schema declared for that status. A test-only middleware
(installed for the whole session by ``conftest.py``) checks each ``/api/`` answer made through Django's
test clients; a test whose calls got an undeclared answer fails at teardown, naming the operation and
what the schema lacks. So the schema a client generator reads is held to what the server really does,
by every API test there is, not by a list kept beside it.

Not checked: 405 (a method the route does not have), 5xx (other tests fail on those), answers of a
live server in another process, and paths the schema does not hold.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

from openapi_schema_validator import OAS30Validator

API_PREFIX = "/api/"
violations: list[str] = []


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    pattern: re.Pattern
    responses: dict


@cache
def schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@cache
def operations() -> tuple[Operation, ...]:
    found = []
    for path, item in schema()["paths"].items():
        pieces = re.split(r"\{[^}]+\}", path)
        pattern = re.compile("^" + "[^/]+".join(re.escape(piece) for piece in pieces) + "$")
        for method, operation in item.items():
            found.append(Operation(method.upper(), path, pattern, operation["responses"]))
    # literal paths before templated ones: /distillations/estimate/ is not /distillations/{job_id}/
    return tuple(sorted(found, key=lambda op: op.path.count("{")))


def operation_for(method: str, path: str) -> Operation | None:
    for operation in operations():
        if operation.method == method and operation.pattern.match(path):
            return operation
    return None


def problem(method: str, path: str, status: int, content_type: str, body: bytes) -> str | None:
    """What the schema lacks for this answer, or None when it declares it."""
    operation = operation_for(method, path)
    if operation is None or status == 405 or status >= 500:
        return None
    declared = operation.responses.get(str(status))
    where = f"{method} {operation.path} answered {status}"
    if declared is None:
        return f"{where}, which its schema does not declare (it declares {', '.join(sorted(operation.responses))})"
    media = (declared.get("content") or {}).get("application/json")
    if media is None or not content_type.startswith("application/json") or not body:
        return None
    validator = OAS30Validator({**media["schema"], "components": schema()["components"]})
    error = next(iter(validator.iter_errors(json.loads(body))), None)
    if error is not None:
        at = "/".join(str(part) for part in error.absolute_path) or "the body"
        return f"{where} with a body that does not fit its declared schema at {at}: {error.message[:300]}"
    return None


def middleware(get_response):
    def check(request):
        response = get_response(request)
        if request.path.startswith(API_PREFIX) and not getattr(response, "streaming", False):
            found = problem(request.method, request.path, response.status_code,
                            response.get("Content-Type", ""), response.content)
            if found:
                violations.append(found)
        return response

    return check
