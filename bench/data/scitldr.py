"""SciTLDR records and ROUGE as Cachola et al. score them (F1, stemmed, best over references)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rouge_score import rouge_scorer

METRICS = ("rouge1", "rouge2", "rougeL")
SHARED_SCITLDR = Path(__file__).resolve().parents[3] / "shared" / "scitldr"


@dataclass
class Record:
    """One SciTLDR-A record: the abstract (its ``source`` sentences joined) and reference TLDRs."""

    paper_id: str
    abstract: str
    references: list[str]


def load_records(path: Path, limit: int | None = None) -> list[Record]:
    records: list[Record] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            obj = json.loads(line)
            abstract = " ".join(s.strip() for s in obj["source"] if s.strip())
            records.append(
                Record(
                    str(obj.get("paper_id", len(records))),
                    abstract,
                    [t.strip() for t in obj["target"] if t.strip()],
                )
            )
            if limit is not None and len(records) >= limit:
                break
    return records


class Rouge:
    """ROUGE-1/2/L F1 x 100 of a summary, best over the references (per metric)."""

    def __init__(self) -> None:
        self._scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)

    def __call__(self, summary: str, references: list[str]) -> dict[str, float]:
        scores = [self._scorer.score(ref, summary) for ref in references]
        return {m: 100.0 * max(s[m].fmeasure for s in scores) for m in METRICS}
