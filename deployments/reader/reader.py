"""``PaperReader``: the Reader stage's work, without Serve. A paper version is fetched and
parsed once (``FullTextClient``), kept on disk (``TextCache``), cut into passages, embedded by
the Embedder and stored (``PassageStore``); every later question only ranks.

Bounded in time: ``evidence`` and ``read`` wait at most the request's ``deadline_s`` for a paper
to be read; a paper still being read then comes back as a ``timeout`` failure while its reading
goes on in the background, so the next request finds it stored. One read per paper version is
in flight in a replica at a time (later askers join it); across replicas on a node the text
cache's per-paper lock does the same.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from deployments.common.logs import arm_logger, log_event
from deployments.reader.document import Document, TextSource
from deployments.reader.fetch import Fetched, FullTextClient, ReadFailed
from deployments.reader.passage_store import PassageStore
from deployments.reader.passages import passages
from deployments.reader.text_cache import TextCache
from models.contracts import (
    EvidenceRequest,
    EvidenceResult,
    PassageHit,
    PassageQuery,
    ReadRequest,
    ReadResult,
)

logger = arm_logger(__name__)
Embed = Callable[[list[str]], Awaitable[np.ndarray]]
EMBED_CHUNK = 128  # passages per Embedder call (a long paper has several hundred)
EMBED_TIMEOUT_S = 120.0  # a paper's passages embedded within this, or the read fails
# Papers one replica fetches at once: the rest wait here, not in the application's arXiv gate,
# where they would queue ahead of the searches (a turn every 3 s on arXiv).
MAX_FETCHES = 2
VERSIONED = re.compile(r"v\d+$")


class ReadObserver(Protocol):
    """What the Reader tells its metrics (``deployments.common.metrics.ReaderMetrics``)."""

    def read(self, source: str, parse_s: float) -> None: ...

    def cache(self, *, hit: bool) -> None: ...

    def failed(self, reason: str) -> None: ...


class _Unobserved:
    def read(self, source: str, parse_s: float) -> None:
        pass

    def cache(self, *, hit: bool) -> None:
        pass

    def failed(self, reason: str) -> None:
        pass


@dataclass
class Stored:
    """A paper version that is read and stored: what ``read`` needs besides its passages."""

    paper: str
    version: int | None
    document: Document
    source: TextSource


class PaperReader:
    """See the module docstring."""

    def __init__(
        self,
        client: FullTextClient,
        cache: TextCache,
        store: PassageStore,
        embed: Embed,
        observer: ReadObserver | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.store = store
        self.embed = embed
        self.observer: ReadObserver = observer or _Unobserved()
        self._reading: dict[str, asyncio.Task[Stored]] = {}
        self._fetching = asyncio.Semaphore(MAX_FETCHES)
        self.papers_read = 0

    async def evidence(self, request: EvidenceRequest) -> EvidenceResult:
        """The best ``per_paper`` passages of each paper for the query (see the module)."""
        result = EvidenceResult()
        papers = list(dict.fromkeys(request.papers))
        stored = await asyncio.to_thread(self.store.stored, papers)
        missing = [p for p in papers if p not in stored]
        result.papers_reused = len(papers) - len(missing)
        reads = {p: self._read_once(p) for p in missing}
        if reads:
            done, _ = await asyncio.wait(reads.values(), timeout=request.deadline_s)
            for paper, task in reads.items():
                if task not in done:
                    result.failures[paper] = "timeout"
                elif task.exception() is not None:
                    exc = task.exception()
                    result.failures[paper] = exc.reason if isinstance(exc, ReadFailed) else "failed"
                else:
                    stored.add(paper)
                    result.papers_read += 1
        ranked = [p for p in papers if p in stored]
        if ranked:
            best = await asyncio.to_thread(
                self.store.rank, ranked, request.query, request.query_vector, request.per_paper
            )
            result.passages = {p: self._linked(hits) for p, hits in best.items()}
            result.sources = {p: hits[0].source for p, hits in best.items() if hits}
        return result

    async def read(self, request: ReadRequest) -> ReadResult:
        """A window of the paper's text, its outline and, with a question, its best passages."""
        html_url, pdf_url = self.client.links(request.paper)
        result = ReadResult(request.paper, None, html_url=html_url, pdf_url=pdf_url)
        task = self._read_once(request.paper)
        try:
            stored = await asyncio.wait_for(asyncio.shield(task), request.deadline_s)
        except TimeoutError:
            result.failure = "timeout"
            return result
        except ReadFailed as exc:
            result.failure = exc.reason
            return result
        text = stored.document.text
        start = min(max(request.start, 0), len(text))
        end = min(start + request.max_chars, len(text))
        result.paper, result.version, result.source = stored.paper, stored.version, stored.source
        result.html_url, result.pdf_url = self.client.links(stored.paper)
        result.title = stored.document.title
        result.outline = [(h.number, h.title, h.level, h.anchor) for h in stored.document.outline]
        result.text, result.start, result.total_chars = text[start:end], start, len(text)
        result.next_start = end if end < len(text) else None
        if request.question and request.question_vector is not None:
            best = await asyncio.to_thread(
                self.store.rank,
                [stored.paper],
                request.question,
                request.question_vector,
                request.per_paper,
            )
            result.passages = self._linked(best.get(stored.paper, []))
        return result

    async def search(self, request: PassageQuery) -> list[PassageHit]:
        """The best passages of every paper read so far (``POST /memory/search``)."""
        hits = await asyncio.to_thread(
            self.store.search, request.query, request.query_vector, request.limit
        )
        return self._linked(hits)

    def _linked(self, hits: list[PassageHit]) -> list[PassageHit]:
        """The hits with the links that open each paper at them."""
        out = []
        for hit in hits:
            html_url, pdf_url = self.client.links(hit.paper)
            if hit.source == "html" and hit.anchor:
                url = f"{html_url}#{hit.anchor}"
            else:
                url = f"{pdf_url}#page={hit.page or 1}" if hit.source == "pdf" else html_url
            out.append(replace(hit, anchor_url=url))
        return out

    def _read_once(self, paper: str) -> asyncio.Task[Stored]:
        """The one in-flight read of this paper version in this replica (started if none)."""
        task = self._reading.get(paper)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._read(paper))
            self._reading[paper] = task
            task.add_done_callback(lambda done: self._forget(paper, done))
        return task

    def _forget(self, paper: str, done: asyncio.Task[Stored]) -> None:
        """A read ended: the next ask starts afresh. Its error was counted and logged by
        ``_read``; retrieved here so a read nobody waited for ends quietly."""
        self._reading.pop(paper, None)
        if not done.cancelled():
            done.exception()

    async def _read(self, paper: str) -> Stored:
        try:
            async with self.cache.claim(paper, wait_s=self.client.timeout_s * 2):
                stored = await self._text(paper)
                done = await asyncio.to_thread(self.store.stored, [stored.paper])
                if not done:
                    cut = passages(stored.document)
                    texts = [p.text for p in cut]
                    async with asyncio.timeout(EMBED_TIMEOUT_S):
                        chunks = [
                            await self.embed(texts[i : i + EMBED_CHUNK])
                            for i in range(0, len(texts), EMBED_CHUNK)
                        ]
                    vectors = np.concatenate(chunks) if chunks else np.zeros((0, 1))
                    await asyncio.to_thread(
                        self.store.add, stored.paper, stored.source, cut, vectors
                    )
                return stored
        except ReadFailed as exc:
            self.observer.failed(exc.reason)
            raise
        except Exception as exc:  # the embedder, the store, a parser bug: a warning, not a 500
            log_event(logger, logging.WARNING, "reader.failed", paper=paper, error=repr(exc))
            self.observer.failed("failed")
            raise ReadFailed("failed", f"{type(exc).__name__}") from exc

    async def _text(self, paper: str) -> Stored:
        """The parsed text, from the disk cache or from arXiv (then cached)."""
        cached = await asyncio.to_thread(self.cache.get, paper)
        self.observer.cache(hit=cached is not None)
        if cached is not None:
            document, extra = cached
            return Stored(extra["paper"], extra.get("version"), document, document.source)
        started = time.perf_counter()
        async with self._fetching:  # a few papers at a time take turns at the gate
            fetched: Fetched = await self.client.fetch(paper)
        self.observer.read(fetched.source, time.perf_counter() - started)
        self.papers_read += 1
        version = fetched.version
        key = paper if VERSIONED.search(paper) or version is None else f"{paper}v{version}"
        extra = {"paper": key, "version": version, "url": fetched.url}
        await asyncio.to_thread(self.cache.put, key, fetched.document, extra)
        if key != paper:  # an unversioned ask: the latest version, under both names
            await asyncio.to_thread(self.cache.put, paper, fetched.document, extra)
        return Stored(key, version, fetched.document, fetched.source)
