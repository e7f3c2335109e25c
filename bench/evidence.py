"""``python -m bench.evidence``: how well the Reader ranks a paper's passages for a question.

Prints one JSON line::

    {"data": .., "split": .., "papers": N, "questions": Q, "passages": P,
     "fused": {"recall_at_1": .., "recall_at_3": .., "recall_at_5": .., "mrr": ..},
     "dense": {...}, "lexical": {...}, "text_order": {...}, "fused_gain_at_3": ..}

- Data: QASPER's format (``--data FILE``): a JSON object keyed by paper id, each paper with
  ``full_text`` as sections of paragraphs and ``qas`` whose answers name ``evidence``
  paragraphs. Hugging Face's columnar export (JSON objects one after another) is read too.
  The default is ``bench/data/qasper/qasper_train_first10.json`` (see its SOURCES.md):
  ``--split dev`` is its first five papers, ``test`` (the default) the last five, ``all`` both.
- Each paper becomes a Document (a block per paragraph, the section path from QASPER's
  "A ::: B" names, the abstract first), then passages exactly as the Reader cuts them, embedded
  by the packaged MiniLM and stored in a Qdrant Edge shard (``PassageStore``), as served.
- A question counts when an annotator marked text evidence (figure and table evidence,
  "FLOAT SELECTED", is left out: the Reader keeps captions, QASPER does not give their text).
  A returned passage is a hit when it covers a gold paragraph (their character spans meet).
- Rankings: ``fused`` (the default the API serves), ``dense`` and ``lexical`` alone, and
  ``text_order``, the passages in reading order: what the reranking gains over.
- ``--tune``: fused Recall@3 and MRR for each dense weight, on ``--split dev``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deployments.index.fusion import mix
from deployments.reader.document import Block, Document, assemble
from deployments.reader.passage_store import DENSE, DENSE_WEIGHT, LEG_DEPTH, PassageStore
from deployments.reader.passages import Passage, passages
from deployments.store.points import AnyOf, Leg, Where

DEFAULT_DATA = Path(__file__).parent / "data/qasper/qasper_train_first10.json"
KS = (1, 3, 5)


@dataclass
class Question:
    paper: str
    text: str
    gold: set[int]  # block numbers of the evidence paragraphs


def _papers(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(paper id, paper) in QASPER's release format, or from the Hugging Face export."""
    text = path.read_text()
    decoder = json.JSONDecoder()
    at = 0
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        obj, at = decoder.raw_decode(text, at)
        if "full_text" in obj and isinstance(obj["full_text"], dict):  # one HF row
            ft, qas = obj["full_text"], obj["qas"]
            yield (
                obj["id"],
                {
                    "abstract": obj.get("abstract", ""),
                    "full_text": [
                        {"section_name": n, "paragraphs": p}
                        for n, p in zip(ft["section_name"], ft["paragraphs"], strict=True)
                    ],
                    "qas": [
                        {"question": q, "answers": [{"answer": x} for x in a["answer"]]}
                        for q, a in zip(qas["question"], qas["answers"], strict=True)
                    ],
                },
            )
        else:
            yield from obj.items()


def _norm(text: str) -> str:
    return " ".join(text.split())


def document_of(paper: dict[str, Any]) -> tuple[Document, dict[str, int]]:
    """A QASPER paper as a Document, and each paragraph's block number by its text."""
    blocks = [Block(_norm(paper.get("abstract", "")), "Abstract")]
    for section in paper["full_text"]:
        path = " > ".join(p.strip() for p in (section.get("section_name") or "").split(":::"))
        blocks += [Block(_norm(p), path) for p in section["paragraphs"] if _norm(p)]
    document = assemble("html", blocks, [], [])
    return document, {b.text: i for i, b in enumerate(document.blocks)}


def questions_of(pid: str, paper: dict[str, Any], numbers: dict[str, int]) -> list[Question]:
    out = []
    for qa in paper["qas"]:
        gold = {
            numbers[_norm(e)]
            for answer in qa["answers"]
            for e in answer["answer"].get("evidence", [])
            if not e.startswith("FLOAT SELECTED") and _norm(e) in numbers
        }
        if gold:
            out.append(Question(pid, qa["question"], gold))
    return out


def covered(passage: Passage, document: Document) -> set[int]:
    """Block numbers whose text the passage's span meets."""
    return {
        i
        for i, b in enumerate(document.blocks)
        if b.char_start < passage.char_end and passage.char_start < b.char_end
    }


def scores(ranked: list[set[int]], gold: set[int]) -> dict[str, float]:
    """Recall@k (a gold paragraph in the top k) and the reciprocal rank of the first hit."""
    first = next((r for r, blocks in enumerate(ranked, 1) if blocks & gold), None)
    out = {f"recall_at_{k}": float(first is not None and first <= k) for k in KS}
    out["mrr"] = 1.0 / first if first else 0.0
    return out


def evaluate(data: Path, split: str, weights: list[float]) -> dict[str, Any]:
    from deployments.embedder.text_embedder import TextEmbedder

    papers = list(_papers(data))
    if data == DEFAULT_DATA and split != "all":
        papers = papers[:5] if split == "dev" else papers[5:]
    embedder = TextEmbedder()
    rankings = ["dense", "lexical", "text_order"] + [f"fused@{w}" for w in weights]
    totals: dict[str, dict[str, float]] = {r: {} for r in rankings}
    n_questions = n_passages = 0
    with tempfile.TemporaryDirectory() as folder:
        store = PassageStore(embedder.dimension, path=folder)
        for pid, paper in papers:
            document, numbers = document_of(paper)
            cut = passages(document)
            n_passages += len(cut)
            store.add(pid, "html", cut, embedder.embed([p.text for p in cut]))
            spans = [covered(p, document) for p in cut]
            by_id = {store_id(pid, p.index): spans[p.index] for p in cut}
            qs = questions_of(pid, paper, numbers)
            if not qs:
                continue
            vectors = embedder.embed([q.text for q in qs])
            for q, vector in zip(qs, vectors, strict=True):
                n_questions += 1
                dense_hits, lexical_hits = _legs(store, pid, q.text, vector)
                order = {
                    "dense": [by_id[h.id] for h in dense_hits],
                    "lexical": [by_id[h.id] for h in lexical_hits],
                    "text_order": spans,
                }
                for w in weights:
                    fused = mix(dense_hits, lexical_hits, LEG_DEPTH, w, LEG_DEPTH)
                    order[f"fused@{w}"] = [by_id[i] for i, _ in fused]
                for name, ranked in order.items():
                    for metric, value in scores(ranked, q.gold).items():
                        totals[name][metric] = totals[name].get(metric, 0.0) + value
        store.close()
    mean = {
        name: {m: round(v / max(n_questions, 1), 3) for m, v in metrics.items()}
        for name, metrics in totals.items()
    }
    return {
        "data": data.name,
        "split": split if data == DEFAULT_DATA else "all",
        "papers": len(papers),
        "questions": n_questions,
        "passages": n_passages,
        **mean,
    }


def store_id(paper: str, index: int) -> str:
    from deployments.reader.passage_store import passage_id

    return passage_id(paper, index)


def _legs(store: PassageStore, paper: str, query: str, vector: np.ndarray) -> tuple[list, list]:
    where = Where(must=(AnyOf("paper", (paper,)),))
    dense = Leg(DENSE, LEG_DEPTH, dense=vector.tolist(), where=where, exact=True)
    lexical = Leg("lexical", LEG_DEPTH, sparse=store.lexical.query(query), where=where)
    by_meaning, by_words = store.store.query([dense, lexical])
    return by_meaning, by_words


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.evidence", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="test")
    parser.add_argument("--tune", action="store_true", help="sweep the dense weight on dev")
    args = parser.parse_args(argv)
    if args.tune:
        weights = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]
        result = evaluate(args.data, "dev" if args.data == DEFAULT_DATA else "all", weights)
        for w in weights:
            print(json.dumps({"dense_weight": w, **result[f"fused@{w}"]}))
        return
    result = evaluate(args.data, args.split, [DENSE_WEIGHT])
    result["fused"] = result.pop(f"fused@{DENSE_WEIGHT}")
    result["dense_weight"] = DENSE_WEIGHT
    result["fused_gain_at_3"] = round(
        result["fused"]["recall_at_3"] - result["text_order"]["recall_at_3"], 3
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
