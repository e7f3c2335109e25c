"""The arm's log lines are events with fields: readable as text, and keys of their own in the
JSON lines Serve writes (Ray's own JSON formatter, the one Serve's log files use)."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest
from ray._common.formatters import JSONFormatter

from deployments.common.logs import TRACE_ID, arm_logger, log_event

ROOT = Path(__file__).resolve().parents[3]
LEVEL_CALLS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _logged(level: int, event: str, /, **fields: object) -> logging.LogRecord:
    logger = arm_logger("deployments.test.events")
    logger.setLevel(logging.DEBUG)
    keep = _Keep()
    logger.addHandler(keep)
    try:
        log_event(logger, level, event, **fields)
    finally:
        logger.removeHandler(keep)
    (record,) = keep.records
    return record


def test_an_event_reads_as_text_and_carries_its_fields() -> None:
    record = _logged(
        logging.WARNING,
        "memory.write.deferred",
        papers=3,
        arxiv_ids="2401.00001,2401.00002",
        reason="no answer within 10 s",
        path=Path("/data/x"),
    )
    assert record.getMessage() == (
        "memory.write.deferred papers=3 arxiv_ids=2401.00001,2401.00002 "
        'reason="no answer within 10 s" path=/data/x'
    )
    assert record.levelno == logging.WARNING and record.filename == Path(__file__).name
    assert vars(record)["event"] == "memory.write.deferred" and vars(record)["papers"] == 3
    assert vars(record)["path"] == "/data/x"  # not JSON: written as its text


def test_serves_json_line_has_the_event_and_each_field_as_keys() -> None:
    token = TRACE_ID.set("4bf92f3577b34da6a3ce929d0e0e4736")
    try:
        record = _logged(logging.ERROR, "memory.write.lost", papers=2, reason='said "no"')
    finally:
        TRACE_ID.reset(token)
    line = json.loads(JSONFormatter().format(record))
    assert line["event"] == "memory.write.lost" and line["papers"] == 2
    assert line["reason"] == 'said "no"' and line["levelname"] == "ERROR"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["message"] == 'memory.write.lost papers=2 reason="said \\"no\\""'


@pytest.mark.parametrize("name", ["request_id", "message", "event", "msg", "deployment"])
def test_a_field_named_like_a_key_serve_writes_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        _logged(logging.INFO, "x.y", **{name: "v"})


def test_the_arms_own_code_logs_events_only() -> None:
    """No prose-only line: every log call in the stages' code goes through ``log_event``."""
    prose = []
    for path in sorted((ROOT / "deployments").rglob("*.py")):
        if path.name == "logs.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LEVEL_CALLS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"logger", "logging", "log"}
            ):
                prose.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert prose == []
