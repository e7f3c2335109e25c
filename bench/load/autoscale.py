"""Autoscaling, shown: drive one stage past its ``target_ongoing_requests``, watch Serve add
replicas, stop, watch it remove them.

    python -m bench.load.autoscale [--load-s 60] [--idle-s 60] [--concurrency 16] [--plot PATH]

The stage is the Summarizer with the OpenAI-compatible backend against the local stand-in, which
answers each call after ``--llm-latency-s`` (a remote LLM: the stage waits, it does not compute,
so more replicas mean more throughput even on two cores). The graph is the real one
(``graph.build_app``); only the Summarizer's Serve options are the benchmark's: at most
``MAX_ONGOING`` calls per replica, autoscaled from 1 to ``MAX_REPLICAS`` replicas around
``TARGET_ONGOING`` ongoing calls each. The driver calls the Summarizer's handle at a fixed
concurrency with papers it has never seen (no summary cache hits), samples Serve's status every
second, and reports replicas over time (a plot), throughput at one replica and at the most, and
how long the scale-up and scale-down took. Last line: one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from arm_dev.faults import deployment_state
from arm_dev.harness import ROOT, arxiv_standin, deploy_graph, graph_args, log, serve_started
from arm_dev.openai_standin import OpenAIStandIn

APP = "autoscale"
STAGE = "Summarizer"
MAX_ONGOING = 4  # calls one replica takes at once: one replica tops out at 4 / latency calls/s
TARGET_ONGOING = 2
MAX_REPLICAS = 4
AUTOSCALING = {
    "min_replicas": 1,
    "max_replicas": MAX_REPLICAS,
    "target_ongoing_requests": TARGET_ONGOING,
    # Serve's defaults are 30 s and 600 s: shortened so a run takes two minutes, with ten
    # seconds at one replica to measure before the scale-up.
    "upscale_delay_s": 10,
    "downscale_delay_s": 15,
    "look_back_period_s": 5,
}


@dataclass
class Sample:
    """One second of the run."""

    t_s: float
    phase: str  # load | idle
    replicas: int  # RUNNING replicas of the stage
    target: int  # replicas Serve is heading for (RUNNING + STARTING)
    completed_per_s: float


@dataclass
class Report:
    concurrency: int
    llm_latency_s: float
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0

    def throughput(self, phase: str, replicas: int) -> float | None:
        """Mean calls/s over the load seconds spent at exactly ``replicas`` replicas."""
        values = [
            s.completed_per_s
            for s in self.samples
            if s.phase == phase and s.replicas == replicas and s.target == replicas
        ]
        return round(sum(values) / len(values), 1) if values else None

    def first(self, phase: str, replicas: int, *, at_least: bool) -> float | None:
        for s in self.samples:
            if s.phase == phase and (
                s.replicas >= replicas if at_least else s.replicas <= replicas
            ):
                return s.t_s
        return None

    def summary(self) -> dict[str, Any]:
        peak = max((s.replicas for s in self.samples), default=0)
        load_end = max((s.t_s for s in self.samples if s.phase == "load"), default=0.0)
        at_peak = self.first("load", peak, at_least=True)
        back_to_one = self.first("idle", 1, at_least=False)
        return {
            "concurrency": self.concurrency,
            "llm_latency_s": self.llm_latency_s,
            "max_ongoing_requests": MAX_ONGOING,
            "autoscaling_config": AUTOSCALING,
            "peak_replicas": peak,
            "calls_per_s_at_1_replica": self.throughput("load", 1),
            f"calls_per_s_at_{peak}_replicas": self.throughput("load", peak),
            "s_to_peak": at_peak,
            "s_from_stop_to_1_replica": (
                round(back_to_one - load_end, 1) if back_to_one is not None else None
            ),
            "errors": self.errors,
        }


def replica_counts() -> tuple[int, int]:
    """(RUNNING, RUNNING + STARTING) replicas of the stage, from Serve's status."""
    _, counts = deployment_state(APP, STAGE)
    running = counts.get("RUNNING", 0)
    return running, running + counts.get("STARTING", 0)


async def drive(
    handle: Any, concurrency: int, load_s: float, idle_s: float, report: Report
) -> None:
    """``concurrency`` callers for ``load_s``, then none for ``idle_s``; a sample a second."""
    done = 0
    stop = asyncio.Event()
    counter = iter(range(10**9))

    async def caller() -> None:
        nonlocal done
        while not stop.is_set():
            i = next(counter)
            abstract = (
                f"We study case {i} of adaptive replica counts. Our method settles in {i % 7 + 2} "
                "seconds. It needs no tuning."
            )
            try:
                await handle.summarize.remote(f"Paper {i}", abstract)
                done += 1
            except Exception:  # a failure is counted, not fatal: the report says how many
                report.errors += 1

    started = time.monotonic()
    callers = [asyncio.create_task(caller()) for _ in range(concurrency)]
    last = 0
    while (elapsed := time.monotonic() - started) < load_s + idle_s:
        await asyncio.sleep(1.0)
        phase = "load" if elapsed < load_s else "idle"
        if phase == "idle" and not stop.is_set():
            stop.set()
        running, target = replica_counts()
        report.samples.append(
            Sample(round(time.monotonic() - started, 1), phase, running, target, done - last)
        )
        last = done
        log(
            f"{report.samples[-1].t_s:6.1f}s {phase:4} replicas {running}->{target} "
            f"{report.samples[-1].completed_per_s:5.1f} calls/s"
        )
    await asyncio.gather(*callers)


def plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t_s for s in report.samples]
    fig, replicas_axis = plt.subplots(figsize=(8, 3.6), dpi=110)
    replicas_axis.step(
        t,
        [s.replicas for s in report.samples],
        where="post",
        color="tab:blue",
        label="running replicas",
    )
    replicas_axis.step(
        t,
        [s.target for s in report.samples],
        where="post",
        color="tab:blue",
        linestyle=":",
        label="running + starting",
    )
    replicas_axis.set_ylabel("Summarizer replicas", color="tab:blue")
    replicas_axis.set_ylim(0, MAX_REPLICAS + 0.5)
    replicas_axis.set_xlabel("seconds")
    calls_axis = replicas_axis.twinx()
    calls_axis.plot(
        t, [s.completed_per_s for s in report.samples], color="tab:orange", label="calls/s"
    )
    calls_axis.set_ylabel("calls/s", color="tab:orange")
    load_end = max((s.t_s for s in report.samples if s.phase == "load"), default=0.0)
    replicas_axis.axvspan(0, load_end, color="0.92", zorder=0)
    replicas_axis.set_title(
        f"Summarizer autoscaling: {report.concurrency} concurrent callers (shaded), then none; "
        f"LLM {report.llm_latency_s * 1000:.0f} ms/call",
        fontsize=9,
    )
    lines = replicas_axis.get_legend_handles_labels()
    more = calls_axis.get_legend_handles_labels()
    replicas_axis.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load.autoscale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--load-s", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--idle-s", type=float, default=60.0, help="seconds without load after")
    parser.add_argument("--concurrency", type=int, default=16, help="callers during the load")
    parser.add_argument("--llm-latency-s", type=float, default=0.25, help="the LLM's s per call")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "autoscaling.png")
    args = parser.parse_args(argv)

    from ray import serve

    report = Report(args.concurrency, args.llm_latency_s)
    with (
        arxiv_standin() as arxiv,
        OpenAIStandIn(latency_s=args.llm_latency_s) as llm,
        tempfile.TemporaryDirectory() as data,
        # Serve's proxy unused (the stage is driven through its handle) and left without the
        # error callback, as this benchmark always ran.
        serve_started(
            proxy_errors=False,
            port=0,
            num_cpus=8,
            include_dashboard=False,
            namespace="bench-autoscale",
        ),
    ):
        deploy_graph(
            APP,
            graph_args(
                arxiv.url,
                data,
                summarizer_backend="openai",
                openai_base_url=llm.base_url,
                summarizer_model="standin-model",
            ),
            options={
                STAGE: {
                    "max_ongoing_requests": MAX_ONGOING,
                    "autoscaling_config": AUTOSCALING,
                    "ray_actor_options": {"num_cpus": 0.1},
                }
            },
        )
        handle = serve.get_deployment_handle(STAGE, app_name=APP)
        log(
            f"driving {STAGE} at concurrency {args.concurrency} for {args.load_s:.0f} s, "
            f"then idle for {args.idle_s:.0f} s"
        )
        asyncio.run(drive(handle, args.concurrency, args.load_s, args.idle_s, report))
    plot(report, args.plot)
    summary = report.summary()
    log(f"plot: {args.plot}")
    print(json.dumps({**summary, "samples": [asdict(s) for s in report.samples]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
