"""Passages stored in a real Qdrant Edge shard, embedded by the packaged MiniLM, ranked for a
question as the Reader serves them."""

from __future__ import annotations

import pytest

from arm_dev.arxiv.fulltext import answer, finding
from deployments.reader.html_text import parse_html
from deployments.reader.passage_store import PassageStore
from deployments.reader.passages import passages


def test_the_passage_stating_the_answer_ranks_first(tmp_path, embedder) -> None:
    store = PassageStore(embedder.dimension, path=str(tmp_path))
    papers = {}
    for arxiv_id in ("2401.00001", "2401.00002", "2401.00003"):
        document = parse_html(answer("html", arxiv_id, "Graph learning", "ok")[2])
        cut = passages(document)
        store.add(f"{arxiv_id}v1", "html", cut, embedder.embed([p.text for p in cut]))
        papers[f"{arxiv_id}v1"] = cut
    assert store.stored(["2401.00001v1", "2401.00009v1"]) == {"2401.00001v1"}
    question = "Which loss do they train with, and how much does it improve accuracy?"
    ranked = store.rank(list(papers), question, embedder.embed([question])[0], 3)
    for paper, best in ranked.items():
        assert len(best) == 3
        assert best[0].paper == paper and best[0].section == "3 Experiments"
        assert finding(paper[:-2])[1] in best[0].text
        assert best[0].score >= best[1].score >= best[2].score
        assert best[0].anchor == "S3.p2" and best[0].source == "html"
    store.close()
    # Reopened, the passages are there: a paper version is read once.
    again = PassageStore(embedder.dimension, path=str(tmp_path))
    assert again.stored(list(papers)) == set(papers)
    again.close()


def test_a_store_of_another_dimension_is_refused(tmp_path) -> None:
    PassageStore(8, path=str(tmp_path)).close()
    with pytest.raises(ValueError, match="8-d vectors"):
        PassageStore(384, path=str(tmp_path))
