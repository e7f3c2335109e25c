"""Loggers whose lines reach Serve's log files.

Serve configures the ``ray.serve`` logger only (handlers, JSON encoding, and filters that add
the request id, deployment and replica); lines logged through ``logging.getLogger(__name__)``
in a replica reach none of its files at INFO. A child of ``ray.serve`` propagates to those
handlers. Outside a replica (benchmarks, tests) it is an ordinary logger.
"""

from __future__ import annotations

import logging

SERVE_LOGGER = "ray.serve"


def arm_logger(module: str) -> logging.Logger:
    """The logger for one of the arm's modules: ``deployments.arxiv.client`` logs as
    ``ray.serve.arm.arxiv.client``."""
    name = module.removeprefix("deployments.")
    return logging.getLogger(f"{SERVE_LOGGER}.arm.{name}")
