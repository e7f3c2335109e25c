"""Records for the benchmark's arXiv stand-in: the shared real corpus, or a generated one."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from arm_dev.arxiv import SHARED_CORPUS, Record, evaluate, load_records
from deployments.arxiv.query import query_terms

TOPICS = {
    "quantum": "qubit entanglement decoherence photon superconducting circuit error correction "
    "gate fidelity spin lattice measurement",
    "galaxy": "galaxy cluster lensing redshift dark matter halo survey stellar mass merger "
    "spectroscopy emission",
    "graph": "graph network node embedding message passing molecule link prediction spectral "
    "clustering random walk",
    "language": "language model transformer attention token translation summarization corpus "
    "pretraining benchmark prompt",
    "fluid": "fluid turbulence vortex flow boundary layer viscosity simulation reynolds "
    "instability convection",
    "protein": "protein folding sequence structure binding enzyme mutation cell expression "
    "receptor dynamics",
}
TEMPLATES = [
    "We study {a} {b} in the presence of {c}.",
    "Understanding {a} and {b} remains an open problem for {c} systems.",
    "We propose a new method for {a} that combines {b} with {c}.",
    "Our approach improves {a} by modelling {b} and {c} jointly.",
    "Experiments on {a} {b} show that the {c} estimate is accurate.",
    "We find that {a} controls {b} through {c}.",
]


def generated_records(n: int = 1000, seed: int = 0) -> list[Record]:
    """``n`` synthetic papers over six topics: enough structure for ranking and queries."""
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    records = []
    for i in range(n):
        topic = rng.choice(list(TOPICS))
        vocab = TOPICS[topic].split()
        sentences = []
        for template in rng.sample(TEMPLATES, 5):
            a, b, c = rng.sample(vocab, 3)
            sentences.append(template.format(a=a, b=b, c=c))
        abstract = " ".join(sentences)
        title = " ".join(w.capitalize() for w in rng.sample(vocab, 4))
        when = start + timedelta(days=rng.randrange(1500))
        records.append(
            Record(
                arxiv_id=f"{2001 + i // 10000}.{i:05d}",
                title=f"{title} {topic}",
                abstract=abstract,
                authors=[f"Author {i % 97}", "B. Generated"],
                categories=["physics.gen-ph"],
                published=when,
                updated=when,
            )
        )
    return records


def benchmark_records() -> tuple[list[Record], str]:
    if SHARED_CORPUS.exists():
        return load_records([SHARED_CORPUS]), SHARED_CORPUS.name
    return generated_records(), "generated (1000 synthetic records)"


def make_queries(records: list[Record], count: int, min_hits: int) -> list[str]:
    """``count`` distinct one- or two-word queries that each find >= ``min_hits`` records."""
    counts = Counter(w for r in records for w in set(re.findall(r"[a-z]{5,}", r.title.lower())))
    words = [w for w, n in counts.most_common(400) if query_terms(w) == [w] and n >= 3]
    queries: list[str] = []
    for word in words:
        if len(evaluate(f"all:{word}", records)) >= min_hits:
            queries.append(word)
    singles = list(queries)
    for a in singles:
        for b in singles:
            if len(queries) >= count * 3:
                break
            if a < b and len(evaluate(f"all:{a} AND all:{b}", records)) >= min_hits:
                queries.append(f"{a} {b}")
    rng = random.Random(7)
    rng.shuffle(queries)
    if len(queries) < count:
        raise SystemExit(f"the corpus yields only {len(queries)} queries; {count} needed")
    return queries[:count]
