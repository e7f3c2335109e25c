"""``POST /execute``: find, rank, summarise, cite and remember papers for a query."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from deployments.ingress.flow.pipeline import ResearchPipeline
from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.errors import request_id
from deployments.ingress.http.replica import current_flow
from deployments.ingress.http.responses import WORK_ERRORS, errors
from models.citations import available_styles
from models.research import ResearchRequest, ResearchResponse

router = APIRouter(dependencies=[Depends(require_bearer)])


def require_style(style: str) -> None:
    """Refuse a CSL style the arm does not ship, naming the field (422)."""
    if style not in available_styles():
        message = f"unknown CSL style {style!r} (e.g. apa, ieee, chicago-author-date, nature)"
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
) -> JSONResponse:
    """Search arXiv, rank by meaning, summarise and remember the best papers."""
    require_style(body.citation_style)  # before any work: an unknown style is a 422
    started = time.perf_counter()
    response = await flow.execute(body, request_id(request))
    metrics = request.app.state.metrics
    metrics.record(len(response.papers), time.perf_counter() - started)
    metrics.reused(response.provenance.cache.get("summaries_reused", 0))
    return JSONResponse(response.model_dump(mode="json"))
