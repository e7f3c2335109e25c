"""``POST /execute``: find, rank, summarise, cite and remember papers for a query."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from deployments.ingress.flow.idempotency import IdempotencyConflict
from deployments.ingress.flow.pipeline import ResearchPipeline
from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.errors import request_id
from deployments.ingress.http.replica import current_flow
from deployments.ingress.http.responses import WORK_ERRORS, errors
from models.citations import unknown_style
from models.research import ResearchRequest, ResearchResponse

router = APIRouter(dependencies=[Depends(require_bearer)])


def require_style(style: str) -> None:
    """Refuse a CSL style the arm does not ship, naming the field (422)."""
    if (message := unknown_style(style)) is not None:
        error = {"type": "value_error", "loc": ("body", "citation_style"), "msg": message}
        raise RequestValidationError([error])


@router.post(
    "/execute",
    operation_id="execute",
    response_model=ResearchResponse,
    responses={**WORK_ERRORS, **errors(400)},
)
async def execute(
    body: ResearchRequest,
    request: Request,
    flow: Annotated[ResearchPipeline, Depends(current_flow)],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Run this request once: a repeat with the same key within an hour "
            "answers the stored response, or waits for the one in flight.",
        ),
    ] = None,
) -> JSONResponse:
    """Search arXiv, rank by meaning, summarise and remember the best papers."""
    require_style(body.citation_style)  # before any work: an unknown style is a 422
    metrics = request.app.state.metrics
    started = time.perf_counter()
    with metrics.call() as call:  # failed and timed-out requests counted too, with their time
        if idempotency_key is None:
            response, replayed = await flow.execute(body, request_id(request)), False
        else:
            response, replayed = await _run_once(flow, idempotency_key, body, request)
        if not replayed:  # a replay did no work
            call.items = len(response.papers)
            metrics.reused(response.provenance.cache.get("summaries_reused", 0))
            metrics.executed(time.perf_counter() - started, warm=is_warm(response))
    headers = {"Idempotency-Replayed": "true"} if replayed else None
    return JSONResponse(response.model_dump(mode="json"), headers=headers)


def is_warm(response: ResearchResponse) -> bool:
    """Whether the answer came from what the arm holds: no request to arXiv's API waited on (a
    cached search, or the local index alone), no text embedded, no summary made."""
    cache = response.provenance.cache
    searched_locally = cache.get("arxiv_cache_hit", 0) == 1 or (
        response.provenance.models.get("search") == "index"
    )
    return (
        searched_locally and cache.get("embedded", 0) == 0 and cache.get("summaries_made", 0) == 0
    )


async def _run_once(
    flow: ResearchPipeline, key: str, body: ResearchRequest, request: Request
) -> tuple[ResearchResponse, bool]:
    """The request run once for its key (``flow.idempotent``); a key reused with another
    body is a 422 naming the header."""
    try:
        return await flow.idempotent.run(key, body, lambda: flow.execute(body, request_id(request)))
    except IdempotencyConflict as exc:
        error = {"type": "value_error", "loc": ("header", "Idempotency-Key"), "msg": str(exc)}
        raise RequestValidationError([error]) from None
