"""This process's Ingress replica, as its HTTP edge sees it: the settings, the request flow and
Serve's view of the stages, for the middleware and the routes.

Why a module-level holder, not ``app.state`` nor route methods on the deployment class: Serve
serves a copy of the FastAPI app, made (pickled) when ``@serve.ingress`` decorates the class,
so nothing the constructor puts on the module's ``app.state`` reaches the app that answers; and
it ships the deployment class by value, so a global the constructor assigns through would be a
copy too. Code is shared by reference, and one Ingress replica runs per process: its
constructor calls ``serve_replica`` (a function of this module, pickled by name), and the served
app's middleware and routes read ``REPLICA``. (``lifespan`` state is fine: it runs on the
served copy.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.errors import StageError

if TYPE_CHECKING:
    from deployments.ingress.flow.pipeline import ResearchPipeline
    from deployments.ingress.http.health import StageStates
    from models.settings import IngressSettings


@dataclass
class Replica:
    """``max_in_flight``: work requests one replica runs at once (MAX_IN_FLIGHT); ``docs``:
    serve /docs, /redoc and /openapi.json (ARM_DOCS); the rest: set once the replica serves."""

    max_in_flight: int = 64
    docs: bool = True
    settings: IngressSettings | None = None
    flow: ResearchPipeline | None = None
    stage_states: StageStates | None = None


REPLICA = Replica()


def serve_replica(
    settings: IngressSettings, flow: ResearchPipeline, stage_states: StageStates
) -> None:
    """What the Ingress's constructor hands its routes (see the module docstring)."""
    REPLICA.max_in_flight, REPLICA.docs = settings.max_in_flight, settings.docs
    REPLICA.settings, REPLICA.flow, REPLICA.stage_states = settings, flow, stage_states


def tune_replica(settings: IngressSettings) -> None:
    """The settings after a live ``reconfigure``."""
    REPLICA.settings = settings


def current_flow() -> ResearchPipeline:
    """The replica's request flow (a FastAPI dependency); 503 while the replica starts."""
    if REPLICA.flow is None:
        raise StageError("the Ingress replica is starting", "ingress")
    return REPLICA.flow


def current_settings() -> IngressSettings:
    """The replica's settings (a FastAPI dependency); 503 while the replica starts."""
    if REPLICA.settings is None:
        raise StageError("the Ingress replica is starting", "ingress")
    return REPLICA.settings


def current_stage_states() -> StageStates:
    """Serve's view of the stages (a FastAPI dependency); 503 while the replica starts."""
    if REPLICA.stage_states is None:
        raise StageError("the Ingress replica is starting", "ingress")
    return REPLICA.stage_states
