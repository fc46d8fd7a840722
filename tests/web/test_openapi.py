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


#: Refusals of schema-valid requests that no schema can rule out, per operation: the data
#: has the documented shape but does not fit this catalog, model or request (a cursor the
#: server did not make, bytes that are not an image, a label the head does not have, a
#: category with too few photos, a job whose kind needs other fields). Schema-valid data
#: answered with any other 4xx fails ``positive_data_acceptance``: a disagreement between
#: the document and the validation, to be fixed in web/models/.
DATA_DEPENDENT: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v1/photos"): {"bad_parameter:cursor"},
    ("GET", "/api/v1/duplicates"): {"bad_parameter:cursor"},
    ("PATCH", "/api/v1/photos/{photo_id}"): {"unknown_label"},
    ("POST", "/api/v1/photos/bulk/label"): {"unknown_label"},
    ("POST", "/api/v1/classify"): {"not_an_image", "conflicting_heads", "empty_file",
                                   "unsupported_format", "damaged_image", "too_many_pixels"},
    ("POST", "/classify"): {"not_an_image", "conflicting_heads", "empty_file",
                            "unsupported_format", "damaged_image", "too_many_pixels"},
    ("POST", "/api/v1/categories"): {"not_enough_examples", "invalid_category"},
    ("POST", "/api/v1/categories/import"): {"invalid_category"},
    ("POST", "/api/v1/jobs"): {"unknown_kind", "bad_path", "bad_parameter:paths",
                               "bad_parameter:into", "bad_parameter:head", "unknown_head"},
    ("POST", "/api/v1/people/scan"): {"bad_path"},
}
#: What ``positive_data_acceptance`` accepts for schema-valid data.
ACCEPTED = {401, 403, 404, 409, 429}


def refusal(response) -> str:
    """``code`` (``code:parameter`` for bad_parameter) of a problem response."""
    try:
        body = response.json()
    except ValueError:
        return f"not a problem document: {response.status_code}"
    code = str(body.get("code"))
    return f"{code}:{body['parameter']}" if code == "bad_parameter" else code


def _checker(strategy, key: tuple[str, str], mode: str, failures: dict, statuses: set):
    """The bounded Hypothesis run of one operation in one mode, recording into
    ``failures`` (first of each operation and mode) and ``statuses``."""

    @given(case=strategy)
    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        try:
            # every check but positive_data_acceptance, which is applied below
            response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        except Exception as exc:  # noqa: BLE001 - collected, listed at the end
            failures.setdefault((*key, mode), str(exc).strip().splitlines()[:12])
            return
        status = response.status_code
        statuses.add(status)
        if mode == "positive" and 400 <= status < 500 and status not in ACCEPTED:
            code = refusal(response)
            if code not in DATA_DEPENDENT.get(key, set()):
                failures.setdefault((*key, mode), f"schema-valid data refused: {status} {code}")

    return check


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_or_schema_violations(make_app) -> None:
    """Generated requests, valid and invalid, for every operation, a bounded number each,
    under every schemathesis check (status codes, content types, response schemas and
    headers, negative data rejected, positive data accepted but for DATA_DEPENDENT).

    Failures are collected, not raised inside Hypothesis (no shrinking: the run stays
    bounded, about a minute), and listed together.
    """
    from hypothesis.errors import Unsatisfiable

    app = make_app(rate_limit="")
    schema = schemathesis.openapi.from_wsgi(OPENAPI_URL, app)
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]  # too many files
    statuses: set[int] = set()
    failures: dict[tuple[str, str, str], str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = documented_operations(app.test_client().get(OPENAPI_URL).get_json())
    # schemathesis leaves out the schema's own URL
    assert {(op.path, op.method.upper()) for op in operations} == documented - {
        (OPENAPI_URL, "GET")
    }
    for op in operations:
        for mode in ("positive", "negative"):
            strategy = op.as_strategy(generation_mode=schemathesis.GenerationMode(mode))
            check = _checker(strategy, (op.method.upper(), op.path), mode, failures, statuses)
            try:
                check()
            except Unsatisfiable:  # nothing in the operation can be made invalid
                assert mode == "negative"
    assert not failures, json.dumps({" ".join(k): v for k, v in failures.items()}, indent=1)
    assert 200 in statuses and 400 in statuses and 415 in statuses
