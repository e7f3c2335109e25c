"""``POST /read``: one paper's full text, a window at a time, with its outline and, for a
question, its best passages. Links, not whole papers: ``max_chars`` is capped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from deployments.ingress.flow.pipeline import ResearchPipeline
from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.replica import current_flow
from deployments.ingress.http.responses import WORK_ERRORS
from models.research import ReadRequest, ReadResponse

router = APIRouter(dependencies=[Depends(require_bearer)])


@router.post("/read", operation_id="read_paper", response_model=ReadResponse, responses=WORK_ERRORS)
async def read_paper(
    body: ReadRequest, flow: Annotated[ResearchPipeline, Depends(current_flow)]
) -> JSONResponse:
    """A window of a paper's full text (HTML first, PDF after), its outline with links, and
    with a ``question`` the paper's passages ranked for it. A paper that cannot be read in
    time answers 200 with no text and a warning naming the reason."""
    result = await flow.read(body)
    return JSONResponse(result.model_dump(mode="json"))
