"""``GET /capabilities``: what the orchestrator needs to call the arm, limits read from the
request models themselves."""

from __future__ import annotations

from deployments.ingress.http.limits import MAX_BODY_BYTES
from models.health import CapabilityManifest, Limits
from models.research import MemorySearchRequest, ResearchRequest, ResearchResponse, field_bounds
from models.settings import IngressSettings
from models.version import arm_version

DESCRIPTION = (
    "Finds arXiv papers for a query, ranks them by semantic similarity, summarises each in one "
    "sentence, cites it (APA, BibTeX) and remembers it; on request reads their full text and "
    "returns the passages that answer the query, with links to them."
)
ENDPOINTS = {
    "execute": "POST /execute",
    "read": "POST /read",
    "memory_search": "POST /memory/search",
    "health": "GET /health",
    "capabilities": "GET /capabilities",
    "openapi": "GET /docs",
}


def capability_manifest(
    settings: IngressSettings, models: dict[str, str], auth_required: bool
) -> CapabilityManifest:
    """The manifest of an Ingress with these settings; with ``docs`` off (ARM_DOCS=false) it
    names no /docs."""
    docs = settings.docs
    endpoints = ENDPOINTS if docs else {k: v for k, v in ENDPOINTS.items() if k != "openapi"}
    return CapabilityManifest(
        arm_id=settings.arm_id,
        version=arm_version(),
        description=DESCRIPTION,
        endpoints=endpoints,
        input_schema=ResearchRequest.model_json_schema(),
        output_schema=ResearchResponse.model_json_schema(),
        limits=Limits(
            max_papers=field_bounds(ResearchRequest, "max_papers")[1],
            query_chars=field_bounds(ResearchRequest, "query"),
            memory_search_limit=field_bounds(MemorySearchRequest, "limit")[1],
            body_bytes=MAX_BODY_BYTES,
            arxiv_min_interval_s=settings.arxiv_min_interval_s,
            max_in_flight=settings.max_in_flight,
            request_deadline_s=settings.request_deadline_s,
            auth="bearer" if auth_required else "none",
        ),
        models=dict(models),
    )
