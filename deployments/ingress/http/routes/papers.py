"""``GET /papers/{arxiv_id}`` (what memory holds of a paper) and ``DELETE`` (forget it: an
operator's call, allowed only where ``ARM_API_KEY`` guards the arm)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from deployments.ingress.flow.pipeline import ResearchPipeline
from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.replica import current_flow
from deployments.ingress.http.responses import WORK_ERRORS, errors
from models.errors import Forbidden
from models.paper import versionless
from models.research import PaperRecord

router = APIRouter(dependencies=[Depends(require_bearer)])

# New-style (2104.12255) and old-style (hep-ex/0406020) ids, a version suffix allowed.
ARXIV_ID = r"^(\d{4}\.\d{4,5}|[a-z][a-z.-]{0,15}(\.[A-Z]{2})?/\d{7})(v\d+)?$"
ArxivId = Annotated[
    str, Path(pattern=ARXIV_ID, description="arXiv id, e.g. 2104.12255 or hep-ex/0406020")
]


@router.get(
    "/papers/{arxiv_id:path}",
    operation_id="get_paper",
    response_model=PaperRecord,
    responses={**WORK_ERRORS, **errors(404)},
)
async def get_paper(
    arxiv_id: ArxivId, flow: Annotated[ResearchPipeline, Depends(current_flow)]
) -> JSONResponse:
    """What memory holds of a paper: its metadata, citations, summary and the queries that
    found it; 404 when the arm has not stored it."""
    record = await flow.paper_record(versionless(arxiv_id))
    if record is None:
        raise HTTPException(404, f"paper {arxiv_id} is not in memory")
    return JSONResponse(record.model_dump(mode="json"))


@router.delete(
    "/papers/{arxiv_id:path}",
    operation_id="forget_paper",
    status_code=204,
    responses={**WORK_ERRORS, **errors(403, 404)},
)
async def forget_paper(
    arxiv_id: ArxivId, request: Request, flow: Annotated[ResearchPipeline, Depends(current_flow)]
) -> Response:
    """Forget a paper (its vector, summary and query history); 404 when it was not stored.
    Needs ARM_API_KEY set on the arm: without a key anyone could empty memory."""
    if not request.app.state.auth.required:
        raise Forbidden("forgetting papers needs ARM_API_KEY set on the arm (and its token)")
    if not await flow.forget(versionless(arxiv_id)):
        raise HTTPException(404, f"paper {arxiv_id} is not in memory")
    return Response(status_code=204)
