"""``docs/openapi.json``, the API's contract, written from the app so a change shows in review.

    python -m arm_dev.openapi_doc           # write it (make openapi)
    python -m arm_dev.openapi_doc --check   # exit 1 when it differs from the app's

``tests/unit/docs/test_openapi.py`` runs the check in the suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "openapi.json"


def current() -> dict[str, Any]:
    """The OpenAPI document the Ingress's app serves at /openapi.json (at the root path)."""
    from deployments.ingress.http.app import app

    return app.openapi()


def rendered(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arm_dev.openapi_doc")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = rendered(current())
    if args.check:
        same = DOCUMENT.exists() and DOCUMENT.read_text() == text
        print("docs/openapi.json matches the app" if same else "docs/openapi.json is stale")
        return 0 if same else 1
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
