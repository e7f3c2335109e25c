"""The ingest pipeline's stages, each a plain function or class that Ray Data runs: the
JSON Lines datasource, the parser (with the skip set of what the index holds), the embedding
actor. ``ingest`` wires them."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from deployments.index.records import BadRecord, IndexRecord, iter_stream_lines, parse_line

if TYPE_CHECKING:
    import pyarrow

ROWS_PER_BLOCK = 1000  # lines per block out of a read task (a few MB of raw JSON)


def id_key(arxiv_id: str) -> int:
    """64-bit key of an arXiv id: the held-versions table of a 2.8 M-record index is ~34 MB."""
    digest = hashlib.blake2b(arxiv_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class HeldVersions:
    """What the index holds, as sorted id keys and the version held of each (numpy, so it
    ships to the parse tasks through the object store once)."""

    def __init__(self, held: Iterator[tuple[str, int]]) -> None:
        pairs = sorted((id_key(i), v) for i, v in held)
        self.keys = np.fromiter((k for k, _ in pairs), dtype=np.int64, count=len(pairs))
        self.versions = np.fromiter((v for _, v in pairs), dtype=np.int32, count=len(pairs))

    def holds(self, arxiv_id: str, version: int) -> bool:
        """True when the index holds this version of the paper or a later one."""
        key = id_key(arxiv_id)
        i = int(np.searchsorted(self.keys, key))
        return i < len(self.keys) and int(self.keys[i]) == key and int(self.versions[i]) >= version


def datasource_class() -> type:
    """``JsonLinesDatasource``, built on first use so that importing this module needs no Ray."""
    from ray.data.datasource import FileBasedDatasource

    class JsonLinesDatasource(FileBasedDatasource):
        """Rows ``{path, line, raw}`` of JSON Lines files, a block per ``ROWS_PER_BLOCK``
        lines, read as a stream (never a whole file in memory)."""

        def resolve_compression(self, path: str, open_args: dict[str, Any]) -> str | None:
            # The bytes decide (``iter_stream_lines`` sniffs gzip's magic), not the suffix:
            # downloads often lose or gain a ".gz".
            return None

        def _read_stream(self, f: pyarrow.NativeFile, path: str) -> Iterator[Any]:
            import pyarrow as pa

            lines: list[int] = []
            raws: list[bytes] = []
            for line_no, raw in iter_stream_lines(io.BufferedReader(f)):
                lines.append(line_no)
                raws.append(raw)
                if len(lines) >= ROWS_PER_BLOCK:
                    yield pa.table({"path": [path] * len(lines), "line": lines, "raw": raws})
                    lines, raws = [], []
            if lines:
                yield pa.table({"path": [path] * len(lines), "line": lines, "raw": raws})

    return JsonLinesDatasource


_HELD: dict[Any, HeldVersions] = {}  # per worker process: fetched once per run


def parse_rows(batch: dict[str, np.ndarray], present: Any = None) -> dict[str, np.ndarray]:
    """Raw lines -> ``status`` ("new"; "present": the index holds this version or a later one;
    "bad"), ``record`` (IndexRecord JSON for "new"), ``text`` to embed, ``error`` (a bad line's
    reason). ``present``: an object ref of the index's ``HeldVersions``."""
    held = _held(present)
    out: dict[str, list[Any]] = {
        k: [] for k in ("path", "line", "status", "record", "text", "error")
    }
    for path, line, raw in zip(batch["path"], batch["line"], batch["raw"], strict=True):
        parsed = parse_line(str(path), int(line), bytes(raw))
        row = {"status": "new", "record": "", "text": "", "error": ""}
        if isinstance(parsed, BadRecord):
            row.update(status="bad", error=parsed.reason)
        elif held is not None and held.holds(parsed.arxiv_id, parsed.version):
            row.update(status="present")
        else:
            row.update(record=parsed.to_json(), text=parsed.embedding_text)
        out["path"].append(str(path))
        out["line"].append(int(line))
        for column, value in row.items():
            out[column].append(value)
    return {k: np.asarray(v, dtype=np.int64 if k == "line" else object) for k, v in out.items()}


def _held(present: Any) -> HeldVersions | None:
    if present is None or isinstance(present, HeldVersions):
        return present
    if present not in _HELD:
        import ray

        _HELD[present] = ray.get(present)
    return _HELD[present]


class EmbedRows:
    """Ray Data actor: adds ``vector`` (and ``summary``) to parsed rows, with the Embedder's
    ``TextEmbedder`` (same model, same code) and optionally the extractive summarizer."""

    def __init__(
        self, model: str | None, device: str, threads: int, batch_size: int, summaries: bool
    ) -> None:
        from deployments.common.process import configure_model_process
        from deployments.embedder.text_embedder import TextEmbedder

        configure_model_process(torch_threads=1 if device == "cpu" else None)
        self.embedder = TextEmbedder(model, device=device, batch_size=batch_size, workers=threads)
        self.ready_at = 0.0  # wall clock of the first batch: the pipeline's steady state begins
        self.summarizer = None
        if summaries:
            from deployments.summarizer.extractive import ExtractiveSummarizer

            async def embed(texts: list[str]) -> np.ndarray:
                return self.embedder.embed(texts)

            self.summarizer = ExtractiveSummarizer(embed)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.ready_at = self.ready_at or time.time()
        good = [i for i, status in enumerate(batch["status"]) if status == "new"]
        vectors = np.zeros((len(batch["status"]), self.embedder.dimension), dtype=np.float32)
        if good:
            vectors[good] = self.embedder.embed([str(batch["text"][i]) for i in good])
        summaries = np.full(len(batch["status"]), "", dtype=object)
        if self.summarizer is not None and good:
            records = [IndexRecord.from_json(str(batch["record"][i])) for i in good]
            summaries[good] = asyncio.run(self._summaries(records))
        ready = np.full(len(batch["status"]), self.ready_at)
        return {**batch, "vector": vectors, "summary": summaries, "ready_at": ready}

    async def _summaries(self, records: list[IndexRecord]) -> list[str]:
        assert self.summarizer is not None
        out = []
        for record in records:  # one at a time: this actor's cores are already busy
            try:
                out.append(await self.summarizer.summarize(record.title, record.abstract))
            except Exception:
                out.append("")
        return out
