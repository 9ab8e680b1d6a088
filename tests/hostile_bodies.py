"""Malformed request bodies for every operation of the OpenAPI schema that takes a body: broken and
hostile JSON as a whole, a wrong value for each property in turn (chosen against the property's
declared type, so that none of them is valid), and forms too large to parse.

Used by tests/test_hostile_bodies.py; ``bench/hostile_requests.py`` prints how many there are.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

BODY_METHODS = ("post", "put", "patch")
DEEP = 20_000  # levels of nesting: past Python's recursion limit, well under any size limit

# The body as a whole: nothing, broken JSON, JSON that is not an object, nesting past the recursion
# limit, a 5,000-digit number, a lone UTF-16 surrogate, bytes that are not UTF-8, and 3 MB of text.
WHOLE_BODIES: dict[str, bytes] = {
    "empty": b"",
    "truncated": b'{"a": ',
    "not utf-8": b'{"a": "\xff\xfe"}',
    "null": b"null",
    "a list": b"[]",
    "a number": b"1",
    "a string": b'"x"',
    "nested lists": b"[" * DEEP + b"]" * DEEP,
    "nested objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "a 5,000-digit number": b"9" * 5000,
    "a lone surrogate": b'{"name": "\\ud800"}',
    "3 MB": json.dumps({"name": "x" * (3 * 1024 * 1024)}).encode(),
}

# Raw JSON for a value of the wrong kind, by the declared type it must not be accepted as.
_NOT_A_STRING = ["[]", "{}", "[" * 200 + "]" * 200]
_NOT_A_NUMBER = ['"abc"', "[]", "{}", "1" * 5000, "1e400", '"\\ud800"', '"\u0663"', '"1_000"']
_BAD_VALUES = {
    "string": _NOT_A_STRING + ['"\\ud800"'],
    "integer": _NOT_A_NUMBER + ["100000000000000000000000000000"],
    "number": _NOT_A_NUMBER,
    "boolean": ['"maybe"', "2", "[]"],
    "array": ['"x"', "{}", "1"],
    "object": ['"x"', "[]", "1"],
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with the path's parameters filled in
    properties: dict  # name -> resolved JSON schema of the body's properties
    multipart: bool

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def _fill(path: str, parameters: list[dict]) -> str:
    for parameter in parameters:
        if parameter.get("in") == "path":
            kind = (parameter.get("schema") or {}).get("type")
            value = "4242" if kind == "integer" else str(uuid.uuid4())
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def operations(schema: dict) -> list[Operation]:
    """Every operation that takes a body, with the properties its body declares."""
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in BODY_METHODS:
                continue
            content = (operation.get("requestBody") or {}).get("content") or {}
            declared = content.get("application/json") or content.get("multipart/form-data") or {}
            body = _resolve(schema, declared.get("schema") or {})
            properties = {name: _resolve(schema, prop) for name, prop in (body.get("properties") or {}).items()}
            found.append(Operation(method, _fill(path, item.get("parameters", []) + operation.get("parameters", [])),
                                   properties, "application/json" not in content and bool(content)))
    return found


def _declared_type(prop: dict) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: ["string", "null"]
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and "enum" in prop:
        return "string"
    return kind


def property_bodies(operation: Operation) -> dict[str, bytes]:
    """One body a property: that property alone, with a value its declared type refuses."""
    bodies = {}
    for name, prop in operation.properties.items():
        kind = _declared_type(prop)
        for index, raw in enumerate(_BAD_VALUES.get(kind or "", [])):
            bodies[f"{name} #{index}"] = ('{"%s": %s}' % (name, raw)).encode()
    return bodies


def too_many_fields() -> bytes:
    """A form past Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000)."""
    return "&".join(f"f{i}=1" for i in range(1_500)).encode()


def bodies_of(operation: Operation) -> list[tuple[str, str, bytes]]:
    """(what, content type, body) for every malformed request sent to this operation."""
    sent = [(what, "application/json", body) for what, body in {**WHOLE_BODIES, **property_bodies(operation)}.items()]
    sent.append(("1,500 form fields", "application/x-www-form-urlencoded", too_many_fields()))
    sent.append(("multipart without a boundary", "multipart/form-data", b"--x\r\n\r\n"))
    return sent
