"""What a replica holds is released when Serve stops it (``__del__``), and its live knobs
change through ``reconfigure``: the deployment classes driven directly, without Ray."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deployments.arxiv.fetcher_deployment import ArxivFetcher
from deployments.index.paper_index import PaperIndex
from deployments.memory.deployment import MemoryWriter
from deployments.memory.paper_memory import PaperMemory
from deployments.summarizer.deployment import Summarizer
from models.settings import Settings


def stop(replica: Any) -> None:
    """What Serve does at shutdown: call ``__del__`` on the event loop, await what it returns;
    a second call (the garbage collector's) has nothing to do."""

    async def shutdown() -> None:
        await replica.__del__()
        assert replica.__del__() is None

    asyncio.run(shutdown())
    assert replica.__del__() is None  # off the loop too


def cls(deployment: Any) -> Any:
    return deployment.func_or_class  # the class @serve.deployment wraps


def test_the_fetcher_closes_its_http_client_and_index_and_retunes_live(tmp_path: Path) -> None:
    folder = str(tmp_path / "index")
    stages = Settings(arxiv_cache_size=10, index_path=folder).for_stages()
    fetcher = cls(ArxivFetcher)(stages.arxiv, gate=None)
    fetcher.reconfigure({"cache_size": 3, "num_retries": 0})
    assert fetcher.client.cache.maxsize == 3 and fetcher.client.num_retries == 0
    fetcher.reconfigure({})  # taken out of user_config: back to the configured values
    assert fetcher.client.cache.maxsize == 10 and fetcher.client.num_retries == 3
    with pytest.raises(ValidationError, match="api_url"):
        fetcher.reconfigure({"api_url": "http://elsewhere"})  # not a live knob
    fetcher.check_health()
    stop(fetcher)
    assert fetcher.client.is_closed
    PaperIndex(None, path=folder).close()  # the embedded index's folder is free again
    with pytest.raises(Exception, match="closed"):
        fetcher.check_health()


def test_the_memory_writer_releases_the_store(tmp_path: Path) -> None:
    stages = Settings(qdrant_path=str(tmp_path / "q"), embedding_dimension=8).for_stages()

    async def lifetime() -> None:
        writer = cls(MemoryWriter)(stages.memory)
        assert await writer.count() == 0
        info = await writer.info()
        assert (info.mode, info.dimension, info.papers) == ("embedded", 8, 0)
        await writer.check_health()
        await writer.__del__()  # as Serve calls it: on the loop, the result awaited

    asyncio.run(lifetime())
    PaperMemory(8, path=str(tmp_path / "q")).close()  # the folder lock is free in this process


def test_the_summarizer_closes_its_endpoint_client() -> None:
    stages = Settings(summarizer_backend="openai", openai_base_url="http://127.0.0.1:9/v1")
    summarizer = cls(Summarizer)(stages.for_stages().summarizer)
    summarizer.reconfigure({"max_words": 12})
    assert summarizer.backend.max_words == 12
    stop(summarizer)
    assert summarizer.backend._http.is_closed


def test_serve_awaits_the_ingress_release() -> None:
    """Serve's ingress wrapper calls the class's ``__del__`` and awaits it only when it is a
    coroutine function (ray/serve/api.py); a plain one's coroutine would never run."""
    from deployments.ingress.deployment import Ingress

    wrapper = Ingress.func_or_class
    user_class = next(c for c in wrapper.__mro__[1:] if c.__name__ == "Ingress")
    assert inspect.iscoroutinefunction(user_class.__del__)
