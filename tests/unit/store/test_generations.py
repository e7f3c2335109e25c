"""Ingesting while the index is served: shard generations, switch-over, a killed ingest, bad
folders, and the old embedded format found and converted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from arm_dev.arxiv import SAMPLE_CORPUS
from deployments.index.paper_index import IndexLocked, PaperIndex
from deployments.index.records import IndexRecord, read_records
from deployments.store.generations import Generations
from deployments.store.points import StoreUnreadable
from models.contracts import SearchRequest

DIM = 8
RECORDS = [r for r in read_records(SAMPLE_CORPUS) if isinstance(r, IndexRecord)]
ROOT = Path(__file__).resolve().parents[3]


def vectors(n: int, seed: int = 0) -> np.ndarray:
    raw = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def ingest(folder: Path, records: list[IndexRecord], finish: bool = True) -> None:
    writer = PaperIndex(DIM, path=str(folder), ingest=True)
    writer.upsert(records, vectors(len(records)))
    if finish:
        writer.finish()
    writer.close()


def test_a_served_index_switches_to_a_new_ingest_without_closing(tmp_path: Path) -> None:
    ingest(tmp_path, RECORDS[:4])
    reader = PaperIndex(None, path=str(tmp_path))
    first = reader.generation
    assert reader.stats().records == 4 and not reader.switch_due()
    ingest(tmp_path, RECORDS[4:])  # while the reader holds the first shard open
    assert reader.stats().records == 4  # still the old shard until the switch
    assert reader.shards is not None
    reader.shards._checked_at = 0.0  # skip the once-a-second wait
    assert reader.switch_due() and reader.refresh()
    assert reader.generation != first and reader.stats().records == len(RECORDS)
    hits = reader.search(SearchRequest("lensing", max_results=3, query_vector=vectors(1, 9)[0]))
    assert len(hits) == 3
    assert [p.name for p in (tmp_path / "arxiv_index" / "shards").iterdir()] == [
        reader.generation
    ]  # the old shard went once nothing held it
    reader.close()


def test_a_killed_ingest_leaves_the_old_shard_served_and_the_next_resumes_it(
    tmp_path: Path,
) -> None:
    ingest(tmp_path, RECORDS[:4])
    served = Generations(tmp_path / "arxiv_index").current()
    ingest(tmp_path, RECORDS[4:7], finish=False)  # killed before it published
    assert Generations(tmp_path / "arxiv_index").current() == served
    reader = PaperIndex(None, path=str(tmp_path))
    assert reader.stats().records == 4
    reader.close()
    resumed = PaperIndex(DIM, path=str(tmp_path), ingest=True)
    assert resumed.versions([r.arxiv_id for r in RECORDS[4:7]])  # its writes are still there
    resumed.finish()
    assert resumed.stats().records == 7
    resumed.close()


def test_two_ingests_at_once_the_second_is_refused(tmp_path: Path) -> None:
    first = PaperIndex(DIM, path=str(tmp_path), ingest=True)
    with pytest.raises(IndexLocked, match="another ingest"):
        PaperIndex(DIM, path=str(tmp_path), ingest=True)
    first.close()


def test_a_corrupt_shard_names_its_folder_and_the_fix(tmp_path: Path) -> None:
    ingest(tmp_path, RECORDS[:2])
    shard = Generations(tmp_path / "arxiv_index").current()
    assert shard is not None
    (shard / "edge_config.json").write_text("{ truncated")
    with pytest.raises(StoreUnreadable, match=str(shard)) as raised:
        PaperIndex(None, path=str(tmp_path))
    assert "ingest again" in str(raised.value)


def test_the_old_embedded_format_is_refused_then_converted_without_embedding(
    tmp_path: Path,
) -> None:
    old = QdrantClient(path=str(tmp_path))
    old.create_collection(
        "arxiv_index",
        vectors_config={"dense": qm.VectorParams(size=DIM, distance=qm.Distance.COSINE)},
        sparse_vectors_config={"lexical": qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
    )
    old.close()
    # Fill it through the same ranking code the arm used with that engine.
    from bench.scale_local import LocalIndex

    local = LocalIndex(DIM, tmp_path)
    local.upsert(RECORDS, vectors(len(RECORDS)))
    local.close()
    with pytest.raises(StoreUnreadable, match=r"python -m deployments\.store\.convert"):
        PaperIndex(None, path=str(tmp_path))
    converted = subprocess.run(
        [sys.executable, "-m", "deployments.store.convert", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert converted.returncode == 0, converted.stderr
    assert f'"points": {len(RECORDS)}' in converted.stdout
    index = PaperIndex(None, path=str(tmp_path))
    assert index.stats().records == len(RECORDS)
    (hit,) = index.search(
        SearchRequest("bosonic codes", max_results=1, query_vector=vectors(len(RECORDS))[5])
    )
    assert hit.paper.arxiv_id == RECORDS[5].arxiv_id  # its own vector, copied as it was
    index.close()
    assert (tmp_path / "collection").is_dir()  # the old files are left to the operator


def test_a_snapshot_saved_here_loads_elsewhere_and_a_bad_one_changes_nothing(
    tmp_path: Path,
) -> None:
    from deployments.store.snapshot import load, save

    ingest(tmp_path / "a", RECORDS)
    snapshot = tmp_path / "index.snapshot"
    saved = save(tmp_path / "a" / "arxiv_index", snapshot)
    assert snapshot.is_file() and saved["mb"] > 0
    elsewhere = tmp_path / "b"
    ingest(elsewhere, RECORDS[:2])
    reader = PaperIndex(None, path=str(elsewhere))  # served while the snapshot loads
    loaded = load(snapshot, elsewhere / "arxiv_index")
    assert loaded["points"] == len(RECORDS) and loaded["dimension"] == DIM
    assert reader.refresh() and reader.stats().records == len(RECORDS)
    served = reader.generation
    truncated = tmp_path / "truncated.snapshot"
    truncated.write_bytes(snapshot.read_bytes()[:4096])
    for bad in (truncated, SAMPLE_CORPUS):
        with pytest.raises(StoreUnreadable, match=str(bad)):
            load(bad, elsewhere / "arxiv_index")
    assert not reader.refresh() and reader.generation == served
    assert [p.name for p in (elsewhere / "arxiv_index" / "shards").iterdir()] == [served]
    reader.close()
