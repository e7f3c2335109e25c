"""``POST /memory/search``: what the arm has stored, by meaning."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from deployments.ingress.flow.pipeline import ResearchPipeline
from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.replica import current_flow
from deployments.ingress.http.responses import WORK_ERRORS
from models.research import MemorySearchRequest, MemorySearchResponse

router = APIRouter(dependencies=[Depends(require_bearer)])


@router.post(
    "/memory/search",
    operation_id="search_memory",
    response_model=MemorySearchResponse,
    responses=WORK_ERRORS,
)
async def search_memory(
    body: MemorySearchRequest, flow: Annotated[ResearchPipeline, Depends(current_flow)]
) -> JSONResponse:
    """Semantic search over the papers the arm has stored."""
    result = await flow.memory_search(body)
    return JSONResponse(result.model_dump(mode="json"))
