"""ArxivGate: the application's one arXiv gate, a Serve deployment of exactly one replica.

Every ArxivFetcher replica asks it for a turn, so scaling the fetcher out cannot break arXiv's
terms. Being a deployment of the application, it starts and stops with it, shows in
``serve status``, and takes a new interval on redeploy (or live, through ``user_config``).
"""

from __future__ import annotations

from typing import Any

from ray import serve

from deployments.arxiv.gate import IntervalGate
from models.settings import GateSettings


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
        self.gate = IntervalGate(settings.tuning.min_interval_s)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``min_interval_s``: seconds between two arXiv requests."""
        self.settings = self.configured.tuned(user_config)
        self.gate.min_interval_s = self.settings.tuning.min_interval_s

    async def acquire(self) -> tuple[int, float]:
        """Wait for a turn: (permit token, seconds waited)."""
        return await self.gate.acquire()

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        """End a turn; ``hold_off_s`` (arXiv's Retry-After) delays the next one."""
        await self.gate.release(token, hold_off_s)

    def check_health(self) -> None:
        self.gate.check()
