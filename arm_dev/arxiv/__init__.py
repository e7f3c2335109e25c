"""A local stand-in for arXiv's API: ``GET /api/query`` answered with real Atom.

It serves JSON Lines records (arXiv ``.abs`` header names or the Kaggle OAI snapshot schema, as
in ``../shared/arxiv/corpus/``) or replays one recorded Atom file for every query, and it can
misbehave on purpose, as arXiv does (``POST /_control``; the modes are listed in ``faults``).

Run it: ``python -m arm_dev.arxiv --port 8081 [--corpus FILE ...] [--atom FILE]`` (or
``make standin``), then ``ARXIV_API_URL=http://127.0.0.1:8081/api/query make run``. It enforces
no politeness interval of its own (it is not arXiv); it only records when requests arrived, so
tests can check ours.

One module per job:

    records   the corpus: ``Record``, ``load_records``, ``SAMPLE_CORPUS``, ``SHARED_CORPUS``
    query     arXiv's search_query syntax: ``parse_query``, ``evaluate`` (match and rank)
    feed      Atom rendering: ``render_feed``, ``render_error``
    faults    the fault modes: canned and spoiled answers, connection resets, huge bodies
    server    ``StandIn``: the state, the request log and the HTTP handler
    __main__  the command line
"""

from __future__ import annotations

from arm_dev.arxiv.faults import BILLION_LAUGHS, EXTERNAL_ENTITY
from arm_dev.arxiv.feed import render_error, render_feed
from arm_dev.arxiv.query import QueryError, evaluate, parse_query
from arm_dev.arxiv.records import (
    SAMPLE_CORPUS,
    SHARED_CORPUS,
    Record,
    default_corpus,
    load_records,
    record_from_json,
)
from arm_dev.arxiv.server import StandIn

__all__ = [
    "BILLION_LAUGHS",
    "EXTERNAL_ENTITY",
    "SAMPLE_CORPUS",
    "SHARED_CORPUS",
    "QueryError",
    "Record",
    "StandIn",
    "default_corpus",
    "evaluate",
    "load_records",
    "parse_query",
    "record_from_json",
    "render_error",
    "render_feed",
]
