"""The local index end to end: the Ray Data ingest job (in this tier's Ray), a kill and a
resume of its command, and the graph answering /execute offline from what it ingested."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from arm_dev.arxiv import SAMPLE_CORPUS
from deployments.index.paper_index import PaperIndex
from deployments.ingest.job import ingest
from models.contracts import SearchRequest
from tests.conftest import ROOT
from tests.graph.conftest import App, _free_port, deploy

DIM = 384


def kaggle_line(n: int, *, version: int = 1, year: int = 2021, words: str = "") -> str:
    """One Kaggle-format record, written here (short abstracts keep embedding cheap)."""
    return json.dumps(
        {
            "id": f"2101.{n:05d}",
            "title": f"Study number {n} of sparse {words or 'graphs'}",
            "abstract": f"We examine case {n} of sparse {words or 'graphs'} and report bounds.",
            "authors": "A. Author, B. Writer",
            "categories": "math.CO cs.DM" if n % 2 else "cs.LG",
            "versions": [
                {"version": f"v{v}", "created": f"Mon, 4 Jan {year} 10:00:00 GMT"}
                for v in range(1, version + 1)
            ],
            "update_date": f"{year}-01-04",
        }
    )


def test_ingest_counts_skips_and_resumes_nothing_twice(serve_url: str, tmp_path: Path) -> None:
    plain = tmp_path / "part1.jsonl"
    plain.write_text(
        "\n".join(
            [
                kaggle_line(1),
                "{broken json",  # line 2
                kaggle_line(2),
                json.dumps({"id": "2101.99999", "title": "no abstract"}),  # line 4
                "",
                kaggle_line(3, version=1),  # line 6: v1 here, v2 in the gzip file
            ]
        )
        + "\n"
    )
    packed = tmp_path / "part2.jsonl.gz"
    lines = [kaggle_line(3, version=2), kaggle_line(4, year=1850)]  # line 2: an odd date
    packed.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))

    index = PaperIndex(DIM, path=str(tmp_path / "index"))
    report = ingest([str(plain), str(packed)], index, summaries=True, progress=False)
    assert report.bad == 3
    assert sorted(s.split("/")[-1] for s in report.bad_samples) == [
        "part1.jsonl:2: broken JSON",
        "part1.jsonl:4: missing field: abstract",
        "part2.jsonl.gz:2: odd date: Mon, 4 Jan 1850 10:00:00 GMT",
    ]
    assert index.stats().records == 3  # 2101.00003 once, at its latest version
    assert index.versions(["2101.00003"]) == {"2101.00003": 2}
    vector = index_vector(index, "2101.00002")
    (hit,) = index.search(
        SearchRequest("case 2 of sparse graphs", max_results=1, query_vector=vector)
    )
    assert hit.paper.arxiv_id == "2101.00002"
    assert hit.summary and "sparse graphs" in hit.summary  # --summaries stored one

    again = ingest([str(plain), str(packed)], index, progress=False)
    assert again.indexed == 0 and again.already_present == 4  # both versions of 00003 seen
    assert index.stats().records == 3
    index.close()


def index_vector(index: PaperIndex, arxiv_id: str) -> object:
    from models.paper import point_id

    assert index.store is not None
    (point,) = index.store.retrieve([point_id(arxiv_id)], vectors=True)
    return point.vectors["dense"]


def test_a_killed_ingest_resumes_where_it_stopped(serve_url: str, tmp_path: Path) -> None:
    import ray

    corpus = tmp_path / "many.jsonl"
    corpus.write_text("\n".join(kaggle_line(n) for n in range(1, 3001)) + "\n")
    env = {
        **os.environ,
        "INDEX_PATH": str(tmp_path / "index"),
        # This tier's Ray: the killed driver leaves no cluster of its own behind.
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "PYTHONPATH": str(ROOT),
    }
    # No summaries: this is about resuming, and summaries would make it five times slower.
    command = [sys.executable, "-m", "deployments.ingest", "--no-encode-check", "--no-summaries"]
    command.append(str(corpus))
    first = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    assert first.stderr is not None
    seen, deadline = b"", time.monotonic() + 240
    while time.monotonic() < deadline:  # kill it once a few batches are written
        chunk = os.read(first.stderr.fileno(), 4096)
        seen += chunk
        done = [int(n) for n in re.findall(rb"ingest: (\d+) records", seen)]
        if not chunk or (done and max(done) >= 512):
            break
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert done and 512 <= max(done) < 3000, seen[-2000:]

    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads(second.stdout.decode().strip().splitlines()[-1])
    assert report["already_present"] >= 512  # not embedded again
    assert report["already_present"] + report["indexed"] == 3000
    assert report["index"]["records"] == 3000  # every record once, none twice


@pytest.fixture(scope="module")
def indexed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where ``indexed_app`` keeps its data (its index under ``index/``)."""
    return tmp_path_factory.mktemp("indexed")


@pytest.fixture(scope="module")
def indexed_app(serve_url: str, indexed_folder: Path) -> Iterator[App]:
    """The graph on an ingested index, with arXiv unreachable (a closed port): offline."""
    tmp = indexed_folder
    index = PaperIndex(DIM, path=str(tmp / "index"))
    ingest([str(SAMPLE_CORPUS)], index, summaries=True, progress=False)
    index.close()  # embedded: the fetcher opens it next
    app = deploy("indexed", serve_url, tmp, arxiv_api_url=f"http://127.0.0.1:{_free_port()}/api")
    yield app
    app.arxiv.__exit__()


def test_execute_answers_offline_from_the_index(indexed_app: App) -> None:
    response = indexed_app.client.post(
        "/execute", json={"query": "graph neural networks for molecules", "max_papers": 3}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["papers"][0]["arxiv_id"] == "2402.00003"
    provenance = body["provenance"]
    assert provenance["sources"] == ["index"]
    assert set(provenance["found_in"].values()) == {"index"}
    cache = provenance["cache"]
    assert cache["embedded"] == 0 and cache["index_hits"] >= 3  # vectors came with the papers
    assert cache["summaries_made"] == 0 and cache["summaries_reused"] == 3  # the ingest's
    assert all(p["summary"] for p in body["papers"])
    assert indexed_app.arxiv.requests() == []


def test_index_search_keeps_to_the_dates_and_categories(indexed_app: App) -> None:
    dated = indexed_app.client.post(
        "/execute",
        json={
            "query": "neural networks",
            "start_date": "2024-03-01",
            "end_date": "2024-03-31",
            "max_papers": 5,
        },
    ).json()
    assert dated["papers"] and {p["arxiv_id"][:4] for p in dated["papers"]} == {"2403"}
    only_ir = indexed_app.client.post(
        "/execute", json={"query": "retrieval", "categories": ["cs.IR"], "max_papers": 5}
    ).json()
    assert only_ir["papers"] and all("cs.IR" in p["categories"] for p in only_ir["papers"])
    bad = indexed_app.client.post(
        "/execute", json={"query": "retrieval", "categories": ["not a category!"]}
    )
    assert bad.status_code == 422 and "categories" in bad.text


def test_capabilities_and_health_say_what_the_index_holds(indexed_app: App) -> None:
    for path in ("/capabilities", "/health"):
        search = indexed_app.client.get(path).json()["search"]
        assert search["source"] == "index" and search["configured"] == "auto"
        assert search["index"] == {"records": 10, "newest": "2024-05-07"}


def test_an_ingest_while_serving_fails_no_request_and_is_answered_after_the_switch(
    indexed_app: App, indexed_folder: Path, tmp_path: Path
) -> None:
    """Last in this file: it adds records to the served index."""
    import threading

    corpus = tmp_path / "new.jsonl"
    corpus.write_text(kaggle_line(1, year=2024, words="hypergraph tournaments") + "\n")
    asked = {"query": "sparse hypergraph tournaments", "max_papers": 3}
    before = indexed_app.client.post("/execute", json=asked).json()
    assert "2101.00001" not in [p["arxiv_id"] for p in before["papers"]]
    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            answer = indexed_app.client.post("/execute", json={"query": "weak lensing"})
            statuses.append(answer.status_code)

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        index = PaperIndex(DIM, path=str(indexed_folder / "index"), ingest=True)
        report = ingest([str(corpus)], index, progress=False)
        index.close()
        assert report.indexed == 1 and report.index["records"] == 11
        found, deadline = [], time.monotonic() + 30
        while "2101.00001" not in found and time.monotonic() < deadline:
            after = indexed_app.client.post("/execute", json=asked).json()
            found = [p["arxiv_id"] for p in after["papers"]]
    finally:
        stop.set()
        asking.join(30)
    assert "2101.00001" in found  # the new shard answers, with no restart
    assert statuses and set(statuses) == {200}, statuses
    # /health and /capabilities show the new count within a minute (the Ingress caches them).
