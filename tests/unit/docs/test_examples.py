"""The documentation's examples (docs/examples/*.json, captured from a running graph by
``python -m arm_dev.capture_examples``) still match the response models: each answer validates
against its endpoint's pydantic model, and its keys are exactly the model's fields, at the top
level and in every nested model, so a field added to (or dropped from) a model fails here
until the examples are captured again."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from arm_dev.capture_examples import EXAMPLES
from models.health import CapabilityManifest, HealthStatus
from models.research import ErrorBody, MemorySearchResponse, ReadResponse, ResearchResponse
from tests.conftest import ROOT

EXAMPLES_DIR = ROOT / "docs" / "examples"
FILES = sorted(EXAMPLES_DIR.glob("*.json"))
NOT_CAPTURED = (
    "docs/examples holds no captured example yet: run `python -m arm_dev.capture_examples` "
    "against a running graph (make run, after make ingest)"
)

# Fields an answer omits rather than sends as null.
OMITTED_WHEN_EMPTY: dict[type[BaseModel], tuple[str, ...]] = {ErrorBody: ("detail",)}

RESPONSE_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/execute"): ResearchResponse,
    ("POST", "/memory/search"): MemorySearchResponse,
    ("POST", "/read"): ReadResponse,
    ("GET", "/health"): HealthStatus,
    ("GET", "/capabilities"): CapabilityManifest,
}


def response_model(request: dict[str, Any], status: int) -> type[BaseModel]:
    """The model an answer of this endpoint and status must match: ErrorBody for every error
    (a /health of 503 still reports the stages, as HealthStatus)."""
    if status >= 400 and request["path"] != "/health":
        return ErrorBody
    return RESPONSE_MODELS[(request["method"], request["path"])]


def _nested_model(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """("one" | "list" | "dict", Model) when a field holds models, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "one", annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _nested_model(inner[0]) if len(inner) == 1 else None
    if origin is list and args and _nested_model(args[0]) is not None:
        return "list", args[0]
    if origin is dict and len(args) == 2 and _nested_model(args[1]) is not None:
        return "dict", args[1]
    return None


def key_mismatches(model: type[BaseModel], data: Any, where: str = "response") -> list[str]:
    """Every place where ``data``'s keys are not exactly ``model``'s fields."""
    if not isinstance(data, dict):
        return [f"{where}: {type(data).__name__}, not an object"]
    fields = set(model.model_fields)
    # A field an answer leaves out when it has nothing to say (ErrorBody's ``detail``, only
    # in a 422): absent is fine where the model says so.
    optional = {n for n, f in model.model_fields.items() if n in OMITTED_WHEN_EMPTY.get(model, ())}
    problems = []
    if not fields - optional <= set(data) <= fields or set(data) - fields:
        extra, missing = sorted(set(data) - fields), sorted(fields - optional - set(data))
        problems.append(f"{where} ({model.__name__}): extra keys {extra}, missing keys {missing}")
    for name, info in model.model_fields.items():
        nested = _nested_model(info.annotation)
        value = data.get(name)
        if nested is None or value is None:
            continue
        shape, inner = nested
        if shape == "one":
            problems += key_mismatches(inner, value, f"{where}.{name}")
        elif shape == "list":
            for i, item in enumerate(value):
                problems += key_mismatches(inner, item, f"{where}.{name}[{i}]")
        else:
            for key, item in value.items():
                problems += key_mismatches(inner, item, f"{where}.{name}[{key!r}]")
    return problems


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_every_documented_example_is_captured() -> None:
    assert {p.stem for p in FILES} >= {e.name for e in EXAMPLES}, NOT_CAPTURED


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_example_matches_its_response_model(path: Path) -> None:
    record = _load(path)
    assert set(record) == {"request", "status", "response"}
    request, status, response = record["request"], record["status"], record["response"]
    assert set(request) == {"method", "path", "body"}
    documented = {e.name: e.status for e in EXAMPLES}
    if path.stem in documented:
        assert status == documented[path.stem], f"{path.name}: captured status {status}"
    model = response_model(request, status)
    model.model_validate(response)
    assert key_mismatches(model, response) == [], (
        f"{path.name} and {model.__name__} disagree: a model that changed needs the examples "
        "captured again (python -m arm_dev.capture_examples); a key the endpoint sends that "
        "the model lacks is a gap in the model (its OpenAPI schema does not show it)"
    )


def test_key_check_sees_added_and_dropped_fields_at_every_level() -> None:
    health = {
        "status": "ok",
        "arm_id": "research-arm",
        "version": "0.1.0",
        "stages": {"embedder": {"state": "ok", "detail": "1/1 replicas running (healthy)"}},
        "search": None,
    }
    assert key_mismatches(HealthStatus, health) == []
    assert key_mismatches(HealthStatus, {**health, "uptime": 1})
    assert key_mismatches(HealthStatus, {k: v for k, v in health.items() if k != "search"})
    nested = {**health, "stages": {"embedder": {"state": "ok"}}}
    assert key_mismatches(HealthStatus, nested) == [
        "response.stages['embedder'] (StageHealth): extra keys [], missing keys ['detail']"
    ]
    error = {"error": "overloaded", "message": "at capacity", "request_id": "r"}
    assert key_mismatches(ErrorBody, error) == []  # no detail: only a 422 has one
    assert key_mismatches(ErrorBody, {**error, "detail": []}) == []
    assert key_mismatches(ErrorBody, {"error": "overloaded", "request_id": "r"})
    assert response_model({"method": "POST", "path": "/execute"}, 422) is ErrorBody
    assert response_model({"method": "GET", "path": "/health"}, 503) is HealthStatus
