"""The Reader through the real graph: /execute with include_evidence and POST /read against the
stand-in's full texts, as an orchestrator would use them (follow the anchor_url and find the
passage there), and a paper that cannot be read coming back as a warning, not an error."""

from __future__ import annotations

import tarfile
from pathlib import Path

import httpx
import lxml.html

from arm_dev.arxiv.fulltext import answer, finding
from deployments.embedder.text_embedder import TextEmbedder
from deployments.ingest.fulltext import ingest_fulltext
from deployments.reader.passage_store import PassageStore
from tests.graph.conftest import App


def _paragraph_at(anchor_url: str) -> str:
    """The text of the element an anchor_url opens at (what a browser scrolls to)."""
    page, _, anchor = anchor_url.partition("#")
    body = httpx.get(page, timeout=30).content
    (element,) = lxml.html.fromstring(body).xpath(f'//*[@id="{anchor}"]')
    return " ".join(element.text_content().split())


def test_evidence_passages_open_at_their_paragraph(main_app: App) -> None:
    payload = {
        "query": "graph neural networks",
        "max_papers": 3,
        "include_evidence": True,
        "evidence_per_paper": 2,
    }
    response = main_app.client.post("/execute", json=payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["papers"] and body["warnings"] == []
    assert body["provenance"]["cache"]["fulltext_read"] == len(body["papers"])
    assert any(t["stage"] == "evidence" for t in body["provenance"]["timings"])
    for paper in body["papers"]:
        evidence = paper["evidence"]
        assert len(evidence) == 2 and evidence[0]["score"] >= evidence[1]["score"]
        assert paper["summary_source"] == "abstract+evidence"
        for passage in evidence:
            assert passage["source"] == "html"
            url = passage["anchor_url"]
            assert url.startswith(f"{main_app.arxiv.origin}/html/{paper['arxiv_id']}v")
            # The passage starts with the paragraph its link opens at (it may run on into the
            # next paragraphs of the section: passages are paragraph-aligned, not paragraphs).
            opened = _paragraph_at(url)
            assert opened[:60] in passage["text"] or passage["text"][:60] in opened
    # Asked again: nothing is fetched twice, the passages come from the store.
    again = main_app.client.post("/execute", json=payload).json()
    assert again["provenance"]["cache"]["fulltext_read"] == 0
    assert again["provenance"]["cache"]["fulltext_reused"] == len(body["papers"])


def test_memory_search_finds_passages_across_papers_read(main_app: App) -> None:
    arxiv_id = "2402.00005"
    assert main_app.client.post("/read", json={"arxiv_id": arxiv_id}).status_code == 200
    question = finding(arxiv_id)[1]  # the paper's own words: its passage must come first
    response = main_app.client.post(
        "/memory/search", json={"query": question, "scope": "passages", "limit": 3}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["papers"] == [] and body["count"] == len(body["passages"]) >= 1
    best = body["passages"][0]
    assert best["arxiv_id"] == arxiv_id and finding(arxiv_id)[1] in best["text"]
    assert best["anchor_url"].endswith(f"/html/{arxiv_id}v{best['version']}#S3.p2")


def test_read_pages_a_paper_and_answers_a_question(main_app: App) -> None:
    arxiv_id = "2402.00003"
    question = "Which loss do they train with and how much does it improve accuracy?"
    response = main_app.client.post(
        "/read", json={"arxiv_id": arxiv_id, "question": question, "max_chars": 2000}
    )
    assert response.status_code == 200, response.text
    read = response.json()
    assert read["source"] == "html" and read["version"] >= 1 and read["warnings"] == []
    assert [o["title"] for o in read["outline"]] == [
        "Introduction",
        "Method",
        "Experiments",
        "Conclusion",
    ]
    assert len(read["text"]) == 2000 and read["next_start"] == 2000
    best = read["passages"][0]
    assert finding(arxiv_id)[1] in best["text"]
    assert best["section"] == "3 Experiments" and best["anchor_url"].endswith("#S3.p2")
    assert finding(arxiv_id)[1] in _paragraph_at(best["anchor_url"])
    rest = main_app.client.post(
        "/read", json={"arxiv_id": arxiv_id, "start": 2000, "max_chars": 50_000}
    ).json()
    assert rest["next_start"] is None and rest["start"] == 2000
    assert rest["total_chars"] == read["total_chars"] == 2000 + len(rest["text"])


def test_an_unreadable_paper_is_a_warning_with_its_reason(main_app: App) -> None:
    # A paper no other test reads (a read paper is served from the arm's own copy).
    main_app.arxiv.set_fulltext_fault("2401.09999", "encrypted_pdf")
    try:
        response = main_app.client.post("/read", json={"arxiv_id": "2401.09999v1"})
        assert response.status_code == 200, response.text
        read = response.json()
        assert read["source"] is None and read["text"] == ""
        (warning,) = read["warnings"]
        assert warning["code"] == "evidence_unavailable" and warning["stage"] == "reader"
        assert "(encrypted)" in warning["message"]
    finally:
        main_app.arxiv.set_fulltext_fault("2401.09999", "ok")


def test_read_refuses_a_malformed_id_naming_the_field(main_app: App) -> None:
    response = main_app.client.post("/read", json={"arxiv_id": "not an id"})
    assert response.status_code == 422
    assert "arxiv_id" in response.text


def test_ingest_fulltext_stores_passages_counts_bad_files_and_resumes(
    serve_url: str, tmp_path: Path
) -> None:
    """The bulk job on the tier's Ray: plain files and a tar of PDFs (as arXiv's bulk chunks),
    a file that is no paper (skipped), an encrypted PDF (counted by reason); run twice."""
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "2401.00101v1.html").write_bytes(answer("html", "2401.00101v1", "Graphs", "ok")[2])
    (folder / "2401.00102v2.pdf").write_bytes(answer("pdf", "2401.00102v2", "Lenses", "ok")[2])
    (folder / "2401.00103v1.pdf").write_bytes(
        answer("pdf", "2401.00103v1", "Locked", "encrypted_pdf")[2]
    )
    (folder / "notes.txt").write_text("not a paper")
    chunk = tmp_path / "arXiv_pdf_2401_001.tar"
    pdf = tmp_path / "2401.00104v1.pdf"
    pdf.write_bytes(answer("pdf", "2401.00104v1", "Tarred", "ok")[2])
    with tarfile.open(chunk, "w") as tar:
        tar.add(pdf, arcname="2401/2401.00104v1.pdf")
    store = PassageStore(384, path=str(tmp_path / "qdrant"))
    try:
        first = ingest_fulltext([str(folder), str(chunk)], store, progress=False)
        assert first["files"] == 4 and first["stored"] == 3
        assert first["bad_reasons"] == {"encrypted": 1}
        assert store.stored(["2401.00101v1", "2401.00102v2", "2401.00104v1"]) == {
            "2401.00101v1",
            "2401.00102v2",
            "2401.00104v1",
        }
        again = ingest_fulltext([str(folder), str(chunk)], store, progress=False)
        assert again["already_present"] == 3 and again["stored"] == 0
        question = "Which loss do they train with?"
        vector = TextEmbedder().embed([question])[0]
        best = store.rank(["2401.00104v1"], question, vector, 1)["2401.00104v1"][0]
        assert finding("2401.00104v1")[1] in best.text and best.source == "pdf"
    finally:
        store.close()
