"""docs/openapi.json is the app's contract as it is: a change to the API shows in review."""

from __future__ import annotations

import json

from arm_dev.openapi_doc import DOCUMENT, current, rendered


def test_the_committed_openapi_document_matches_the_app() -> None:
    assert DOCUMENT.exists(), "missing: run `make openapi`"
    assert DOCUMENT.read_text() == rendered(current()), "stale: run `make openapi`"


def test_every_operation_has_a_name_and_declares_its_errors() -> None:
    document = json.loads(DOCUMENT.read_text())
    ids = set()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            ids.add(operation["operationId"])
            statuses = set(operation["responses"])
            if path != "/health":  # the probe: 200 or 503 with the stages' states
                assert {"401", "500", "503"} <= statuses, (method, path, statuses)
            if "requestBody" in operation or operation.get("parameters"):
                assert "422" in statuses, (method, path, statuses)
    assert ids == {
        "execute", "read_paper", "search_memory", "get_health", "get_capabilities", "get_paper",
        "forget_paper",
    }  # fmt: skip
    detail = document["components"]["schemas"]["ErrorBody"]["properties"]["detail"]
    assert "FieldError" in json.dumps(detail)  # the 422's field errors, structured
