"""``GET /health`` from Serve's own view of the stages: each replica's ``check_health``
decides whether Serve counts it as running, so the answer costs no stage a call, waits in no
stage's queue and shows in no stage's metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deployments.common.logs import arm_logger, log_event
from models.health import HealthStatus, StageHealth, StageState
from models.version import arm_version

logger = arm_logger(__name__)

# Deployment name -> the stage name /health reports; any other deployment of the application
# (Ray Serve LLM's, or a stand-in for it) is the "llm" stage.
STAGE_NAMES = {
    "Ingress": "ingress",
    "ArxivFetcher": "arxiv",
    "ArxivGate": "arxiv_gate",
    "Embedder": "embedder",
    "Summarizer": "summarizer",
    "MemoryWriter": "memory",
    "Reader": "reader",
}
STAGE_ORDER = (
    "ingress",
    "arxiv",
    "arxiv_gate",
    "embedder",
    "summarizer",
    "memory",
    "reader",
    "llm",
)


@dataclass
class DeploymentView:
    """What Serve says of one deployment: its status and its replicas' states with counts."""

    status: str
    replica_states: dict[str, int] = field(default_factory=dict)


def stage_health(view: DeploymentView) -> StageHealth:
    """down when no replica runs; degraded when some run but Serve reports the deployment
    unhealthy (a replica failed its ``check_health`` or its start); ok otherwise, replicas
    starting or stopping while it scales included."""
    running = view.replica_states.get("RUNNING", 0)
    total = sum(view.replica_states.values())
    detail = f"{running}/{total} replicas running" if total else "no replicas"
    state: StageState
    if running == 0:
        state = "down"
    elif view.status in ("UNHEALTHY", "DEPLOY_FAILED"):
        state = "degraded"
    else:
        state = "ok"
    return StageHealth(state=state, detail=f"{detail} ({view.status.lower()})")


def health_report(arm_id: str, version: str, views: Mapping[str, DeploymentView]) -> HealthStatus:
    """The overall state: down when any stage is down, degraded when any is degraded."""
    named = {STAGE_NAMES.get(name, "llm"): view for name, view in views.items()}
    stages = {stage: stage_health(named[stage]) for stage in sorted(named, key=STAGE_ORDER.index)}
    states = {stage.state for stage in stages.values()}
    overall: StageState = (
        "down" if "down" in states else "degraded" if "degraded" in states else "ok"
    )
    return HealthStatus(status=overall, arm_id=arm_id, version=version, stages=stages)


def unknown_report(arm_id: str, version: str, reason: str) -> HealthStatus:
    """When Serve's controller cannot be asked: the Ingress answers, the rest is unknown."""
    return HealthStatus(
        status="degraded",
        arm_id=arm_id,
        version=version,
        stages={"ingress": StageHealth(state="degraded", detail=f"stage states unknown: {reason}")},
    )


def _value(member: Any) -> str:
    """An enum member's value (Serve's statuses are str enums), or the thing as text."""
    return str(getattr(member, "value", member))


def views_of(application_status: Any) -> dict[str, DeploymentView]:
    """Serve's ``ApplicationStatusOverview`` (``serve.status().applications[name]``) as plain
    views: deployment name -> status and replica states."""
    return {
        name: DeploymentView(
            _value(d.status), {_value(k): int(n) for k, n in d.replica_states.items()}
        )
        for name, d in application_status.deployments.items()
    }


class StageStates:
    """``/health``'s answer from ``read_status`` (a blocking call to Serve's controller
    returning the application's status; run on a thread, given up after ``timeout_s``), asked
    at most every ``cache_s`` seconds however often probes come."""

    @classmethod
    def of_this_application(cls, arm_id: str) -> StageStates:
        """Over the status of the application this replica belongs to (in a Serve replica)."""
        from ray import serve

        app_name = serve.get_replica_context().app_name
        return cls(arm_id, lambda: serve.status().applications[app_name])

    def __init__(
        self,
        arm_id: str,
        read_status: Callable[[], Any],
        cache_s: float = 2.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.arm_id = arm_id
        self._read_status = read_status
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._last: tuple[float, HealthStatus] | None = None

    async def report(self) -> HealthStatus:
        if self._last is None or self._clock() - self._last[0] > self.cache_s:
            self._last = (self._clock(), await self._read())
        return self._last[1]

    async def _read(self) -> HealthStatus:
        try:
            status = await asyncio.wait_for(asyncio.to_thread(self._read_status), self.timeout_s)
            views = views_of(status)
        except Exception as exc:
            log_event(logger, logging.WARNING, "health.serve_status.unavailable", error=repr(exc))
            return unknown_report(self.arm_id, arm_version(), type(exc).__name__)
        return health_report(self.arm_id, arm_version(), views)
