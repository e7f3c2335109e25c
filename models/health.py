"""Schemas of ``GET /health`` and ``GET /capabilities``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, JsonValue

from models.contracts import SearchInfo

StageState = Literal["ok", "degraded", "down"]


class StageHealth(BaseModel):
    """One stage's state as Serve sees it (its replicas' ``check_health``); ``detail`` says how
    many replicas run, never a path or a statistic."""

    state: StageState
    detail: str = ""


class HealthStatus(BaseModel):
    """Overall state: ``ok`` when every stage is ok, ``down`` when any stage is down."""

    status: StageState
    arm_id: str
    version: str
    stages: dict[str, StageHealth] = Field(default_factory=dict)
    search: SearchInfo | None = Field(
        default=None,
        description="The search source in use (api, index, hybrid) and what the local index "
        "holds: records and the newest paper's date. Null while the fetcher does not answer.",
    )


class Limits(BaseModel):
    """What one request may ask, and how the arm paces and bounds its work."""

    max_papers: int = Field(description="Most papers one /execute answers with.")
    query_chars: tuple[int, int] = Field(description="Shortest and longest query, characters.")
    memory_search_limit: int = Field(description="Most papers one /memory/search answers with.")
    body_bytes: int = Field(description="Largest request body read.")
    arxiv_min_interval_s: float = Field(description="Seconds between two arXiv requests.")
    max_in_flight: int = Field(description="Work requests one Ingress replica runs at once.")
    request_deadline_s: float = Field(description="Every work request is answered within this.")
    auth: Literal["bearer", "none"]


class CapabilityManifest(BaseModel):
    """What the orchestrator needs to call the arm: endpoints and their JSON schemas."""

    arm_id: str
    name: str = "research-arm"
    version: str
    description: str
    endpoints: dict[str, str]
    input_schema: dict[str, JsonValue] = Field(description="JSON Schema of POST /execute's body.")
    output_schema: dict[str, JsonValue] = Field(description="JSON Schema of its answer.")
    limits: Limits
    models: dict[str, str] = Field(description="Stage -> what serves it.")
    search: SearchInfo | None = Field(
        default=None, description="As in /health: the search source and the local index."
    )
