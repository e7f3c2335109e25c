"""``python -m bench.load [--config serve_config.yaml] [--out bench/out] [--quick] [--sources |
--evidence]``: the graph against the seed design and the model's limit
(``bench.load.versus_seed``), or with ``--sources`` the arXiv API source against the local index
(``bench.load.sources``), or with ``--evidence`` ``include_evidence`` cold and warm
(``bench.load.evidence``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from arm_dev.harness import ROOT, SERVE_CONFIG
from bench.load.driver import LEVELS, QUICK_LEVELS
from bench.load.evidence import benchmark_evidence
from bench.load.sources import benchmark_sources
from bench.load.versus_seed import benchmark


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description="Graph vs seed design vs raw model limit"
    )
    parser.add_argument("--config", type=Path, default=SERVE_CONFIG)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--quick", action="store_true", help="fewer requests per run")
    parser.add_argument(
        "--sources",
        action="store_true",
        help="instead: the arXiv API source against the local index (bench.load.sources)",
    )
    parser.add_argument(
        "--evidence",
        action="store_true",
        help="instead: include_evidence, cold and warm, at concurrency 8 and 32",
    )
    parser.add_argument("--levels", default="8,32", help="--evidence: concurrencies to run")
    args = parser.parse_args(argv)
    if args.evidence:
        requests = QUICK_LEVELS[32] if args.quick else LEVELS[32]
        levels = tuple(int(c) for c in args.levels.split(","))
        print(json.dumps(asyncio.run(benchmark_evidence(args.config, requests, levels))))
        return
    if args.sources:
        requests = QUICK_LEVELS[32] if args.quick else LEVELS[32]
        print(json.dumps(asyncio.run(benchmark_sources(args.config, requests))))
        return
    figures = asyncio.run(benchmark(args.config, args.out, QUICK_LEVELS if args.quick else LEVELS))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
