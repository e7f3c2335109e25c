"""Loggers whose lines reach Serve's log files, with the request's W3C trace id.

Serve configures the ``ray.serve`` logger only (handlers, JSON encoding, and filters that add
the request id, deployment and replica); lines logged through ``logging.getLogger(__name__)``
in a replica reach none of its files at INFO. A child of ``ray.serve`` propagates to those
handlers. Outside a replica (benchmarks, tests) it is an ordinary logger.

The arm's own lines are events (``log_event``): a dotted name and fields, e.g.
``memory.write.deferred papers=3 reason="no answer within 10 s"``. The message is that text, for
a person reading a console; the name and each field are also record attributes, so Serve's JSON
log lines carry them as keys of their own (``"event": "memory.write.deferred", "papers": 3``),
for a log pipeline to filter and count without parsing prose.

``TRACE_ID`` holds the trace id of the request being served (from its ``traceparent`` header,
set by the Ingress's HTTP edge); every line of an arm logger logged meanwhile carries it as the
record attribute ``trace_id``, which Serve's JSON log encoding writes beside ``request_id``.
"""

from __future__ import annotations

import json
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


Field = str | int | float | bool | None

# Names a field may not take: the LogRecord's own attributes (``makeRecord`` refuses them) and
# the keys Serve and Ray write into each JSON line (a field would shadow them, or Ray's
# formatter would raise on the duplicate).
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "event",
    "trace_id",
    "request_id",
    "route",
    "application",
    "deployment",
    "replica",
    "component_name",
    "component_id",
    "component_type",
    "actor_id",
    "actor_name",
    "worker_id",
    "node_id",
    "job_id",
    "task_id",
    "task_name",
    "task_func_name",
    "timestamp_ns",
}


def _text(value: Field) -> str:
    """A field's value as the message shows it: bare when it is one word, JSON-quoted when not."""
    if isinstance(value, str) and (not value or any(c in value for c in ' "=\n\t')):
        return json.dumps(value)
    return str(value)


def log_event(
    logger: logging.Logger,
    level: int,
    event: str,
    /,
    *,
    exc_info: bool = False,
    **fields: Field,
) -> None:
    """Log the event ``event`` (dotted, lower case: ``stage.thing.what_happened``) with
    ``fields`` (JSON scalars; anything else is written as its ``str``). ``exc_info`` adds the
    exception being handled. Raises ``ValueError`` for a field named like a key Serve writes."""
    clash = _RESERVED.intersection(fields)
    if clash:
        raise ValueError(f"log field names Serve or logging uses already: {sorted(clash)}")
    if not logger.isEnabledFor(level):
        return
    values = {
        name: v if v is None or isinstance(v, str | int | float | bool) else str(v)
        for name, v in fields.items()
    }
    message = " ".join([event, *(f"{name}={_text(v)}" for name, v in values.items())])
    # stacklevel 2: the line's file and line number are the caller's, not this function's
    logger.log(
        level, "%s", message, exc_info=exc_info, extra={"event": event, **values}, stacklevel=2
    )
