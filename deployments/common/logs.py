"""Loggers whose lines reach Serve's log files, with the request's W3C trace id.

Serve configures the ``ray.serve`` logger only (handlers, JSON encoding, and filters that add
the request id, deployment and replica); lines logged through ``logging.getLogger(__name__)``
in a replica reach none of its files at INFO. A child of ``ray.serve`` propagates to those
handlers. Outside a replica (benchmarks, tests) it is an ordinary logger.

``TRACE_ID`` holds the trace id of the request being served (from its ``traceparent`` header,
set by the Ingress's HTTP edge); every line of an arm logger logged meanwhile carries it as the
record attribute ``trace_id``, which Serve's JSON log encoding writes beside ``request_id``.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

SERVE_LOGGER = "ray.serve"
TRACE_ID: ContextVar[str | None] = ContextVar("arm_trace_id", default=None)


class _TraceFilter(logging.Filter):
    """Adds ``trace_id`` to a record logged while a traced request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id = TRACE_ID.get()
        if trace_id is not None:
            record.trace_id = trace_id
        return True


_TRACE_FILTER = _TraceFilter()


def arm_logger(module: str) -> logging.Logger:
    """The logger for one of the arm's modules: ``deployments.arxiv.client`` logs as
    ``ray.serve.arm.arxiv.client``."""
    name = module.removeprefix("deployments.")
    logger = logging.getLogger(f"{SERVE_LOGGER}.arm.{name}")
    if _TRACE_FILTER not in logger.filters:
        logger.addFilter(_TRACE_FILTER)
    return logger
