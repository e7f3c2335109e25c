"""The seed design, rebuilt as the benchmark's reference: one FastAPI process that, per request,
fetches ``max_papers`` papers, scores them by keyword overlap, writes one summary after another,
and encodes and stores each paper on its own under a random id. Same model (the packaged
MiniLM), same store (embedded Qdrant), same summarizer code and arXiv parser as the arm, so the
benchmark compares the designs, not the parts. Like the seed, it runs the model and the store
inside its async handler, on the event loop.

    python -m bench.baseline.seed_arm --port 8100 --arxiv-url URL [--backend extractive|openai]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import uuid
from typing import Any

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from sentence_transformers import SentenceTransformer

from deployments.arxiv.atom import parse_feed
from deployments.arxiv.query import build_search_query
from deployments.common.packaged_model import packaged_model_path
from deployments.summarizer.backend import SummaryBackend
from deployments.summarizer.extractive import ExtractiveSummarizer
from deployments.summarizer.llm import OpenAIChatSummarizer
from models.research import ResearchRequest


def build_app(arxiv_url: str, backend: str, openai_url: str | None, store: str) -> FastAPI:
    model = SentenceTransformer(packaged_model_path(), device="cpu")
    client = QdrantClient(path=store)
    client.create_collection(
        "papers", vectors_config=qm.VectorParams(size=384, distance=qm.Distance.COSINE)
    )
    http = httpx.AsyncClient(timeout=60)

    async def embed(texts: list[str]) -> np.ndarray:
        return model.encode(texts, normalize_embeddings=True)  # blocking, as the seed did

    summarizer: SummaryBackend = (
        OpenAIChatSummarizer(openai_url, "standin")
        if backend == "openai" and openai_url
        else ExtractiveSummarizer(embed)
    )
    app = FastAPI(title="seed design (reference)")

    @app.post("/execute")
    async def execute(req: ResearchRequest) -> dict[str, Any]:
        started = time.perf_counter()
        query = build_search_query(req.query, req.start_date, req.end_date)
        response = await http.get(
            arxiv_url,
            params={
                "search_query": query,
                "start": "0",
                "max_results": str(req.max_papers),
                "sortBy": "relevance",
                "sortOrder": "descending",
            },
        )
        page = parse_feed(response.content)
        terms = set(re.findall(r"\w+", req.query.lower()))
        papers = []
        for paper in page.papers:
            words = set(re.findall(r"\w+", f"{paper.title} {paper.abstract}".lower()))
            paper.relevance_score = len(terms & words) / max(1, len(terms))
            papers.append(paper)
        papers.sort(key=lambda p: -p.relevance_score)
        for paper in papers:  # one summary after another
            paper.summary = await summarizer.summarize(paper.title, paper.abstract)
        for paper in papers:  # one encode and one store per paper, random id
            vector = model.encode([paper.embedding_text], normalize_embeddings=True)[0]
            client.upsert(
                "papers",
                points=[
                    qm.PointStruct(
                        id=str(uuid.uuid4()),
                        vector=vector.tolist(),
                        payload=paper.model_dump(mode="json"),
                    )
                ],
            )
        return {
            "papers": [p.model_dump(mode="json") for p in papers],
            "total_found": page.total_results,
            "search_time_ms": (time.perf_counter() - started) * 1000,
        }

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--arxiv-url", required=True)
    parser.add_argument("--backend", default="extractive", choices=["extractive", "openai"])
    parser.add_argument("--openai-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seed-qdrant-") as store:
        app = build_app(args.arxiv_url, args.backend, args.openai_url, store)
        asyncio.run(
            uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
            ).serve()
        )


if __name__ == "__main__":
    main()
