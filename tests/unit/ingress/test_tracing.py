"""W3C traceparent: accepted, its trace id on the arm's log lines of that request."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from deployments.common.logs import TRACE_ID, arm_logger
from deployments.ingress.http.tracing import trace_id_of
from tests.unit.ingress.in_process import ingress_client

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HEADER = f"00-{TRACE}-00f067aa0ba902b7-01"


def test_only_a_well_formed_traceparent_gives_a_trace_id() -> None:
    assert trace_id_of(HEADER) == TRACE
    assert trace_id_of(HEADER.upper()) == TRACE
    for bad in (None, "", "01-" + HEADER[3:], f"00-{'0' * 32}-00f067aa0ba902b7-01", "00-x-y-01"):
        assert trace_id_of(bad) is None, bad


def test_an_arm_logger_line_carries_the_trace_id() -> None:
    records: list[logging.LogRecord] = []
    logger = arm_logger("deployments.test.tracing")

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    try:
        token = TRACE_ID.set(TRACE)
        logger.warning("inside")
        TRACE_ID.reset(token)
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    assert [getattr(r, "trace_id", None) for r in records] == [TRACE, None]


def test_a_traced_request_logs_its_trace_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="ray.serve.arm"),
        ingress_client(monkeypatch, tmp_path) as client,
    ):
        answer = client.post(
            "/execute", json={"query": "graph neural networks"}, headers={"traceparent": HEADER}
        )
        assert answer.status_code == 200
        assert client.post("/execute", json={"query": "graphs"}).status_code == 200
    traced = [r for r in caplog.records if getattr(r, "trace_id", None) == TRACE]
    assert traced and "request.traced" in traced[0].getMessage()
