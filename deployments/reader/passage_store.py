"""Passages in the store the index uses: one collection, "passages", dense + lexical vectors,
each point one passage of one paper version (``paper``: "2401.01234v2"), written once and
ranked for every later question.

- Where: an Edge shard at ``<QDRANT_PATH>/passages`` (one process holds it: the Reader), or the
  collection on a Qdrant server (``QDRANT_URL``), shared by every Reader replica.
- A paper's passages are written in one upsert with passage 0 last: passage 0 present means the
  paper version is stored whole, so a writer killed half-way is not taken as done.
- Ranking is the index's: the dense and lexical legs (filtered to the paper), each min-max
  scaled, mixed with ``DENSE_WEIGHT`` (tuned for passages on QASPER-format dev data with
  ``python -m bench.evidence --tune``); the lexical leg's BM25 normalises length less
  (``LENGTH_NORM``). Stored passages keep the b they were written with.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from deployments.index.fusion import mix
from deployments.index.lexical import LexicalEncoder
from deployments.reader.document import TextSource
from deployments.reader.passages import Passage
from deployments.store.client import ClientStore
from deployments.store.edge import EdgeStore
from deployments.store.points import AnyOf, Leg, NewPoint, PointStore, Schema, Where
from models.contracts import PassageHit

DENSE, LEXICAL = "dense", "lexical"
LEG_DEPTH = 50  # passages per leg before the mix (a paper has ~30-150)
DENSE_WEIGHT = 0.3  # tuned on QASPER dev papers (bench.evidence --tune)
# BM25's b for passages: weaker length normalisation than abstracts' 0.75, so a short caption
# does not outrank the paragraph that answers (QASPER dev MRR 0.333 -> 0.356 at 0.3).
LENGTH_NORM = 0.3
NAMESPACE = uuid.UUID("5b7c1f8e-6a57-4f43-9d87-5f1e0b1c2a11")


def passage_schema(dimension: int) -> Schema:
    return Schema(dimension=dimension, dense=DENSE, sparse=LEXICAL, keyword_fields=("paper",))


def passage_id(paper: str, index: int) -> str:
    """A passage's point id: stable for (paper version, passage number)."""
    return str(uuid.uuid5(NAMESPACE, f"{paper}#{index}"))


class PassageStore:
    """Passages of read papers, dense + lexical (see the module docstring)."""

    def __init__(
        self,
        dimension: int,
        *,
        url: str | None = None,
        path: str = "./data/qdrant",
        api_key: str | None = None,
        collection: str = "passages",
        dense_weight: float = DENSE_WEIGHT,
    ) -> None:
        self.store: PointStore = (
            ClientStore(collection, url=url, api_key=api_key)
            if url
            else EdgeStore(Path(path) / collection)
        )
        self.dense_weight = dense_weight
        self.lexical = LexicalEncoder(length_norm=LENGTH_NORM)
        stored = self.store.dimension(DENSE)
        if stored is None:
            self.store.create(passage_schema(dimension))
        elif stored != dimension:
            raise ValueError(
                f"collection {collection!r} holds {stored}-d vectors but the embedder makes "
                f"{dimension}-d ones; use another QDRANT_PATH or collection"
            )

    def stored(self, papers: Sequence[str]) -> set[str]:
        """Which of these paper versions are stored whole."""
        points = self.store.retrieve([passage_id(p, 0) for p in papers], fields=["paper"])
        return {str(point.payload["paper"]) for point in points}

    def add(
        self, paper: str, source: TextSource, passages: Sequence[Passage], vectors: np.ndarray
    ) -> None:
        """Store one paper version's passages with their unit vectors (rows aligned)."""
        points = [
            NewPoint(
                id=passage_id(paper, p.index),
                dense=np.asarray(vector, dtype=np.float32).tolist(),
                sparse=self.lexical.document(p.text),
                payload={"paper": paper, "source": source, **asdict(p)},
            )
            for p, vector in zip(passages, vectors, strict=True)
        ]
        self.store.upsert(points[1:])
        self.store.upsert(points[:1])  # last: passage 0 marks the paper stored whole

    def rank(
        self, papers: Sequence[str], query: str, vector: np.ndarray, per_paper: int
    ) -> dict[str, list[PassageHit]]:
        """The best ``per_paper`` passages of each paper version for the query, best first."""
        dense = np.asarray(vector, dtype=np.float32).tolist()
        sparse = self.lexical.query(query)
        legs = []
        for paper in papers:
            where = Where(must=(AnyOf("paper", (paper,)),))
            legs.append(Leg(DENSE, LEG_DEPTH, dense=dense, where=where, exact=True))
            legs.append(Leg(LEXICAL, LEG_DEPTH, sparse=sparse, where=where))
        answers = self.store.query(legs) if legs else []
        chosen: dict[str, list[tuple[str, float]]] = {}
        for i, paper in enumerate(papers):
            by_meaning, by_words = answers[2 * i], answers[2 * i + 1]
            chosen[paper] = mix(by_meaning, by_words, LEG_DEPTH, self.dense_weight, per_paper)
        wanted = [pid for best in chosen.values() for pid, _ in best]
        payloads = {p.id: p.payload for p in self.store.retrieve(wanted)}
        terms = set(self.lexical.terms(query))
        return {
            paper: [
                self._ranked(payloads[pid], score, terms) for pid, score in best if pid in payloads
            ]
            for paper, best in chosen.items()
        }

    def _ranked(self, payload: dict[str, Any], score: float, terms: set[str]) -> PassageHit:
        """The answer's passage, anchored at the paragraph inside it with most query terms."""
        anchor = payload.get("anchor")
        start, text = int(payload["char_start"]), str(payload["text"])
        parts = payload.get("parts") or []
        if len(parts) > 1:
            bounds = [int(at) - start for at, _ in parts] + [len(text)]
            overlap = [
                len(terms & set(self.lexical.terms(text[a:b])))
                for a, b in itertools.pairwise(bounds)
            ]
            anchor = parts[overlap.index(max(overlap))][1]
        page = payload.get("page")
        return PassageHit(
            paper=str(payload["paper"]),
            index=int(payload["index"]),
            text=text,
            section=str(payload.get("section") or ""),
            kind=str(payload.get("kind") or "paragraph"),
            anchor=str(anchor) if anchor else None,
            page=int(page) if page is not None else None,
            char_start=start,
            char_end=int(payload["char_end"]),
            source="pdf" if payload.get("source") == "pdf" else "html",
            score=round(score, 4),
        )

    def search(self, query: str, vector: np.ndarray, limit: int) -> list[PassageHit]:
        """The best ``limit`` passages of every stored paper for the query, best first."""
        dense = np.asarray(vector, dtype=np.float32).tolist()
        legs = [
            Leg(DENSE, LEG_DEPTH, dense=dense),
            Leg(LEXICAL, LEG_DEPTH, sparse=self.lexical.query(query)),
        ]
        by_meaning, by_words = self.store.query(legs)
        best = mix(by_meaning, by_words, LEG_DEPTH, self.dense_weight, limit)
        payloads = {p.id: p.payload for p in self.store.retrieve([pid for pid, _ in best])}
        terms = set(self.lexical.terms(query))
        return [self._ranked(payloads[pid], score, terms) for pid, score in best if pid in payloads]

    def count(self) -> int:
        return self.store.count()

    def close(self) -> None:
        self.store.close()
