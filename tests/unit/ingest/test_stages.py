"""The ingest without Ray: the parse stage (statuses, the skip set, line numbers carried along),
the actors' sizing and the summaries choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from deployments.index.records import IndexRecord
from deployments.ingest.stages import HeldVersions, parse_rows


def line(arxiv_id: str, versions: int = 1) -> bytes:
    return json.dumps(
        {
            "id": arxiv_id,
            "title": "A title",
            "abstract": "An abstract.",
            "categories": "cs.LG",
            "versions": [
                {"version": f"v{v}", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}
                for v in range(1, versions + 1)
            ],
        }
    ).encode()


def test_parse_rows_marks_new_present_and_bad() -> None:
    held = HeldVersions(iter([("0704.0001", 2), ("0704.0002", 1)]))
    raws = [
        line("0704.0001", 2),
        line("0704.0001", 1),
        line("0704.0002", 2),
        b"{nope",
        line("0704.0003"),
    ]
    batch = {
        "path": np.array(["f.jsonl"] * 5, dtype=object),
        "line": np.arange(10, 15),
        "raw": np.array(raws, dtype=object),
    }
    rows = parse_rows(batch, present=held)
    assert list(rows["status"]) == ["present", "present", "new", "bad", "new"]
    assert list(rows["line"]) == [10, 11, 12, 13, 14]
    assert rows["error"][3] == "broken JSON"
    new = IndexRecord.from_json(str(rows["record"][2]))
    assert (new.arxiv_id, new.version) == ("0704.0002", 2)
    assert rows["text"][4] == "A title. An abstract."


def test_held_versions_answer_for_the_version_held_or_older() -> None:
    held = HeldVersions(iter([("hep-th/9901001", 3)]))
    assert held.holds("hep-th/9901001", 3) and held.holds("hep-th/9901001", 1)
    assert not held.holds("hep-th/9901001", 4) and not held.holds("hep-th/9901002", 1)
    assert not HeldVersions(iter([])).holds("0704.0001", 1)


def test_embedding_actors_are_sized_by_the_cluster() -> None:
    from deployments.ingest.job import size_actors

    assert size_actors({"CPU": 2.0}, None, None, threads=2) == (0.0, 1)  # this machine
    assert size_actors({"CPU": 64.0, "GPU": 4.0}, None, None, threads=2) == (1.0, 4)
    assert size_actors({"CPU": 33.0}, None, None, threads=2) == (0.0, 16)
    assert size_actors({"CPU": 64.0, "GPU": 4.0}, 0.5, None, threads=2) == (0.5, 8)
    assert size_actors({"CPU": 64.0, "GPU": 4.0}, 0.0, 3, threads=2) == (0.0, 3)


def test_summaries_default_to_on_for_a_small_input_and_off_at_the_snapshots_size(
    tmp_path: Path,
) -> None:
    from deployments.ingest.job import AUTO_SUMMARIES_MAX_BYTES, build_parser, want_summaries

    small = tmp_path / "month.jsonl"
    small.write_bytes(b"{}\n" * 1000)
    large = tmp_path / "snapshot.jsonl.gz"  # sparse: its size without writing it
    with large.open("wb") as f:
        f.truncate(AUTO_SUMMARIES_MAX_BYTES // 2)  # counts 4x: compressed JSON Lines
    parse = build_parser().parse_args
    assert parse([str(small)]).summaries is None  # neither flag: by size
    assert want_summaries(None, [str(small)]) is True
    assert want_summaries(None, [str(small), str(large)]) is False
    assert want_summaries(None, ["s3://bucket/snapshot.jsonl"]) is False  # a cluster's input
    # Forced either way (the Makefile's SUMMARIES=1 / SUMMARIES=0).
    assert want_summaries(parse(["--summaries", str(large)]).summaries, [str(large)]) is True
    assert want_summaries(parse(["--no-summaries", str(small)]).summaries, [str(small)]) is False
