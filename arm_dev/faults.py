"""Faults injected into a running graph from outside, as an operator's accident would: a stage's
replica process killed (SIGKILL) or frozen (SIGSTOP, then SIGCONT), and the checks that follow
(the stage back, nothing an answered request found missing from memory). Used by
tests/graph/test_faults.py and bench.load.soak; needs a driver connected to the graph's Ray
cluster (``ray.init``).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from models.paper import query_key


def replica_pids(app: str, deployment: str) -> list[int]:
    """The processes of the deployment's live replicas, from Ray's actor table."""
    from ray._private import state  # the GCS's table: works without the dashboard

    prefix = f"SERVE_REPLICA::{app}#{deployment}#"
    return [
        int(actor["Pid"])
        for actor in state.actors().values()
        if actor["State"] == "ALIVE" and (actor.get("Name") or "").startswith(prefix)
    ]


def kill_replica(app: str, deployment: str) -> int:
    """SIGKILL one live replica of the deployment; its pid."""
    pids = replica_pids(app, deployment)
    if not pids:
        raise LookupError(f"no live replica of {app}/{deployment}")
    os.kill(pids[0], signal.SIGKILL)
    return pids[0]


@contextmanager
def frozen_replica(app: str, deployment: str) -> Iterator[int]:
    """One live replica of the deployment frozen (SIGSTOP) for the block, as a hung process
    is: alive, holding its connections, answering nothing. Resumed (SIGCONT) after the block,
    however it ends, unless Serve replaced it meanwhile. Yields its pid."""
    pids = replica_pids(app, deployment)
    if not pids:
        raise LookupError(f"no live replica of {app}/{deployment}")
    os.kill(pids[0], signal.SIGSTOP)
    try:
        yield pids[0]
    finally:
        try:
            os.kill(pids[0], signal.SIGCONT)
        except ProcessLookupError:
            pass  # Serve's health check gave up on it and replaced it


def deployment_state(app: str, deployment: str) -> tuple[str, dict[str, int]]:
    """Serve's status of a deployment (HEALTHY, UPDATING...) and its replicas by state
    (RUNNING, STARTING...)."""
    from ray import serve

    status = serve.status().applications[app].deployments[deployment]
    states = {str(getattr(k, "value", k)): n for k, n in status.replica_states.items()}
    return str(getattr(status.status, "value", status.status)), states


def serving(app: str, deployment: str) -> bool:
    """Whether Serve reports the deployment HEALTHY with a running replica."""
    health, states = deployment_state(app, deployment)
    return health == "HEALTHY" and states.get("RUNNING", 0) >= 1


def wait_until_back(app: str, deployment: str, killed_pid: int, timeout_s: float = 180) -> float:
    """Seconds until the deployment serves again from a replica other than ``killed_pid``."""
    began = time.monotonic()
    while True:
        pids = replica_pids(app, deployment)
        if pids and killed_pid not in pids and serving(app, deployment):
            return time.monotonic() - began
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{app}/{deployment} not back {timeout_s:.0f} s after the kill")
        time.sleep(0.5)


def missing_from_memory(
    memory: Any, answered: Iterable[tuple[str, Iterable[str]]]
) -> tuple[set[tuple[str, str]], dict[str, Any]]:
    """(paper id, query) pairs of answered requests that memory does not hold (the paper, or
    that query in its history), and what memory holds for those papers. ``memory``: a
    DeploymentHandle to the MemoryWriter; ``answered``: (query, arXiv ids of its papers)."""
    wanted = {(arxiv_id, query) for query, ids in answered for arxiv_id in ids}
    stored = memory.lookup.remote(sorted({i for i, _ in wanted})).result()
    # By key: a popular paper's history holds more queries than a read lists (the newest 50).
    missing = {
        (i, q) for i, q in wanted if i not in stored or query_key(q) not in stored[i].query_keys
    }
    return missing, stored
