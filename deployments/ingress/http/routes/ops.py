"""``GET /health`` (open, for probes) and ``GET /capabilities``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from deployments.ingress.flow.pipeline import ResearchPipeline
from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.capabilities import capability_manifest
from deployments.ingress.http.health import StageStates
from deployments.ingress.http.replica import (
    current_flow,
    current_settings,
    current_stage_states,
)
from deployments.ingress.http.responses import errors
from models.health import CapabilityManifest, HealthStatus
from models.settings import IngressSettings

router = APIRouter()


@router.get(
    "/health",
    operation_id="get_health",
    response_model=HealthStatus,
    responses={
        **errors(408, 414, 429, 500),
        503: {"model": HealthStatus, "description": "a stage is down"},
    },
)
async def get_health(
    states: Annotated[StageStates, Depends(current_stage_states)],
    flow: Annotated[ResearchPipeline, Depends(current_flow)],
) -> JSONResponse:
    """Each stage's state as Serve sees it, and what the local index holds; never arXiv."""
    report = await states.report()
    report = report.model_copy(update={"search": await flow.stage_info.search()})
    status = 503 if report.status == "down" else 200
    return JSONResponse(report.model_dump(mode="json"), status)


@router.get(
    "/capabilities",
    operation_id="get_capabilities",
    response_model=CapabilityManifest,
    responses=errors(401, 408, 414, 429, 500, 503),
    dependencies=[Depends(require_bearer)],
)
async def get_capabilities(
    request: Request,
    settings: Annotated[IngressSettings, Depends(current_settings)],
    flow: Annotated[ResearchPipeline, Depends(current_flow)],
) -> CapabilityManifest:
    """What the arm does, its endpoints, limits and the JSON schemas of /execute."""
    info, auth = flow.stage_info, request.app.state.auth
    manifest = capability_manifest(settings, info.models, auth.required)
    return manifest.model_copy(update={"search": await info.search()})
