"""How many Ray calls one ``POST /execute`` makes, cold and warm, counted in every process.

    python -m arm_dev.ray_calls [--source api|index]

Starts Ray with ``arm_dev/ray_calls_hook`` on every process's path (its ``sitecustomize`` logs
each ``DeploymentHandle.remote()``: caller and ``Deployment.method``), deploys the graph on the
arXiv stand-in (``arm_dev.harness``; with ``--source index``, over an index the ingest job fills
with the packaged sample corpus first), and sends three requests: a cold one (first query of a
fresh graph), the same again (warm: memory holds its papers), and a cold one with another query.
Prints each request's calls by ``caller -> Deployment.method``, then one JSON line. The counts
are the ones docs/development.md quotes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from arm_dev.arxiv import SAMPLE_CORPUS
from arm_dev.harness import (
    ROOT,
    arxiv_standin,
    deploy_graph,
    graph_args,
    light_options,
    log,
    serve_started,
)

HOOK = Path(__file__).resolve().parent / "ray_calls_hook"
QUERIES = (
    ("cold", "graph neural networks for molecules"),
    ("warm", "graph neural networks for molecules"),
    ("cold, another query", "dark matter halo"),
)


def _calls(log_file: Path) -> collections.Counter[str]:
    lines = [line for line in log_file.read_text().splitlines() if line]
    return collections.Counter(line.replace("\t", " -> ") for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arm_dev.ray_calls")
    parser.add_argument("--source", choices=("api", "index"), default="api")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ray-calls-"))
    log_file = folder / "calls.log"
    path = os.pathsep.join([str(HOOK), str(ROOT), os.environ.get("PYTHONPATH", "")])
    if args.source == "index":  # the index filled before the graph opens it
        env = {**os.environ, "INDEX_PATH": str(folder / "index"), "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "deployments.ingest", "--no-encode-check"]
        subprocess.run([*command, "--quiet", str(SAMPLE_CORPUS)], env=env, check=True)
    # The hook reaches the replicas and Serve's proxy through the environment they inherit.
    os.environ.update(ARM_CALL_LOG=str(log_file), PYTHONPATH=path)
    counts: dict[str, dict[str, int]] = {}
    runtime_env = {"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}}
    ray_options: dict[str, Any] = {"num_cpus": 8, "include_dashboard": False}
    ray_options["runtime_env"] = runtime_env
    with serve_started(proxy_errors=True, **ray_options) as cluster, arxiv_standin() as arxiv:
        settings = graph_args(arxiv.url, folder, arxiv_source=args.source)
        deploy_graph("calls", settings, options=light_options())
        time.sleep(5)  # the Ingress learns the stages' models once, at start
        counts["at start"] = dict(_calls(log_file))
        with httpx.Client(base_url=f"{cluster.url}/calls", timeout=120) as client:
            for label, query in QUERIES:
                log_file.write_text("")
                answer = client.post("/execute", json={"query": query, "max_papers": 5})
                answer.raise_for_status()
                time.sleep(1)  # lines written after the answer (none expected) still count
                counts[label] = dict(_calls(log_file))
    for label, calls in counts.items():
        log(f"{label}: {sum(calls.values())} calls")
        for call, n in sorted(calls.items()):
            log(f"  {n} x {call}")
    totals = {label: sum(calls.values()) for label, calls in counts.items()}
    print(json.dumps({"source": args.source, "calls": totals, "by_call": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
