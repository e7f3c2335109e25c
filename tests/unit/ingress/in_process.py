"""The real Ingress in process, without Ray: its app as Serve serves it, its routes,
``__init__`` and ``__del__``, over the plain stages of ``stage_fakes``."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ray.serve._private.http_util import ASGIAppReplicaWrapper

from deployments.ingress.http.replica import REPLICA
from models.settings import Settings
from tests.unit.ingress.stage_fakes import PAPERS, Embedder, Fetcher, Memory, Reader, Summarizer


class AsHandle:
    """A plain stage object dressed as a ``DeploymentHandle``: ``handle.method.remote(...)``."""

    def __init__(self, stage: object) -> None:
        self._stage = stage

    def __getattr__(self, name: str) -> Any:
        return SimpleNamespace(remote=getattr(self._stage, name))


async def _as_serve_does(method: Any, *args: Any) -> None:
    """A call the way Serve's replica makes it: on the event loop, awaiting a coroutine."""
    result = method(*args)
    if inspect.isawaitable(result):
        await result


@contextmanager
def ingress_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **settings: Any
) -> Iterator[TestClient]:
    """The real Ingress (its app, routes, ``__init__`` and ``__del__``) in-process over the
    stand-in stages, ``settings`` laid over the defaults and its files under ``tmp_path``.
    Serve's replica context and status are faked (every stage running)."""
    from ray import serve

    from deployments.ingress import deployment  # binds the routes to the class, as Serve does

    wrapper = deployment.Ingress.func_or_class  # Serve's subclass of the arm's class
    cls = wrapper.__mro__[wrapper.__mro__.index(ASGIAppReplicaWrapper) - 1]
    instance = cls.__new__(cls)
    context = SimpleNamespace(app_name="arm", servable_object=instance)
    running = SimpleNamespace(
        status=SimpleNamespace(value="HEALTHY"), replica_states={"RUNNING": 1}
    )
    status = SimpleNamespace(
        applications={"arm": SimpleNamespace(deployments={"Ingress": running})}
    )
    monkeypatch.setattr(serve, "get_replica_context", lambda: context)
    monkeypatch.setattr(serve, "status", lambda: status)
    given = {"outbox_path": str(tmp_path / "outbox.sqlite"), **settings}
    stages = (Fetcher(list(PAPERS)), Embedder(), Summarizer(), Memory(), Reader())
    handles = [AsHandle(s) for s in stages]
    for name in ("max_in_flight", "docs"):  # what the constructor sets, back after the test
        monkeypatch.setattr(REPLICA, name, getattr(REPLICA, name))
    # The app Serve serves: the copy @serve.ingress made of the module's app (so what the
    # constructor puts on the module's app.state never reaches it).
    (served,) = [
        cell.cell_contents
        for cell in wrapper.__init__.__closure__ or ()
        if isinstance(cell.cell_contents, FastAPI)
    ]
    assert served is not deployment.app
    # Entered first: the lifespan runs (as in the replica) and the app's loop is there for
    # what __init__ starts.
    with TestClient(served, raise_server_exceptions=False) as client:
        ingress = Settings(**given).for_stages().ingress
        client.portal.call(_as_serve_does, cls.__init__, instance, ingress, *handles)
        try:
            yield client
        finally:
            if hasattr(cls, "__del__"):
                client.portal.call(_as_serve_does, instance.__del__)
