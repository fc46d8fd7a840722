"""The HTTP contract, written once: pydantic models validate requests and make the document.

Every API view is decorated with :data:`api.validate` (spectree) and its query, body and
response models (``web/models/``). From them come, with nothing written twice:

* request validation: a query or body that does not fit its model is one problem document
  (:func:`validation_problem`: 400 ``bad_parameter`` naming the field, or
  ``unknown_parameter`` for a query parameter the route does not take);
* the OpenAPI 3.1 document served at /api/v1/openapi.json (:func:`build_openapi`), with the
  parts that depend on the app's settings filled in: the loaded heads, the upload limit,
  and the API-key scheme only when a key is configured.

Multipart uploads are documented by their form model but never parsed by the library:
those routes pass ``skip_validation=True`` and keep web/multipart.py's streaming parser.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, TypeVar

from flask import current_app, make_response, request
from pydantic import BaseModel, ValidationError
from spectree import Response, SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.plugins.werkzeug_utils import werkzeug_parse_rule
from spectree.utils import get_model_key
from werkzeug.routing import parse_converter_args

from smartalbum import __version__
from smartalbum.web.models.common import (
    HEAD_MARKER,
    MAX_FILES_MARKER,
    MEDIA_TYPES,
    Problem,
)
from smartalbum.web.problems import PROBLEM_MIMETYPE, ProblemError
from smartalbum.web.security import API_KEY_HEADER

DOCUMENT_KEY = "smartalbum.openapi"
ModelT = TypeVar("ModelT", bound=BaseModel)

#: Error descriptions shared by every operation (one table, not one per blueprint).
ERROR_TEXT = {
    400: "A bad parameter or body (the problem's code and parameter say which).",
    401: f"Missing or wrong {API_KEY_HEADER}.",
    404: "Not found (the problem's code says what).",
    409: "Conflict with the current state (the problem's code says which).",
    413: "Body over the upload limit, too many files, or (single file) too many pixels.",
    415: "The single uploaded file is not a readable image.",
    422: "Understood but cannot be done (e.g. too few examples).",
    429: "Rate limited per client address.",
    501: "Not implemented by the loaded bundle.",
    503: "A service the request needs is not available (the problem says which).",
    507: "No space left on the server's disk (code disk_full).",
}


def validation_problem(errors: list[dict[str, Any]]) -> ProblemError:
    """The one problem document for a request that does not fit its model."""
    unknown = [e for e in errors if e["type"] == "unknown_parameter"]
    if unknown:
        ctx = unknown[0]["ctx"]
        return ProblemError(
            400,
            "Bad Request",
            f"Unknown parameter(s): {ctx['unknown']}; allowed: {ctx['allowed']}.",
            code="unknown_parameter",
        )
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    name = loc[0] if loc else "body"
    where = ".".join(loc) if loc else "the body"
    return ProblemError.bad_parameter(name, f"{where}: {first['msg']}.")


def _before(req: Any, resp: Any, error: Any, instance: Any, adapter: Any = None) -> None:
    """spectree's hook after request validation: a failure becomes our problem document.

    spectree validates an unreadable or non-object JSON body as ``{}``; a body was sent,
    so it is refused here rather than taken for an empty object.
    """
    if isinstance(error, ValidationError):
        raise validation_problem(error.errors(include_url=False))
    if error is not None:  # pragma: no cover - the pydantic adapter raises ValidationError
        raise ProblemError.bad_parameter("body", str(error))
    context = getattr(req, "context", None)
    sent = getattr(context, "json", None) is not None and req.get_data(cache=True)
    if sent and not isinstance(req.get_json(silent=True), dict):
        raise ProblemError.bad_parameter("body", "The body must be a JSON object.")


class _Plugin(FlaskPlugin):
    """Responses are documented, not re-validated at run time (the tests' schemathesis run
    checks them against the same models): the view's response goes out untouched, so
    ``send_file`` keeps streaming and JSON is not parsed again."""

    def validate_response(
        self, resp: Any, resp_model: Any, skip_validation: bool, force_resp_serialize: bool
    ) -> tuple[Any, None]:
        return make_response(resp), None

    def parse_path(self, route: Any, descriptions: Any) -> tuple[str, list[Any]]:
        """Werkzeug's ``string(minlength=, maxlength=)`` bounds documented too."""
        path, parameters = super().parse_path(route, descriptions)
        bounds = {
            name: args
            for converter, args, name in werkzeug_parse_rule(str(route))
            if converter == "string" and args
        }
        for param in parameters:
            if param["name"] in bounds:
                _, kwargs = parse_converter_args(bounds[param["name"]])
                for arg, key in (("minlength", "minLength"), ("maxlength", "maxLength")):
                    if arg in kwargs:
                        param["schema"][key] = kwargs[arg]
        return path, parameters


class ApiResponse(Response):
    """spectree's Response with the house's conventions: errors are problem documents
    (``application/problem+json``, plus a ``default`` one), and a model naming
    :data:`MEDIA_TYPES` documents a non-JSON body."""

    def generate_spec(self, naming_strategy: Any = get_model_key) -> dict[str, Any]:
        spec = super().generate_spec(naming_strategy)
        for code, out in spec.items():
            model = self.code_models.get(f"HTTP_{code}")
            content = out.get("content", {})
            if model is not None and _media_types(model):
                schema = {"type": "string", "format": "binary"}
                out["content"] = {
                    t: (
                        content["application/json"]
                        if t == "application/json"
                        else {"schema": schema}
                    )
                    for t in _media_types(model)
                }
            elif int(code) >= 400 and "application/json" in content:
                out["content"] = {PROBLEM_MIMETYPE: content["application/json"]}
        spec["default"] = {
            "description": "Any other error, as a problem document.",
            "content": {PROBLEM_MIMETYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        return spec


def _media_types(model: Any) -> list[str]:
    extra = getattr(model, "model_config", {}).get("json_schema_extra") or {}
    return list(extra.get(MEDIA_TYPES, []))


def responses(ok: dict[int, Any], errors: Iterable[int] = (), *, keyed: bool = True) -> ApiResponse:
    """An operation's responses: ``ok`` maps a status to a model (or ``(model, text)``, or
    None for no body); ``errors`` are problem statuses described by :data:`ERROR_TEXT`.
    ``keyed`` operations sit behind the API key (401 and security when one is set)."""
    codes: dict[str, Any] = {f"HTTP_{code}": value for code, value in ok.items()}
    statuses = sorted({*errors, *([401, 429] if keyed else [])})
    for status in statuses:
        codes[f"HTTP_{status}"] = (Problem, ERROR_TEXT[status])
    return ApiResponse(**codes)


def _name(model: Any) -> str:
    return model.__name__


_CONFIG: dict[str, Any] = {
    "backend": _Plugin,
    "mode": "strict",  # only the decorated routes (pages are not API)
    "title": "Smart Album API",
    "version": f"1 ({__version__})",
    "description": "Classify photos offline, and browse, review and correct the photo "
    "library's catalog. See docs/api.md.",
    "validation_error_status": 400,
    "validation_error_model": Problem,
    "before": _before,
    "naming_strategy": _name,
    "nested_naming_strategy": lambda _parent, child: child,
}

#: The decorator every API view wears: ``@api.validate(query=, json=, resp=, ...)``.
api = SpecTree(**_CONFIG)


class _Document(SpecTree):
    """One app's document: the routes :data:`api` registered, over a copy of its models
    (spectree keeps one document per instance, and apps here differ by their settings)."""

    def __init__(self) -> None:
        super().__init__(**_CONFIG)
        self.models = copy.deepcopy(api.models)

    def get_function_metadata(self, func: Any) -> Any:
        return api.get_function_metadata(func)


def build_openapi() -> dict[str, Any]:
    """The current app's OpenAPI document, built once per app from the routes' models, with
    the loaded heads, the upload limit and the API-key scheme of its settings."""
    from smartalbum.web.state import get_state

    cached = current_app.extensions.get(DOCUMENT_KEY)
    if cached is not None:
        return cached
    state = get_state()
    doc = copy.deepcopy(_Document().spec)
    web = state.settings.web
    heads = list(state.engine.bundle.heads)
    _fill(doc, heads=heads, default_head=state.default_head, max_files=web.max_files)
    keyed = bool(web.api_key)
    for item in doc["paths"].values():
        for op in item.values():
            if not op.get("tags"):
                op.pop("tags", None)
            if "401" not in op["responses"]:
                continue
            if keyed:
                op["security"] = [{"ApiKey": []}]
            else:
                del op["responses"]["401"]
    doc.pop("tags", None)
    doc.pop("security", None)
    if keyed:
        doc["components"]["securitySchemes"] = {
            "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
        }
    current_app.extensions[DOCUMENT_KEY] = doc
    return doc


def _fill(node: Any, *, heads: list[str], default_head: str, max_files: int) -> None:
    """Replace the settings markers, in place, wherever they are in the document."""
    if isinstance(node, dict):
        if node.pop(HEAD_MARKER, None):
            node.pop("anyOf", None)
            node.update(type="string", enum=heads, default=default_head)
        if node.pop(MAX_FILES_MARKER, None):
            node["maxItems"] = max_files
            node["description"] = f"one to {max_files} photos"
        for value in node.values():
            _fill(value, heads=heads, default_head=default_head, max_files=max_files)
    elif isinstance(node, list):
        for value in node:
            _fill(value, heads=heads, default_head=default_head, max_files=max_files)


def query_args() -> Any:
    """The request's query parameters, validated by the route's query model."""
    return request.context.query  # type: ignore[attr-defined]


def json_body() -> Any:
    """The request's JSON body, validated by the route's body model; a 400 when the request
    has none (a form, or nothing)."""
    body = getattr(getattr(request, "context", None), "json", None)
    if body is None:
        raise ProblemError.bad_parameter("body", "Send a JSON object (application/json).")
    return body


def validate(model: type[ModelT], data: Any) -> ModelT:
    """``data`` checked by ``model`` where a view parses the request itself (a multipart
    form): the same problem document as the decorator's validation."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc.errors(include_url=False)) from None
