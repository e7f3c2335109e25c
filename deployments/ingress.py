"""Ingress stage: the HTTP API and the request flow across the other four stages.

Core: ``ResearchPipeline`` runs ``POST /execute`` step by step (DESIGN.md) against any objects
with the stages' async methods, so it is tested without Ray. Deployment: ``Ingress`` serves the
FastAPI app through ``@serve.ingress`` and hands the pipeline Serve handles wrapped in
``HandleProxy``. Errors become HTTP here and only here::

    RequestValidationError -> 422 naming each field     ArxivQueryError  -> 400, arXiv's message
    ArxivUnavailable       -> 503 with Retry-After      anything else    -> 500, request id only
"""

# No `from __future__ import annotations` here: FastAPI reads these handlers' annotations at
# runtime, and Serve's class-based ingress cannot resolve them from strings.
import asyncio
import hmac
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np

from deployments.caches import TTLCache
from deployments.errors import ArmError, ArxivQueryError, ArxivUnavailable, unwrap
from deployments.memory_writer import NewMemory, StoredPaper
from models.paper import Paper
from models.research import (
    MemorySearchRequest,
    MemorySearchResponse,
    Provenance,
    ResearchRequest,
    ResearchResponse,
    StageTiming,
)

logger = logging.getLogger(__name__)

VERSION = "0.1.0"


@dataclass
class _Timer:
    timings: list[StageTiming] = field(default_factory=list)

    def add(self, stage: str, started: float) -> None:
        self.timings.append(
            StageTiming(stage=stage, ms=round((time.perf_counter() - started) * 1000, 2))
        )


def relevance(similarity: float) -> float:
    """Cosine similarity of unit vectors mapped to [0, 1]: negatives (unrelated) become 0."""
    return 0.0 if math.isnan(similarity) else min(1.0, max(0.0, similarity))


class ResearchPipeline:
    """The request flow of DESIGN.md over five stages given as objects with async methods.

    ``fetcher.search``, ``embedder.embed``, ``summarizer.summarize``, ``memory.lookup`` /
    ``upsert`` / ``search``; ``models`` names what served each stage (for provenance).
    """

    def __init__(
        self,
        fetcher: Any,
        embedder: Any,
        summarizer: Any,
        memory: Any,
        *,
        arm_id: str,
        models: dict[str, str],
        candidate_factor: int = 2,
        max_candidates: int = 50,
    ) -> None:
        self.fetcher = fetcher
        self.embedder = embedder
        self.summarizer = summarizer
        self.memory = memory
        self.arm_id = arm_id
        self.models = models
        self.candidate_factor = candidate_factor
        self.max_candidates = max_candidates
        # Query vectors by exact query text: a repeated query skips the embedder entirely.
        self._query_vectors: TTLCache[str, np.ndarray] = TTLCache(maxsize=4096)

    async def embed_query(self, query: str) -> np.ndarray:
        """The query's unit vector, from a small LRU or the embedder."""
        cached = self._query_vectors.get(query)
        if cached is not None:
            return cached
        vector = np.asarray(await self.embedder.embed([query]), dtype=np.float32)[0]
        self._query_vectors.put(query, vector)
        return vector

    async def execute(self, req: ResearchRequest, request_id: str) -> ResearchResponse:
        began = time.perf_counter()
        timer = _Timer()
        warnings: list[str] = []
        wanted = min(
            self.max_candidates, max(req.max_papers, req.max_papers * self.candidate_factor)
        )

        # 1-2. arXiv and the query's vector are independent: ask both at once.
        started = time.perf_counter()
        query_vec_task = asyncio.ensure_future(self.embed_query(req.query))
        try:
            found = await self.fetcher.search(req.query, req.start_date, req.end_date, wanted)
        except BaseException:
            query_vec_task.cancel()
            raise
        timer.add("arxiv", started)
        candidates: list[Paper] = list({p.arxiv_id: p for p in found.papers}.values())

        # 3. What memory already holds needs neither embedding nor summarising again.
        started = time.perf_counter()
        stored: dict[str, StoredPaper] = {}
        if candidates:
            try:
                stored = await self.memory.lookup([p.arxiv_id for p in candidates])
            except Exception as exc:
                warnings.append(f"memory lookup failed, nothing reused: {unwrap(exc)}")
        timer.add("memory_lookup", started)

        # 4. Embed the rest (one call: the Embedder batches it with other requests' texts).
        started = time.perf_counter()
        fresh = [p for p in candidates if p.arxiv_id not in stored]
        fresh_vectors = (
            await self.embedder.embed([p.embedding_text for p in fresh]) if fresh else None
        )
        query_vec = await query_vec_task
        timer.add("embed", started)
        vectors: dict[str, np.ndarray] = {k: v.vector for k, v in stored.items()}
        for i, paper in enumerate(fresh):
            vectors[paper.arxiv_id] = np.asarray(fresh_vectors)[i]

        # 5. Rank by cosine similarity; keep the best max_papers.
        scored = sorted(
            ((relevance(float(vectors[p.arxiv_id] @ query_vec)), p) for p in candidates),
            key=lambda item: -item[0],
        )[: req.max_papers]
        top = [p.model_copy(update={"relevance_score": round(score, 4)}) for score, p in scored]

        # 6. Summaries only where memory has none, all at once; a failure is a warning.
        started = time.perf_counter()
        made: dict[str, str] = {}
        reused = 0
        if req.include_summaries:
            todo = []
            for paper in top:
                old = stored.get(paper.arxiv_id)
                if old is not None and old.summary:
                    paper.summary = old.summary
                    reused += 1
                else:
                    todo.append(paper)
            outcomes = await asyncio.gather(
                *(self.summarizer.summarize(p.title, p.abstract) for p in todo),
                return_exceptions=True,
            )
            for paper, outcome in zip(todo, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    warnings.append(f"{paper.arxiv_id}: summary failed ({unwrap(outcome)})")
                    continue
                paper.summary = outcome.summary
                if outcome.summary:
                    made[paper.arxiv_id] = outcome.summary
                warnings.extend(f"{paper.arxiv_id}: {w}" for w in outcome.warnings)
        timer.add("summarize", started)

        # 7. Store what is new or changed: one point per paper, so nothing is stored twice.
        started = time.perf_counter()
        changes = [
            NewMemory(p, vectors[p.arxiv_id], made.get(p.arxiv_id))
            for p in candidates
            if p.arxiv_id not in stored
            or p.arxiv_id in made
            or req.query not in stored[p.arxiv_id].queries
            or p.version != stored[p.arxiv_id].paper.version
        ]
        if changes:
            try:
                await self.memory.upsert(changes, req.query)
            except Exception as exc:
                warnings.append(f"memory write failed, results not remembered: {unwrap(exc)}")
        timer.add("memory_upsert", started)

        confidence = float(np.mean([p.relevance_score for p in top])) if top else 0.0
        return ResearchResponse(
            papers=top,
            total_found=found.total_found,
            query_used=found.query_used,
            search_time_ms=round((time.perf_counter() - began) * 1000, 2),
            confidence=round(confidence, 4),
            provenance=Provenance(
                arm_id=self.arm_id,
                request_id=request_id,
                sources=["arxiv", "memory"] if stored else ["arxiv"],
                method="arXiv search, MiniLM cosine re-ranking, "
                + (
                    f"{self.models.get('summarizer', 'summarizer')} summaries"
                    if req.include_summaries
                    else "no summaries"
                ),
                models=self.models,
                timings=timer.timings,
                cache={
                    "arxiv_cache_hit": int(found.cache_hit),
                    "memory_hits": len(stored),
                    "embedded": len(fresh),
                    "summaries_made": len(made),
                    "summaries_reused": reused,
                    "stored": len(changes),
                },
            ),
            warnings=warnings,
        )

    async def memory_search(self, req: MemorySearchRequest) -> MemorySearchResponse:
        vector = await self.embed_query(req.query)
        hits: list[StoredPaper] = await self.memory.search(
            vector, req.limit, req.start_date, req.end_date
        )
        papers = [
            h.paper.model_copy(update={"relevance_score": round(relevance(h.score), 4)})
            for h in hits
        ]
        return MemorySearchResponse(papers=papers, count=len(papers))


# --------------------------------------------------------------------------------------------
# Deployment
# --------------------------------------------------------------------------------------------

from fastapi import Depends, FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer  # noqa: E402
from ray import serve  # noqa: E402
from ray.serve.handle import DeploymentHandle  # noqa: E402

from deployments import metrics  # noqa: E402
from models.health import CapabilityManifest, HealthStatus, StageHealth  # noqa: E402
from models.research import ErrorBody, MemorySearchResponse  # noqa: E402
from models.settings import Settings  # noqa: E402


class HandleProxy:
    """``await proxy.method(*args)`` for ``await handle.method.remote(*args)``."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._handle, name)
        return lambda *args, **kwargs: method.remote(*args, **kwargs)


app = FastAPI(
    title="Research arm",
    version=VERSION,
    description="Find, rank, summarise and remember arXiv papers for an agent orchestrator.",
)
_bearer = HTTPBearer(auto_error=False)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        given = request.headers.get("X-Request-ID", "")
        rid = given if 0 < len(given) <= 128 and given.isprintable() else uuid.uuid4().hex
        request.state.request_id = rid
    return str(rid)


def _error(
    status: int,
    kind: str,
    message: str,
    request: Request,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    rid = _request_id(request)
    body = ErrorBody(error=kind, message=message, request_id=rid).model_dump()
    body.update(extra)
    # Serve's proxy already echoes X-Request-ID on every response.
    return JSONResponse(body, status_code=status, headers=headers)


@app.exception_handler(RequestValidationError)
async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        details.append(
            {
                "field": ".".join(loc) or "body",
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return _error(422, "validation_error", f"invalid request: {summary}", request, detail=details)


def _map_error(exc: BaseException, request: Request) -> JSONResponse:
    cause = unwrap(exc)
    if isinstance(cause, ArxivQueryError):
        return _error(400, "bad_request", cause.message, request)
    if isinstance(cause, ArxivUnavailable):
        retry = str(max(1, math.ceil(cause.retry_after_s)))
        return _error(503, "arxiv_unavailable", cause.message, request, {"Retry-After": retry})
    logger.error(
        "request %s failed: %s",
        _request_id(request),
        cause.message if isinstance(cause, ArmError) else repr(cause),
        exc_info=not isinstance(cause, ArmError),
    )
    return _error(
        500, "internal_error", f"internal error; quote request id {_request_id(request)}", request
    )


@app.exception_handler(Exception)
async def _on_error(request: Request, exc: Exception) -> JSONResponse:
    return _map_error(exc, request)


@serve.deployment(name="Ingress")
@serve.ingress(app)
class Ingress:
    """HTTP API of the arm; calls the other four stages through their handles."""

    def __init__(
        self,
        settings: dict[str, Any] | None,
        fetcher: DeploymentHandle,
        embedder: DeploymentHandle,
        summarizer: DeploymentHandle,
        memory: DeploymentHandle,
    ) -> None:
        self.config = Settings.load(settings)
        self.handles = {
            "arxiv": fetcher,
            "embedder": embedder,
            "summarizer": summarizer,
            "memory": memory,
        }
        self.models = {
            "embedder": "all-MiniLM-L6-v2",
            "summarizer": self.config.summarizer_backend,
            "memory": "qdrant",
            "search": "arxiv",
        }
        self._models_known = False
        self.pipeline = ResearchPipeline(
            HandleProxy(fetcher),
            HandleProxy(embedder),
            HandleProxy(summarizer),
            HandleProxy(memory),
            arm_id=self.config.arm_id,
            models=self.models,
            max_candidates=self.config.arxiv_max_results,
        )
        self.stage_metrics = metrics.StageMetrics("ingress")
        self.summaries = metrics.summaries_counter()
        self.requests = metrics.counter(
            "arm_requests_total", "HTTP requests by route and status.", ("route", "status")
        )

    async def _learn_models(self) -> None:
        # Filled in on first use: the stages are up by then, __init__ must not wait on them.
        if self._models_known:
            return
        try:
            emb, summ = await asyncio.gather(
                self.handles["embedder"].info.remote(), self.handles["summarizer"].info.remote()
            )
            self.models.update(
                embedder=emb["model"], summarizer=f"{summ['backend']}:{summ['model']}"
            )
            self._models_known = True
        except Exception as exc:
            logger.warning("could not read stage models: %s", exc)

    def _authorize(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> JSONResponse | None:
        key = self.config.arm_api_key
        if key is None:
            return None
        given = (
            credentials.credentials
            if credentials and credentials.scheme.lower() == "bearer"
            else ""
        )
        if hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
            return None
        return _error(
            401,
            "unauthorized",
            "missing or wrong bearer token",
            request,
            {"WWW-Authenticate": "Bearer"},
        )

    @app.post(
        "/execute",
        response_model=ResearchResponse,
        tags=["research"],
        responses={
            400: {"model": ErrorBody},
            401: {"model": ErrorBody},
            422: {"model": ErrorBody},
            503: {"model": ErrorBody},
        },
    )
    async def execute_research(
        self,
        body: ResearchRequest,
        request: Request,
        credentials: BearerCredentials,
    ) -> Any:
        """Search arXiv, rank by meaning, summarise and remember the best papers."""
        denied = self._authorize(request, credentials)
        if denied:
            return denied
        started = time.perf_counter()
        rid = _request_id(request)
        await self._learn_models()
        try:
            response = await self.pipeline.execute(body, rid)
        except Exception as exc:
            answer = _map_error(exc, request)
            self.requests.inc(1, tags={"route": "/execute", "status": str(answer.status_code)})
            return answer
        self.stage_metrics.record(len(response.papers), time.perf_counter() - started)
        reused = response.provenance.cache.get("summaries_reused", 0)
        if reused:
            self.summaries.inc(reused, tags={"outcome": "reused"})
        self.requests.inc(1, tags={"route": "/execute", "status": "200"})
        return JSONResponse(response.model_dump(mode="json"))

    @app.post(
        "/memory/search",
        response_model=MemorySearchResponse,
        tags=["memory"],
        responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    )
    async def search_memory(
        self,
        body: MemorySearchRequest,
        request: Request,
        credentials: BearerCredentials,
    ) -> Any:
        """Semantic search over the papers the arm has stored."""
        denied = self._authorize(request, credentials)
        if denied:
            return denied
        try:
            result = await self.pipeline.memory_search(body)
        except Exception as exc:
            return _map_error(exc, request)
        return JSONResponse(result.model_dump(mode="json"))

    @app.get("/health", response_model=HealthStatus, tags=["ops"])
    async def get_health(self) -> Any:
        """Each stage's own state; never calls arXiv (probes come every few seconds)."""
        names = [n for n in self.handles]
        results = await asyncio.gather(
            *(asyncio.wait_for(self.handles[n].health.remote(), timeout=3.0) for n in names),
            return_exceptions=True,
        )
        stages = {"ingress": StageHealth(state="ok")}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                stages[name] = StageHealth(state="down", detail=f"{type(unwrap(result)).__name__}")
            else:
                stages[name] = StageHealth.model_validate(result)
        states = {s.state for s in stages.values()}
        overall = "down" if "down" in states else "degraded" if "degraded" in states else "ok"
        health = HealthStatus(
            status=overall, arm_id=self.config.arm_id, version=VERSION, stages=stages
        )
        return JSONResponse(
            health.model_dump(mode="json"), status_code=503 if overall == "down" else 200
        )

    @app.get("/capabilities", response_model=CapabilityManifest, tags=["ops"])
    async def get_capabilities(self) -> CapabilityManifest:
        """What the arm does, its endpoints, limits and the JSON schemas of /execute."""
        await self._learn_models()
        return CapabilityManifest(
            arm_id=self.config.arm_id,
            version=VERSION,
            description="Finds arXiv papers for a query, ranks them by semantic similarity, "
            "summarises each in one sentence, cites it (APA, BibTeX) and remembers it.",
            endpoints={
                "execute": "POST /execute",
                "memory_search": "POST /memory/search",
                "health": "GET /health",
                "capabilities": "GET /capabilities",
                "openapi": "GET /docs",
            },
            input_schema=ResearchRequest.model_json_schema(),
            output_schema=ResearchResponse.model_json_schema(),
            limits={
                "max_papers": 20,
                "query_chars": [3, 500],
                "arxiv_min_interval_s": self.config.arxiv_min_interval_s,
                "auth": "bearer" if self.config.arm_api_key else "none",
            },
            models=dict(self.models),
        )
