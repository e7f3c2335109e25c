"""``GET /capabilities``: what the orchestrator needs to call the arm, limits read from the
request models themselves."""

from __future__ import annotations

from models.health import CapabilityManifest
from models.research import MemorySearchRequest, ResearchRequest, ResearchResponse, field_bounds
from models.version import arm_version

DESCRIPTION = (
    "Finds arXiv papers for a query, ranks them by semantic similarity, summarises each in one "
    "sentence, cites it (APA, BibTeX) and remembers it."
)
ENDPOINTS = {
    "execute": "POST /execute",
    "memory_search": "POST /memory/search",
    "health": "GET /health",
    "capabilities": "GET /capabilities",
    "openapi": "GET /docs",
}


def capability_manifest(
    arm_id: str, models: dict[str, str], *, auth_required: bool, arxiv_min_interval_s: float
) -> CapabilityManifest:
    return CapabilityManifest(
        arm_id=arm_id,
        version=arm_version(),
        description=DESCRIPTION,
        endpoints=ENDPOINTS,
        input_schema=ResearchRequest.model_json_schema(),
        output_schema=ResearchResponse.model_json_schema(),
        limits={
            "max_papers": field_bounds(ResearchRequest, "max_papers")[1],
            "query_chars": list(field_bounds(ResearchRequest, "query")),
            "memory_search_limit": field_bounds(MemorySearchRequest, "limit")[1],
            "arxiv_min_interval_s": arxiv_min_interval_s,
            "auth": "bearer" if auth_required else "none",
        },
        models=dict(models),
    )
