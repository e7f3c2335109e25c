"""Every error status the arm answers, with its body, as the routes declare them to OpenAPI."""

from __future__ import annotations

from typing import Any

from models.research import ErrorBody

_WHEN = {
    400: "arXiv rejected the query (`message` is arXiv's own)",
    401: "ARM_API_KEY is set and the bearer token is missing or wrong",
    403: "the operation needs ARM_API_KEY set on the arm",
    404: "no such paper in memory, no such path, or the docs are off",
    408: "the body arrived too slowly, or Serve's proxy timed the request out",
    413: "a body over 16 KiB",
    414: "a URL over 2 KiB",
    422: "invalid input: `detail` names each field",
    429: "Serve's proxy is shedding load: retry after `Retry-After` seconds",
    500: "a bug: quote `request_id`",
    503: "overloaded, arXiv unavailable, a stage unavailable, or the deadline passed: retry "
    "after `Retry-After` seconds",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (all of them when none is named)."""
    chosen = statuses or tuple(_WHEN)
    return {s: {"model": ErrorBody, "description": _WHEN[s]} for s in chosen}


# What every work route may answer: the caps, auth, validation, overload and the stages.
WORK_ERRORS = errors(401, 408, 413, 414, 422, 429, 500, 503)
