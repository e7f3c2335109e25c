"""The load benchmark's report: the graph against the seed design, as a table, a plot and
``load.md`` / ``runs.json`` / ``load.png`` in ``--out``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.load.driver import Run


def table(runs: list[Run]) -> str:
    by = {(r.scenario, r.system, r.concurrency): r for r in runs}
    lines = [
        "| scenario | c | graph req/s | graph p50 ms | graph p95 ms | seed req/s | "
        "seed p50 ms | seed p95 ms | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in ("cold", "warm", "llm-bound"):
        for c in sorted({r.concurrency for r in runs}):
            g, s = by.get((scenario, "graph", c)), by.get((scenario, "seed", c))
            if not g or not s:
                continue
            speedup = g.rps / s.rps if s.rps else float("inf")
            lines.append(
                f"| {scenario} | {c} | {g.rps:.2f} | {g.p50_ms:.0f} | {g.p95_ms:.0f} | "
                f"{s.rps:.2f} | {s.p50_ms:.0f} | {s.p95_ms:.0f} | {speedup:.2f}x |"
            )
    return "\n".join(lines)


def plot(runs: list[Run], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, scenario in zip(axes, ("cold", "warm", "llm-bound"), strict=True):
        for system, style in (("graph", "o-"), ("seed", "s--")):
            points = sorted(
                (r.concurrency, r.rps)
                for r in runs
                if r.scenario == scenario and r.system == system
            )
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], style, label=system)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([1, 8, 32], labels=["1", "8", "32"])
        ax.set_title(scenario)
        ax.set_xlabel("concurrent requests")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("requests / s")
    axes[0].legend()
    fig.suptitle("research arm: Ray Serve graph vs the seed design (2-core CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(out: Path, report: str, figures: dict[str, Any], runs: list[Run]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.md").write_text(
        f"# Load benchmark\n\n{report}\n\nFigures: `{json.dumps(figures)}`\n"
    )
    (out / "runs.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
    plot(runs, out / "load.png")
