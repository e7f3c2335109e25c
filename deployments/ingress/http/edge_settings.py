"""What the Ingress replica's settings tell its HTTP edge: the in-flight bound (``Admission``)
and whether the docs are served (``docs``).

Why a module-level holder and not ``app.state``: Serve serves a copy of the FastAPI app, made
(pickled) when ``@serve.ingress`` decorates the deployment class, so nothing the Ingress's
constructor puts on the module's ``app.state`` reaches the app that answers. Code is shared by
reference, though, and one Ingress replica runs per process: its constructor sets ``EDGE``, and
the served copy's middleware and routes read it. (``lifespan`` state is fine: it runs on the
served copy.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EdgeSettings:
    """``max_in_flight``: work requests one replica runs at once (MAX_IN_FLIGHT); ``docs``:
    serve /docs, /redoc and /openapi.json (ARM_DOCS)."""

    max_in_flight: int = 64
    docs: bool = True


EDGE = EdgeSettings()


def configure_edge(max_in_flight: int, docs: bool) -> None:
    """Set ``EDGE`` (the Ingress's constructor calls this). A function, not an assignment in
    the constructor: Serve pickles the deployment class by value, and a global it names (the
    ``EDGE`` object) would travel with it as a copy; a module's function is pickled by name,
    so this one sets the ``EDGE`` that the middleware and routes read."""
    EDGE.max_in_flight = max_in_flight
    EDGE.docs = docs
