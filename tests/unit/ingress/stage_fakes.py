"""Plain-Python stages that satisfy the Protocols of ``models.contracts``: what the unit tests
hand the request pipeline and the in-process Ingress instead of Serve handles."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from models.contracts import (
    EmbedderInfo,
    EvidenceRequest,
    EvidenceResult,
    MemoryQuery,
    NewMemory,
    PassageHit,
    PassageQuery,
    ReaderInfo,
    ReadRequest,
    ReadResult,
    SearchInfo,
    SearchRequest,
    SearchResult,
    StoredPaper,
    SummarizerInfo,
    SummaryOutcome,
)
from models.errors import StageError
from models.paper import Paper, query_key

DIM = 64


def paper(arxiv_id: str, title: str, version: int = 1) -> Paper:
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=f"{title}. We study {title.lower()} in depth.",
        authors=["Ada Lovelace"],
        url=f"https://arxiv.org/abs/{arxiv_id}v{version}",
        published_date=date(2024, 1, 2),
    )


def bag_of_words(text: str) -> np.ndarray:
    """A deterministic unit vector: texts sharing words point the same way."""
    vector = np.zeros(DIM, dtype=np.float32)
    for word in text.lower().replace(".", " ").split():
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return vector / (np.linalg.norm(vector) or 1.0)


@dataclass
class Fetcher:
    """A search source: ``api`` (papers without vectors) or ``index`` (with their vectors,
    and it wants the query's vector handed over)."""

    papers: list[Paper]
    error: Exception | None = None
    asked: list[int] = field(default_factory=list)
    source: str = "api"
    given_vectors: list[np.ndarray | None] = field(default_factory=list)

    async def search(self, request: SearchRequest) -> SearchResult:
        self.asked.append(request.max_results)
        self.given_vectors.append(request.query_vector)
        if self.error:
            raise self.error
        found_in = {p.arxiv_id: self.source for p in self.papers}
        vectors = {} if self.source == "api" else {
            p.arxiv_id: bag_of_words(p.embedding_text) for p in self.papers
        }  # fmt: skip
        summaries = {} if self.source == "api" else {
            p.arxiv_id: f"Stored TLDR of {p.title}." for p in self.papers
        }  # fmt: skip
        return SearchResult(
            self.papers,
            len(self.papers),
            f"all:{request.text}",
            source=self.source,
            found_in=found_in,
            vectors=vectors,
            summaries=summaries,
        )

    async def info(self) -> SearchInfo:
        return SearchInfo(source=self.source, configured=self.source, index=None)


@dataclass
class Embedder:
    texts: list[str] = field(default_factory=list)

    async def embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return np.stack([bag_of_words(t) for t in texts])

    async def info(self) -> EmbedderInfo:
        return EmbedderInfo(
            model="bag-of-words",
            dimension=DIM,
            device="cpu",
            texts_total=len(self.texts),
            texts_reused=0,
            busy_s=0.0,
            runs=0,
            cached=0,
        )


@dataclass
class Summarizer:
    fail_on: set[str] = field(default_factory=set)
    calls: int = 0

    async def summarize(self, title: str, abstract: str) -> SummaryOutcome:
        self.calls += 1
        if title in self.fail_on:
            raise StageError("replica died", "summarizer")
        return SummaryOutcome(f"TLDR of {title}.", "fake", "m")

    async def info(self) -> SummarizerInfo:
        return SummarizerInfo(backend="fake", model="m")


@dataclass
class Memory:
    points: dict[str, StoredPaper] = field(default_factory=dict)
    fail_lookup: bool = False
    fail_upsert: bool = False
    writes: int = 0

    async def lookup(self, arxiv_ids: list[str]) -> dict[str, StoredPaper]:
        if self.fail_lookup:
            raise StageError("qdrant away", "memory")
        return {i: self.points[i] for i in arxiv_ids if i in self.points}

    async def upsert(self, items: list[NewMemory], query: str | None) -> int:
        if self.fail_upsert:
            raise StageError("qdrant away", "memory")
        for item in items:
            self.writes += 1
            old = self.points.get(item.paper.arxiv_id)
            queries = (old.queries if old else []) + ([query] if query else [])
            summary = item.summary or (old.summary if old else None)
            self.points[item.paper.arxiv_id] = StoredPaper(
                item.paper,
                item.vector,
                summary,
                queries,
                "t0",
                query_keys=frozenset(query_key(q) for q in queries),
            )
        return len(items)

    async def delete(self, arxiv_ids: list[str]) -> int:
        return sum(self.points.pop(i, None) is not None for i in arxiv_ids)

    async def search(self, query: MemoryQuery) -> list[StoredPaper]:
        scored = sorted(
            ((float(s.vector @ query.vector), s) for s in self.points.values()),
            key=lambda x: -x[0],
        )
        # Shifted to reach below 0, as Qdrant's cosine scores do (-1..1); the pipeline turns
        # them into relevances in 0..1.
        return [
            StoredPaper(s.paper, s.vector, s.summary, s.queries, s.stored_at, score - 0.5)
            for score, s in scored[: query.limit]
        ]


PAPERS = [
    paper("2401.00001", "Graph neural networks for molecules"),
    paper("2401.00002", "Galaxy cluster lensing"),
    paper("2401.00003", "Neural networks on graphs"),
]


@dataclass
class Reader:
    """Full texts made of each paper's title and abstract (the fake's ``texts``, by version-less
    id): one passage per sentence, ranked by shared words; ``unreadable`` ids fail by reason."""

    texts: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    def _hits(self, paper: str, query: str, limit: int) -> list[PassageHit]:
        text = self.texts.get(paper.split("v")[0], f"A paper {paper}. It has two sentences.")
        sentences = [s.strip() + "." for s in text.split(".") if s.strip()]
        words = set(query.lower().split())
        hits, at = [], 0
        for i, sentence in enumerate(sentences):
            start = text.find(sentence[:-1], at)
            at = max(start, 0) + len(sentence) - 1
            shared = len(words & set(sentence.lower().split()))
            hits.append(
                PassageHit(
                    paper, i, sentence, "1 Introduction", "paragraph", f"S1.p{i + 1}", None,
                    max(start, 0), max(start, 0) + len(sentence), "html",
                    min(1.0, shared / max(len(words), 1)),
                    f"http://arxiv.test/html/{paper}#S1.p{i + 1}",
                )
            )  # fmt: skip
        return sorted(hits, key=lambda h: -h.score)[:limit]

    async def evidence(self, request: EvidenceRequest) -> EvidenceResult:
        self.calls += 1
        result = EvidenceResult()
        for paper in request.papers:
            if paper.split("v")[0] in self.unreadable:
                result.failures[paper] = self.unreadable[paper.split("v")[0]]
                continue
            result.passages[paper] = self._hits(paper, request.query, request.per_paper)
            result.sources[paper] = "html"
            result.papers_read += 1
        return result

    async def read(self, request: ReadRequest) -> ReadResult:
        self.calls += 1
        paper = request.paper if "v" in request.paper[5:] else f"{request.paper}v1"
        result = ReadResult(paper, 1, html_url=f"http://arxiv.test/html/{paper}",
                            pdf_url=f"http://arxiv.test/pdf/{paper}")  # fmt: skip
        if paper.split("v")[0] in self.unreadable:
            result.failure = self.unreadable[paper.split("v")[0]]
            return result
        text = self.texts.get(paper.split("v")[0], f"A paper {paper}. It has two sentences.")
        end = min(request.start + request.max_chars, len(text))
        result.source, result.text, result.start = "html", text[request.start : end], request.start
        result.total_chars, result.next_start = len(text), end if end < len(text) else None
        result.outline = [("1", "Introduction", 1, "S1")]
        if request.question:
            result.passages = self._hits(paper, request.question, request.per_paper)
        return result

    async def search(self, request: PassageQuery) -> list[PassageHit]:
        self.calls += 1
        hits = [h for paper in self.texts for h in self._hits(f"{paper}v1", request.query, 3)]
        return sorted(hits, key=lambda h: -h.score)[: request.limit]

    async def info(self) -> ReaderInfo:
        return ReaderInfo(papers_read=self.calls, cache_hits=0, passages_stored=0, store="embedded")
