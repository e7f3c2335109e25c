"""ArxivGate: the application's one arXiv gate, a Serve deployment of exactly one replica.

Every ArxivFetcher replica asks it for a turn, so scaling the fetcher out cannot break arXiv's
terms. Being a deployment of the application, it starts and stops with it, shows in
``serve status``, and takes a new interval on redeploy (or live, through ``user_config``).

Its hold-off record lives in the Ray cluster's own key-value store (the GCS, where Serve keeps
its checkpoints), so a gate replica restarted on any node reads what its predecessor was told.
"""

from __future__ import annotations

import logging
from typing import Any

from ray import serve
from ray.experimental import internal_kv

from deployments.arxiv.gate import IntervalGate
from deployments.common.logs import arm_logger, log_event
from deployments.common.metrics import GateMetrics
from models.settings import GateSettings

_KV_NAMESPACE = "research-arm"
logger = arm_logger(__name__)


class ClusterHoldOff:
    """``HoldOffStore`` in the cluster's GCS key-value store, one key per application. Ray
    exposes it as ``ray.experimental.internal_kv`` (what Serve's own checkpoints use); it
    lives as long as the cluster, and a fresh cluster starts without a record."""

    def __init__(self, app_name: str) -> None:
        self._key = f"arxiv-gate/{app_name}/not-before"

    def load(self) -> float | None:
        value = internal_kv._internal_kv_get(self._key, namespace=_KV_NAMESPACE)
        return float(value) if value else None

    def save(self, not_before: float) -> None:
        internal_kv._internal_kv_put(self._key, repr(not_before), namespace=_KV_NAMESPACE)


@serve.deployment(
    name="ArxivGate",
    num_replicas=1,  # one gate, or arXiv sees two streams of requests
    # Every waiting search holds a slot, and a release must never queue behind them: keep this
    # above the fetchers' max_ongoing_requests times their replicas.
    max_ongoing_requests=10_000,
    ray_actor_options={"num_cpus": 0},
)
class ArxivGate:
    def __init__(self, settings: GateSettings) -> None:
        self.configured = self.settings = settings  # tuning starts from the configured values
        hold_off = ClusterHoldOff(serve.get_replica_context().app_name)
        self.gate = IntervalGate(settings.tuning.min_interval_s, hold_off=hold_off)
        self.metrics = GateMetrics()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``min_interval_s``: seconds between two arXiv requests, never under
        ``least_interval_s`` (3 on arXiv's own hosts): a shorter one is logged as an error and
        the least is kept. (Raising would fail the update and take the gate, and with it every
        arXiv search, down until the config is fixed.)"""
        tuned = self.configured.tuned(user_config)
        interval, least = tuned.tuning.min_interval_s, tuned.least_interval_s
        if interval < least:
            log_event(  # ARXIV_INTERVAL_OVERRIDE=true allows a shorter one, for a mirror
                logger,
                logging.ERROR,
                "arxiv.gate.interval_refused",
                min_interval_s=interval,
                least_s=least,
                kept_s=least,
            )
            interval = least
        self.settings = tuned
        self.gate.min_interval_s = interval

    async def acquire(self, ticket: str | None = None) -> tuple[int, float]:
        """Wait for a turn: (permit token, seconds waited). ``ticket`` names it for
        ``abandon``."""
        self.metrics.queue(self.gate.waiting + 1)  # this one joins the queue
        try:
            return await self.gate.acquire(ticket)
        finally:
            self.metrics.queue(self.gate.waiting)

    async def abandon(self, ticket: str) -> None:
        """The search that asked under ``ticket`` was cancelled: end its turn, now or when it
        comes."""
        await self.gate.abandon(ticket)

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        """End a turn; ``hold_off_s`` (arXiv's Retry-After) delays the next one."""
        await self.gate.release(token, hold_off_s)

    def check_health(self) -> None:
        self.gate.check()
