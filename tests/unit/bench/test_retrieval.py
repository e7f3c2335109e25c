"""bench.quality.retrieval's pure parts: the metrics and the documents, no data, no model."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bench.data.scitldr import Record
from bench.quality.retrieval import (
    build_documents,
    corpus_records,
    known_item_metrics,
    queries_for,
    rank_of,
    standin_records,
)
from deployments.index.lexical import LexicalEncoder
from deployments.index.records import IndexRecord


def test_metrics_from_hand_made_ranks() -> None:
    # Found first, third, 25th, and not at all.
    metrics = known_item_metrics([1, 3, 25, None])
    assert metrics["recall@1"] == pytest.approx(0.25)
    assert metrics["recall@5"] == pytest.approx(0.5)
    assert metrics["recall@20"] == pytest.approx(0.5)
    assert metrics["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 25 + 0) / 4)
    assert list(metrics) == ["recall@1", "recall@5", "recall@20", "mrr"]


def test_metrics_edges() -> None:
    assert known_item_metrics([1, 1]) == {
        "recall@1": 1.0,
        "recall@5": 1.0,
        "recall@20": 1.0,
        "mrr": 1.0,
    }
    assert known_item_metrics([None, None])["mrr"] == 0.0
    assert known_item_metrics([]) == {
        "recall@1": 0.0,
        "recall@5": 0.0,
        "recall@20": 0.0,
        "mrr": 0.0,
    }
    assert known_item_metrics([5, 20], k=(5,)) == {"recall@5": 0.5, "mrr": pytest.approx(0.125)}
    with pytest.raises(ValueError):
        known_item_metrics([0])


def test_rank_of() -> None:
    assert rank_of("b", ["a", "b", "c"]) == 2
    assert rank_of("z", ["a", "b"]) is None


def _corpus_record(arxiv_id: str, version: int = 1) -> IndexRecord:
    day = date(2007, 4, 2)
    return IndexRecord(
        arxiv_id, version, "A title", f"Abstract v{version}.", [], ["hep-ph"], day, day
    )


def test_documents_ids_queries_and_standin_ids() -> None:
    train = [
        Record("p1", "Same abstract.", ["tldr one"]),
        Record("p2", "Same abstract.", ["tldr two"]),  # a twin: one document for both
    ]
    dev = [Record("p3", "Another abstract.", ["tldr three", "second reference"])]
    extra = [Record("p3", "A third, different abstract.", ["tldr four"])]  # a reused paper id
    corpus = [_corpus_record("0704.0001")]
    docs, by_abstract = build_documents([train, dev, extra], corpus)

    ids = [d.record.arxiv_id for d in docs]
    assert ids == ["scitldr.p1", "scitldr.p3", "scitldr.p3.1", "0704.0001"]
    assert [d.standin_id for d in docs] == ["9001.00000", "9001.00001", "9001.00002", "0704.0001"]
    # SciTLDR documents: the abstract alone is embedded, and BM25 sees the same terms.
    assert docs[0].text == "Same abstract." and docs[0].record.title == ""
    lexical = LexicalEncoder()
    assert lexical.document(docs[0].record.embedding_text) == lexical.document(docs[0].text)
    assert docs[3].text == corpus[0].embedding_text

    assert [(q.text, q.arxiv_id) for q in queries_for(train + dev, by_abstract)] == [
        ("tldr one", "scitldr.p1"),
        ("tldr two", "scitldr.p1"),
        ("tldr three", "scitldr.p3"),
    ]
    served = standin_records(docs)
    assert [r.arxiv_id for r in served] == [d.standin_id for d in docs]
    assert served[1].abstract == "Another abstract." and served[1].categories == ["cs.LG"]


def test_corpus_keeps_the_highest_version_and_counts_bad_lines(tmp_path: Path) -> None:
    lines = [
        '{"id": "0704.0001", "title": "T", "abstract": "A.", "versions": [{"version": "v1", '
        '"created": "Mon, 2 Apr 2007 19:18:42 GMT"}]}',
        '{"id": "0704.0001", "title": "T", "abstract": "B.", "versions": [{"version": "v1", '
        '"created": "Mon, 2 Apr 2007 19:18:42 GMT"}, {"version": "v2", '
        '"created": "Tue, 24 Jul 2007 20:10:27 GMT"}]}',
        '{"id": "0704.0002", "title": "No abstract"}',
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, bad = corpus_records([path])
    assert [(r.arxiv_id, r.version, r.abstract) for r in records] == [("0704.0001", 2, "B.")]
    assert bad == 1
