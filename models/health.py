"""Schemas of ``GET /health`` and ``GET /capabilities``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

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
    search: dict[str, Any] | None = Field(
        default=None,
        description="The search source in use (api, index, hybrid) and what the local index "
        "holds: records and the newest paper's date. Null while the fetcher does not answer.",
    )


class CapabilityManifest(BaseModel):
    """What the orchestrator needs to call the arm: endpoints and their JSON schemas."""

    arm_id: str
    name: str = "research-arm"
    version: str
    description: str
    endpoints: dict[str, str]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    limits: dict[str, Any]
    models: dict[str, str]
    search: dict[str, Any] | None = Field(
        default=None, description="As in /health: the search source and the local index."
    )
