"""SharedSummaries: one summary per paper however many requests want it at once; failures are
not kept; a caller that goes away does not take the others' summary with it."""

from __future__ import annotations

import asyncio

from arm_client.models import ArmWarning
from deployments.summarizer.shared_summaries import SharedSummaries
from models.contracts import SummaryOutcome

FAILED = ArmWarning(code="summary_failed", stage="summarizer", message="summary failed")


async def test_shared_summaries_make_one_summary_per_paper() -> None:
    shared = SharedSummaries(size=10)
    made = 0

    async def make() -> SummaryOutcome:
        nonlocal made
        made += 1
        await asyncio.sleep(0.05)
        return SummaryOutcome("A TLDR.", "openai", "m")

    key = SharedSummaries.key("t", "abstract")
    results = await asyncio.gather(*(shared.get(key, make) for _ in range(5)))
    assert made == 1
    assert [r[1] for r in results].count(False) == 1  # one caller made it, four shared it
    outcome, was_shared = await shared.get(key, make)
    assert was_shared and outcome.summary == "A TLDR." and made == 1


async def test_shared_summaries_do_not_keep_failures() -> None:
    shared = SharedSummaries(size=10)
    outcomes = [
        SummaryOutcome(None, "openai", "m", [FAILED]),
        SummaryOutcome("Now it works.", "openai", "m"),
    ]

    async def make() -> SummaryOutcome:
        return outcomes.pop(0)

    key = SharedSummaries.key("t", "a")
    assert (await shared.get(key, make))[0].summary is None
    assert (await shared.get(key, make))[0].summary == "Now it works."


async def test_a_caller_that_goes_away_does_not_take_the_shared_summary_with_it() -> None:
    shared = SharedSummaries(size=10)

    async def make() -> SummaryOutcome:
        await asyncio.sleep(0.05)
        return SummaryOutcome("A TLDR.", "openai", "m")

    key = SharedSummaries.key("t", "abstract")
    first = asyncio.ensure_future(shared.get(key, make))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(shared.get(key, make))
    await asyncio.sleep(0.01)
    first.cancel()  # its request was cancelled (the client went away)
    outcome, was_shared = await second
    assert was_shared and outcome.summary == "A TLDR."
    assert first.cancelled()
