"""The OpenAPI document: valid, in step with the routes, and true when schemathesis probes it."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

OPENAPI_URL = "/api/v1/openapi.json"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
#: What the hand-written document (before web/contract.py generated it) named: every
#: operation's parameters, body fields and responses (with their fields), and the fields of
#: every component schema, taken from the document of an app with an API key.
BEFORE = Path(__file__).parent / "data" / "openapi_v1_before.json"


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in doc["paths"].items() for method in item}


def test_document_is_valid_openapi(client) -> None:
    doc = client.get(OPENAPI_URL).get_json()
    assert doc["openapi"].startswith("3.")
    schemathesis.openapi.from_dict(doc).validate()


def test_the_validator_would_catch_a_broken_document(client) -> None:
    broken = copy.deepcopy(client.get(OPENAPI_URL).get_json())
    broken["paths"]["/healthz"]["get"]["responses"] = "nope"
    with pytest.raises(Exception, match="nope|responses|not of type"):
        schemathesis.openapi.from_dict(broken).validate()


def test_every_api_route_is_documented_and_vice_versa(app, client) -> None:
    routes = {
        (re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") or rule.rule.startswith("/api/")
        for method in rule.methods - IGNORED_METHODS
    }
    assert routes == documented_operations(client.get(OPENAPI_URL).get_json())


def test_head_parameter_lists_the_loaded_heads(client) -> None:
    doc = client.get(OPENAPI_URL).get_json()
    (param,) = doc["paths"]["/api/v1/classify"]["post"]["parameters"]
    assert param["schema"]["enum"] == ["colours", "strict"]
    assert param["schema"]["default"] == "colours"


def test_api_key_scheme_is_documented_only_when_configured(make_app) -> None:
    open_doc = make_app().test_client().get(OPENAPI_URL).get_json()
    assert "securitySchemes" not in open_doc["components"]
    assert "401" not in open_doc["paths"]["/api/v1/model"]["get"]["responses"]
    keyed = make_app(api_key="k").test_client().get(OPENAPI_URL).get_json()
    assert keyed["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    assert keyed["paths"]["/api/v1/model"]["get"]["security"] == [{"ApiKey": []}]
    assert "401" in keyed["paths"]["/api/v1/classify"]["post"]["responses"]
    assert "security" not in keyed["paths"]["/healthz"]["get"]


def _fields(doc: dict, schema: dict) -> set[str]:
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return set(schema.get("properties", {}))


def test_the_generated_document_keeps_everything_the_hand_written_one_named(make_app) -> None:
    """Generating the document from the models lost no operation, parameter, body field,
    response (status, media type, fields) or component schema field."""
    doc = make_app(api_key="k").test_client().get(OPENAPI_URL).get_json()
    before = json.loads(BEFORE.read_text())
    missing = []
    for key, old in before["operations"].items():
        method, path = key.split(" ", 1)
        op = doc["paths"].get(path, {}).get(method.lower())
        if op is None:
            missing.append(key)
            continue
        params = {f"{p['in']}:{p['name']}" for p in op.get("parameters", [])}
        missing += [f"{key} parameter {p}" for p in set(old["parameters"]) - params]
        body = op.get("requestBody", {}).get("content", {})
        for media, fields in old["requestBody"].items():
            if media not in body:
                missing.append(f"{key} body {media}")
                continue
            have = _fields(doc, body[media]["schema"])
            missing += [f"{key} body {media} {f}" for f in set(fields) - have]
        for status, content in old["responses"].items():
            response = op["responses"].get(status)
            if response is None:
                missing.append(f"{key} response {status}")
                continue
            for media, fields in content.items():
                got = response.get("content", {}).get(media)
                if got is None:
                    missing.append(f"{key} {status} {media}")
                    continue
                have = _fields(doc, got["schema"])
                missing += [f"{key} {status} {media} {f}" for f in set(fields) - have]
    for name, fields in before["schemas"].items():
        have = set(doc["components"]["schemas"].get(name, {}).get("properties", {}))
        missing += [f"schema {name}.{f}" for f in set(fields) - have]
    assert not missing


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_or_schema_violations(make_app) -> None:
    """Generated requests (valid and invalid) for every operation, a bounded number each.

    ``positive_data_acceptance`` is left out: a schema cannot say "bytes of a decodable
    image", so random schema-valid uploads are rightly answered 415.
    """
    app = make_app(rate_limit="")
    schema = schemathesis.openapi.from_wsgi(OPENAPI_URL, app)
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]  # too many files
    statuses: set[int] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = documented_operations(app.test_client().get(OPENAPI_URL).get_json())
    # schemathesis leaves out the schema's own URL
    assert {(op.path, op.method.upper()) for op in operations} == documented - {
        (OPENAPI_URL, "GET")
    }
    for op in operations:
        modes = ["positive", "negative"] if op.method.upper() == "POST" else ["positive"]
        for mode in modes:
            strategy = op.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

            @given(case=strategy)
            @settings(
                max_examples=25,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def check(case) -> None:
                response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
                statuses.add(response.status_code)
                assert response.status_code < 500

            check()
    assert 200 in statuses and 400 in statuses and 415 in statuses
