"""The OpenAPI schema is one a client generator can use (issue 22): it validates as OpenAPI 3, JSON
routes declare JSON alone, upload routes multipart alone with their files as binary, every operation
declares its refusals with the one error shape, and the operation ids (the generated functions'
names) change only on purpose. That every answer the server gives in the tests is declared is checked
by tests/schema_conformance.py; distillation/tests/test_generated_client.py runs a generated client."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from .schema_conformance import schema

UPLOADS = {"datasets_create", "teachers_create", "models_predict_images"}

# The public operation ids: a generated client's function names. Add new routes here; renaming one
# breaks every generated client, so it needs a reason.
OPERATION_IDS = {
    "auth_providers_create", "auth_providers_destroy", "auth_providers_list", "auth_register", "auth_token",
    "datasets_create", "datasets_list",
    "distillations_artifact_download", "distillations_artifacts", "distillations_cancel", "distillations_create",
    "distillations_deploy", "distillations_estimate", "distillations_list", "distillations_retrieve",
    "ledger_balance", "ledger_entries_list", "ledger_grants_create", "ledger_transfers_create",
    "marketplace_models_create", "marketplace_models_download", "marketplace_models_list",
    "marketplace_models_partial_update", "marketplace_models_purchase", "marketplace_models_ratings_create",
    "marketplace_models_ratings_update", "marketplace_models_report", "marketplace_models_retrieve",
    "me_partial_update", "me_retrieve",
    "models_list", "models_predict", "models_predict_images", "models_undeploy",
    "safety_report_retrieve",
    "teachers_analysis_retrieve", "teachers_create", "teachers_list",
    "tokens_create", "tokens_destroy", "tokens_list",
    "webhooks_create", "webhooks_deliveries_list", "webhooks_deliveries_resend", "webhooks_destroy", "webhooks_list",
    "webhooks_partial_update", "webhooks_ping", "webhooks_retrieve", "webhooks_rotate_secret",
}


def operations():
    for path, item in schema()["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_the_schema_is_valid_openapi():
    validate(schema())


def test_operation_ids_are_readable_unique_and_the_public_list():
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in ids), ids
    assert OPERATION_IDS <= set(ids), f"gone or renamed: {sorted(OPERATION_IDS - set(ids))}"
    new = {name for name in ids if name not in OPERATION_IDS}
    assert not new, f"new operations: add them to OPERATION_IDS: {sorted(new)}"


def test_json_routes_declare_json_alone_and_uploads_multipart_alone_with_binary_files():
    components = schema()["components"]["schemas"]
    uploads_seen = set()
    for method, path, operation in operations():
        content = (operation.get("requestBody") or {}).get("content")
        if not content:
            continue
        name = operation["operationId"]
        if name in UPLOADS:
            uploads_seen.add(name)
            assert list(content) == ["multipart/form-data"], (method, path, list(content))
            body = components[content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]]
            files = [prop.get("items", prop) for prop in body["properties"].values()
                     if prop.get("format") == "binary" or prop.get("items", {}).get("format") == "binary"]
            assert files, f"{name}: no binary file field in {body['properties']}"
            assert not any(prop.get("format") == "uri" for prop in body["properties"].values())
        else:
            assert list(content) == ["application/json"], (method, path, list(content))
    assert uploads_seen == UPLOADS


def test_every_operation_declares_a_success_and_its_refusals_with_the_error_shape():
    for method, path, operation in operations():
        codes = operation["responses"]
        assert any(code.startswith("2") for code in codes), (method, path)
        refusals = {code: response for code, response in codes.items() if code.startswith("4")}
        assert refusals, (method, path, sorted(codes))
        for code, response in refusals.items():
            declared = response["content"]["application/json"]["schema"]
            assert declared == {"$ref": "#/components/schemas/Error"}, (method, path, code, declared)
        if operation.get("security") != [{}] and "{" in path:
            assert {"401", "404"} <= set(codes), (method, path, sorted(codes))
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(codes), (method, path, sorted(codes))
    error = schema()["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message"} and "field" in error["properties"]
