"""The ingest pipeline's stages, each a plain function or class that Ray Data runs: the
JSON Lines datasource, the parser (with the skip set of what the index holds), the embedding
actor. ``ingest`` wires them."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from deployments.index.records import BadRecord, IndexRecord, iter_stream_lines, parse_line

if TYPE_CHECKING:
    import pyarrow

ROWS_PER_BLOCK = 1000  # lines per block out of a read task (a few MB of raw JSON)


def version_key(arxiv_id: str, version: int) -> int:
    """64-bit key of (id, version): the skip set of a 2.8 M-record index is ~22 MB of int64."""
    digest = hashlib.blake2b(f"{arxiv_id}v{version}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def datasource_class() -> type:
    """``JsonLinesDatasource``, built on first use so that importing this module needs no Ray."""
    from ray.data.datasource import FileBasedDatasource

    class JsonLinesDatasource(FileBasedDatasource):
        """Rows ``{path, line, raw}`` of JSON Lines files, a block per ``ROWS_PER_BLOCK``
        lines, read as a stream (never a whole file in memory)."""

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


_PRESENT: dict[Any, np.ndarray] = {}  # per worker process: the skip set, fetched once


def parse_rows(batch: dict[str, np.ndarray], present: Any = None) -> dict[str, np.ndarray]:
    """Raw lines -> ``status`` ("new", "present": the index holds this version already, or
    "bad"), ``record`` (IndexRecord JSON for "new"), ``text`` to embed, ``error`` (a bad line's
    reason). ``present``: an object ref of the sorted int64 ``version_key``s in the index."""
    keys = _present_keys(present)
    out: dict[str, list[Any]] = {
        k: [] for k in ("path", "line", "status", "record", "text", "error")
    }
    for path, line, raw in zip(batch["path"], batch["line"], batch["raw"], strict=True):
        parsed = parse_line(str(path), int(line), bytes(raw))
        row = {"status": "new", "record": "", "text": "", "error": ""}
        if isinstance(parsed, BadRecord):
            row.update(status="bad", error=parsed.reason)
        elif _contains(keys, version_key(parsed.arxiv_id, parsed.version)):
            row.update(status="present")
        else:
            row.update(record=parsed.to_json(), text=parsed.embedding_text)
        out["path"].append(str(path))
        out["line"].append(int(line))
        for column, value in row.items():
            out[column].append(value)
    return {k: np.asarray(v, dtype=np.int64 if k == "line" else object) for k, v in out.items()}


def _contains(sorted_keys: np.ndarray, key: int) -> bool:
    i = int(np.searchsorted(sorted_keys, key))
    return i < len(sorted_keys) and int(sorted_keys[i]) == key


def _present_keys(present: Any) -> np.ndarray:
    if present is None:
        return np.zeros(0, dtype=np.int64)
    if present not in _PRESENT:
        import ray

        _PRESENT[present] = ray.get(present)
    return _PRESENT[present]


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
        self.summarizer = None
        if summaries:
            from deployments.summarizer.extractive import ExtractiveSummarizer

            async def embed(texts: list[str]) -> np.ndarray:
                return self.embedder.embed(texts)

            self.summarizer = ExtractiveSummarizer(embed)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        good = [i for i, status in enumerate(batch["status"]) if status == "new"]
        vectors = np.zeros((len(batch["status"]), self.embedder.dimension), dtype=np.float32)
        if good:
            vectors[good] = self.embedder.embed([str(batch["text"][i]) for i in good])
        summaries = np.full(len(batch["status"]), "", dtype=object)
        if self.summarizer is not None and good:
            records = [IndexRecord.from_json(str(batch["record"][i])) for i in good]
            summaries[good] = asyncio.run(self._summaries(records))
        return {**batch, "vector": vectors, "summary": summaries}

    async def _summaries(self, records: list[IndexRecord]) -> list[str]:
        assert self.summarizer is not None
        out = []
        for record in records:  # one at a time: this actor's cores are already busy
            try:
                out.append(await self.summarizer.summarize(record.title, record.abstract))
            except Exception:
                out.append("")
        return out
