"""``arm``: the research arm from a shell.

::

    arm search "graph neural networks" --max 5 --format table|json|bibtex|ris|csl
    arm memory "message passing" --limit 10 --format table|json
    arm paper 2402.00003 --format json|bibtex|ris|csl
    arm forget 2402.00003
    arm health --format table|json
    arm capabilities

Global options: ``--url`` (default ``$ARM_URL``, else http://127.0.0.1:8000), ``--api-key``
(default ``$ARM_API_KEY``), ``--timeout`` (seconds per attempt), ``--retry-budget`` (seconds).
Exit status: 0 done; 1 the arm answered an error, or none (the message and request id on
stderr), and ``arm health`` when the arm is down; 2 usage, or input refused before any call.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from arm_client.client import ArmClient
from arm_client.errors import ArmApiError
from arm_client.export import EXPORT_FORMATS, ExportError
from arm_client.models import (
    ArmWarning,
    HealthStatus,
    MemorySearchResponse,
    Paper,
    ResearchResponse,
)

ClientFactory = Callable[..., ArmClient]
WIDTH = 100


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arm", description="Find, rank, summarise and cite arXiv papers with the research arm."
    )
    parser.add_argument("--url", help="the arm's base URL (default: $ARM_URL, else :8000)")
    parser.add_argument("--api-key", help="bearer token (default: $ARM_API_KEY)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per attempt")
    parser.add_argument(
        "--retry-budget", type=float, default=60.0, help="seconds to keep retrying 503/429"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = commands.add_parser("search", help="find, rank and summarise papers")
    search.add_argument("query")
    search.add_argument("--max", type=int, default=5, dest="max_papers", help="papers (1-20)")
    search.add_argument("--from", dest="start_date", metavar="YYYY-MM-DD")
    search.add_argument("--to", dest="end_date", metavar="YYYY-MM-DD")
    search.add_argument(
        "--category", action="append", dest="categories", metavar="CAT", help="repeatable"
    )
    search.add_argument("--no-summaries", action="store_true")
    search.add_argument("--style", default="apa", help="CSL style of the citations")
    search.add_argument(
        "--format", default="table", choices=["table", "json", *EXPORT_FORMATS], dest="fmt"
    )

    memory = commands.add_parser("memory", help="search the papers the arm remembers")
    memory.add_argument("query")
    memory.add_argument("--limit", type=int, default=10)
    memory.add_argument("--format", default="table", choices=["table", "json"], dest="fmt")

    paper = commands.add_parser("paper", help="what memory holds of one paper")
    paper.add_argument("arxiv_id")
    paper.add_argument("--format", default="json", choices=["json", *EXPORT_FORMATS], dest="fmt")

    forget = commands.add_parser("forget", help="remove one paper from memory")
    forget.add_argument("arxiv_id")

    health = commands.add_parser("health", help="the arm's state")
    health.add_argument("--format", default="table", choices=["table", "json"], dest="fmt")

    commands.add_parser("capabilities", help="endpoints, limits and models, as JSON")
    return parser


def main(argv: Sequence[str] | None = None, *, client_factory: ClientFactory = ArmClient) -> int:
    """Run one command; the exit status. ``client_factory`` builds the client from ``base_url``,
    ``api_key``, ``timeout`` and ``retry_budget_s`` (tests pass one with a mock transport)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with client_factory(
            args.url, api_key=args.api_key, timeout=args.timeout, retry_budget_s=args.retry_budget
        ) as client:
            return _run(client, args)
    except ValidationError as exc:  # checked before any call
        print(f"arm: invalid request: {_field_errors(exc)}", file=sys.stderr)
        return 2
    except ArmApiError as exc:
        print(f"arm: {exc}", file=sys.stderr)
        return 1
    except ExportError as exc:
        print(f"arm: {exc}", file=sys.stderr)
        return 1


def _run(client: ArmClient, args: argparse.Namespace) -> int:
    if args.command == "search":
        answer = client.execute(
            args.query,
            max_papers=args.max_papers,
            start_date=args.start_date,
            end_date=args.end_date,
            categories=args.categories,
            include_summaries=not args.no_summaries,
            citation_style=args.style,
        )
        _emit(args.fmt, answer, answer.papers, _research_table)
    elif args.command == "memory":
        found = client.search_memory(args.query, limit=args.limit)
        _emit(args.fmt, found, found.papers, _memory_table)
    elif args.command == "paper":
        record = client.get_paper(args.arxiv_id)
        _emit(args.fmt, record, [record.paper], None)
    elif args.command == "forget":
        client.forget_paper(args.arxiv_id)
        print(f"forgotten: {args.arxiv_id}")
    elif args.command == "health":
        status = client.health()
        _emit(args.fmt, status, [], _health_table)
        return 1 if status.status == "down" else 0
    elif args.command == "capabilities":
        print(client.capabilities().model_dump_json(indent=2))
    return 0


def _emit(fmt: str, answer: Any, papers: list[Paper], table: Callable[[Any], str] | None) -> None:
    if fmt == "json":
        text = answer.model_dump_json(indent=2) + "\n"
    elif fmt in EXPORT_FORMATS:
        text = EXPORT_FORMATS[fmt].render(papers)
    else:
        assert table is not None
        text = table(answer)
    sys.stdout.write(text)


def papers_table(papers: Sequence[Paper]) -> str:
    """Rank, relevance, arXiv id, year and title, the summary on the line below."""
    lines = [f"{'#':>2}  {'rel.':>4}  {'arXiv id':<18} {'year':<4}  title"]
    title_width = WIDTH - len(lines[0]) + len("title")
    for rank, paper in enumerate(papers, 1):
        title = textwrap.shorten(paper.title, title_width, placeholder="…")
        lines.append(
            f"{rank:>2}  {paper.relevance_score:4.2f}  {paper.arxiv_id:<18} "
            f"{paper.published_date.year:<4}  {title}"
        )
        if paper.summary:
            lines += textwrap.wrap(
                paper.summary, WIDTH, initial_indent=" " * 8, subsequent_indent=" " * 8
            )
    return "\n".join(lines) + "\n"


def _research_table(answer: ResearchResponse) -> str:
    text = papers_table(answer.papers) if answer.papers else "no papers found\n"
    text += (
        f"\n{len(answer.papers)} of {answer.total_found} found, confidence "
        f"{answer.confidence:.2f}, {answer.search_time_ms:.0f} ms, "
        f"request id {answer.provenance.request_id}\n"
    )
    for warning in answer.warnings:
        text += f"warning: {_warning_text(warning)}\n"
    return text


def _memory_table(found: MemorySearchResponse) -> str:
    return papers_table(found.papers) if found.papers else "nothing in memory matches\n"


def _health_table(status: HealthStatus) -> str:
    lines = [f"{status.status}  {status.arm_id} {status.version}"]
    lines += [
        f"  {name:<14} {stage.state:<9} {stage.detail}" for name, stage in status.stages.items()
    ]
    if status.search is not None:
        index = status.search.index
        held = f", index: {index.records} records, newest {index.newest}" if index else ""
        lines.append(f"  search: {status.search.source} ({status.search.configured}){held}")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _warning_text(warning: ArmWarning) -> str:
    paper = f" {warning.arxiv_id}" if warning.arxiv_id else ""
    return f"{warning.code}{paper}: {warning.message}"


def _field_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors()
    )


if __name__ == "__main__":
    sys.exit(main())
