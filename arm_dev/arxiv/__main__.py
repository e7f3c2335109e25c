"""``python -m arm_dev.arxiv [--host H] [--port 8081] [--corpus FILE ...] [--atom FILE]``: the
arXiv stand-in in the foreground (``make standin``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from arm_dev.arxiv.records import default_corpus, load_records
from arm_dev.arxiv.server import StandIn

logger = logging.getLogger("arm_dev.arxiv")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m arm_dev.arxiv",
        description="A local stand-in for arXiv's API: ``GET /api/query`` answered with real Atom.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--corpus", type=Path, nargs="*", help="JSON Lines records")
    parser.add_argument("--atom", type=Path, help="replay this Atom file for every query")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per answer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    records = load_records(args.corpus or default_corpus()) if not args.atom else []
    state = StandIn(
        records, atom_file=args.atom, host=args.host, port=args.port, latency_s=args.latency
    )
    logger.info("arXiv stand-in on %s with %d records", state.url, len(records))
    try:
        state.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
