"""Capture the documentation's examples from a running graph.

    python -m arm_dev.capture_examples [--url http://127.0.0.1:8000] [--out docs/examples]

Sends each request of ``EXAMPLES`` (the ones README.md and docs/api.md show) to the graph and
writes ``<out>/<name>.json``: ``{"request": {"method", "path", "body"}, "status", "response"}``.
``tests/unit/docs/test_examples.py`` validates every such file against the endpoint's pydantic
response model, so a field added to a model fails the suite until the examples are captured
again. With ``ARM_API_KEY`` set, the requests carry it as a bearer token (it is never written).

Run it against ``make run`` after ``make ingest`` (the examples in the docs come from the local
index), with the arXiv stand-in serving full texts for ``/read`` (``make standin`` on :8081, and
``ARXIV_HTML_URL=http://127.0.0.1:8081/html ARXIV_PDF_URL=http://127.0.0.1:8081/pdf`` for
``make run``); it exits 1 when an answer's status is not the one the example documents.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


@dataclass(frozen=True)
class Example:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None
    status: int  # the status the docs show for it


EXAMPLES: tuple[Example, ...] = (
    Example(
        "execute",
        "POST",
        "/execute",
        {"query": "how do neutrinos get their mass", "max_papers": 3},
        200,
    ),
    Example(
        "execute_dates",
        "POST",
        "/execute",
        {
            "query": "entangled photons",
            "max_papers": 2,
            "start_date": "2007-04-01",
            "end_date": "2007-04-30",
        },
        200,
    ),
    Example(  # the same again: answered from the search's cache and memory
        "execute_dates_again",
        "POST",
        "/execute",
        {
            "query": "entangled photons",
            "max_papers": 2,
            "start_date": "2007-04-01",
            "end_date": "2007-04-30",
        },
        200,
    ),
    Example(
        "execute_categories",
        "POST",
        "/execute",
        {"query": "how do neutrinos get their mass", "max_papers": 3, "categories": ["hep-ph"]},
        200,
    ),
    Example(
        "execute_422_bad_date",
        "POST",
        "/execute",
        {"query": "ok query", "start_date": "2023-02-30"},
        422,
    ),
    Example(
        "memory_search",
        "POST",
        "/memory/search",
        {"query": "photon entanglement experiments", "limit": 2},
        200,
    ),
    Example(  # a real paper's LaTeXML page (tests/fixtures/fulltext), served by the stand-in
        "read",
        "POST",
        "/read",
        {
            "arxiv_id": "2501.11120v1",
            "question": "Can a model tell that it has a backdoor?",
            "max_chars": 1200,
            "evidence_per_paper": 2,
        },
        200,
    ),
    Example("health", "GET", "/health", None, 200),
    Example("capabilities", "GET", "/capabilities", None, 200),
)


def capture(client: httpx.Client, example: Example) -> dict[str, Any]:
    """One example's request and the graph's answer, as the file holds it."""
    answer = client.request(example.method, example.path, json=example.body)
    try:
        response: Any = answer.json()
    except ValueError:
        response = answer.text
    return {
        "request": {"method": example.method, "path": example.path, "body": example.body},
        "status": answer.status_code,
        "response": response,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the graph's address")
    parser.add_argument("--out", type=Path, default=Path("docs/examples"), help="folder")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = parser.parse_args(argv)

    headers = {}
    if key := os.environ.get("ARM_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with httpx.Client(base_url=args.url, headers=headers, timeout=args.timeout) as client:
        for example in EXAMPLES:
            record = capture(client, example)
            target = args.out / f"{example.name}.json"
            target.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
            ok = record["status"] == example.status
            failed += not ok
            print(
                f"{example.name}: {example.method} {example.path} -> {record['status']}"
                f"{'' if ok else f' (expected {example.status})'}; wrote {target}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
