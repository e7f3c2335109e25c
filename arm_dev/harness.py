"""The graph on stand-ins: the one way the load benchmarks (``bench.load``) and the graph tests
(``tests/graph/conftest.py``) start Ray and Serve, point the graph at the local arXiv stand-in
and deploy it.

    with serve_started(proxy_errors=True, num_cpus=8) as cluster, arxiv_standin() as arxiv:
        deploy_graph("main", graph_args(arxiv.url, folder))   # at cluster.url + "/main"

or, as ``serve run serve_config.yaml`` would, with args overridden::

    ConfigApp.read().deploy(arxiv_api_url=arxiv.url, qdrant_path=...)

Ray and the graph are imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from arm_dev.arxiv import SAMPLE_CORPUS, Record, StandIn, load_records

ROOT = Path(__file__).resolve().parents[1]
SERVE_CONFIG = ROOT / "serve_config.yaml"

# Serve's proxy answers its own errors (queue full, timeout, a replica gone) in the arm's JSON
# shape when Ray starts with this set, as `make run` and the KubeRay ConfigMap do.
PROXY_CALLBACK = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
PROXY_ERRORS = "deployments.proxy.error_shape.middlewares"

# Light CPU shares: several applications share the 2-core CI machine (Ray's CPUs are logical).
LIGHT: dict[str, Any] = {"ray_actor_options": {"num_cpus": 0.05}, "max_ongoing_requests": 64}
TEST_OPTIONS: dict[str, dict[str, Any]] = {
    "Ingress": LIGHT,
    "ArxivFetcher": LIGHT,
    "Summarizer": LIGHT,
    "MemoryWriter": LIGHT,
    "Reader": LIGHT,
    "Embedder": {
        "ray_actor_options": {"num_cpus": 0.25},
        "max_ongoing_requests": 64,
        "user_config": {"max_batch_size": 16, "batch_wait_timeout_s": 0.01},
    },
}
# The tests' arXiv client: one quick retry, so a fault mode shows in seconds.
TEST_ARGS: dict[str, Any] = {"arxiv_num_retries": 1, "arxiv_backoff_base_s": 0.05}


def log(message: str) -> None:
    """A progress line on stderr (stdout is the benchmarks' figures)."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    """A started Ray with Serve's HTTP proxy."""

    url: str  # http://127.0.0.1:PORT, the proxy
    session_dir: Path  # where this Ray writes its logs


@contextmanager
def serve_started(
    *, proxy_errors: bool, port: int | None = None, **ray_init: Any
) -> Iterator[Cluster]:
    """``ray.init(**ray_init)`` and Serve's proxy on 127.0.0.1:``port`` (a free one when None);
    both stopped on exit. ``proxy_errors``: the proxy answers its own errors in the arm's shape
    (``PROXY_ERRORS``; the proxy process inherits this process's environment)."""
    import ray
    from ray import serve

    if proxy_errors:
        os.environ[PROXY_CALLBACK] = PROXY_ERRORS
    context: Any = ray.init(**ray_init)  # a RayContext (typed as BaseContext)
    try:
        port = free_port() if port is None else port
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        yield Cluster(f"http://127.0.0.1:{port}", Path(context.address_info["session_dir"]))
    finally:
        serve.shutdown()
        ray.shutdown()


def arxiv_standin(records: list[Record] | None = None, **options: Any) -> StandIn:
    """The arXiv stand-in over ``records`` (the packaged sample corpus when None), not yet
    serving: ``with arxiv_standin() as arxiv:``. ``options``: ``StandIn``'s (``latency_s``...)."""
    return StandIn(load_records([SAMPLE_CORPUS]) if records is None else records, **options)


def graph_args(
    arxiv_url: str, folder: str | Path, *, outbox: str = "outbox.sqlite", **settings: Any
) -> dict[str, Any]:
    """The graph's args against the arXiv stand-in at ``arxiv_url`` with no politeness interval,
    every store under ``folder`` (never the checkout's ./data: after `make ingest` its index
    would answer instead of the stand-in), then ``settings`` over them."""
    folder = Path(folder)
    return {
        "arxiv_api_url": arxiv_url,
        "arxiv_min_interval_s": 0.0,
        "qdrant_path": str(folder / "qdrant"),
        "index_path": str(folder / "index"),
        "outbox_path": str(folder / outbox),
        "fulltext_cache_path": str(folder / "fulltext"),
        **settings,
    }


def light_options(
    options: Mapping[str, Mapping[str, Any]] | None = None, env: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """``TEST_OPTIONS`` with ``options`` merged over each deployment's; ``env``: environment
    variables of the Ingress's replicas."""
    merged = {k: {**v, **(options or {}).get(k, {})} for k, v in TEST_OPTIONS.items()}
    if env:
        merged["Ingress"] = {
            **merged["Ingress"],
            "ray_actor_options": {"num_cpus": 0.05, "runtime_env": {"env_vars": env}},
        }
    return merged


def deploy_graph(
    name: str,
    args: Mapping[str, Any],
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    llm: Any = None,
    route_prefix: str | None = None,
) -> Any:
    """``graph.build_app(args)`` run as application ``name`` at ``route_prefix`` (``/name`` when
    None); blocks until it is running and returns its ingress handle."""
    from ray import serve

    from graph import build_app

    app = build_app(args, llm=llm, options=options)
    return serve.run(app, name=name, route_prefix=route_prefix or f"/{name}")


@dataclass
class ConfigApp:
    """The application of ``serve_config.yaml``: its name, args and per-stage Serve options."""

    name: str
    args: dict[str, Any]
    options: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, path: Path = SERVE_CONFIG) -> ConfigApp:
        app = yaml.safe_load(path.read_text())["applications"][0]
        options = {
            d["name"]: {k: v for k, v in d.items() if k != "name"}
            for d in app.get("deployments", [])
        }
        return cls(app["name"], dict(app.get("args") or {}), options)

    def deploy(self, **overrides: Any) -> None:
        """Deploy it at ``/`` as ``serve run`` would, with args overridden (the stand-ins'
        URLs, fresh stores)."""
        deploy_graph(self.name, {**self.args, **overrides}, options=self.options, route_prefix="/")
