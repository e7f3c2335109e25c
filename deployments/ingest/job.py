"""The ingest job: arXiv bulk metadata (JSON Lines) -> the local index, as a Ray Data pipeline.

    python -m deployments.ingest FILE [FILE ...] [--[no-]summaries] [--embed-actors N]
                                                      [--gpus-per-actor G] [--report FILE]

read (``JsonLinesDatasource``: streamed line by line, plain or gzip) -> parse (``parse_rows``:
records, or bad lines with their line numbers; records the index already holds at that version
or a later one are marked present here and never embedded) -> embed (``EmbedRows`` actors:
the Embedder's own ``TextEmbedder``, on CPU or on a GPU each, optionally the extractive summary
too) -> this process writes batches to Qdrant (``PaperIndex.upsert``: embedded, into a new shard
generation that the serving graph switches to when the ingest ends; ``deployments.store``).

The same command runs on one machine (a local Ray) or on a cluster (``RAY_ADDRESS``, as a
KubeRay RayJob: ``k8s/ingest-rayjob.yaml``). Memory stays flat whatever the file size: Ray
Data streams blocks with backpressure. Killed and run again, it resumes: points are keyed by
the version-less id (uuid5), and what the index already holds is skipped before embedding.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deployments.index.paper_index import IndexLocked, PaperIndex
from deployments.index.records import (
    IndexRecord,
)
from deployments.ingest.stages import EmbedRows, HeldVersions, datasource_class, parse_rows
from deployments.store.points import StoreUnreadable
from models.settings import Settings

WRITE_BATCH = 256  # points per Qdrant upsert
BAD_SAMPLES = 20  # bad lines listed in the report (all are counted)
ENCODE_SAMPLE = 512  # texts the raw-encode comparison embeds
# Without --summaries or --no-summaries, summaries are made for inputs up to this size: about
# 20,000 Kaggle records (~1.6 KB a line), half an hour of extractive summaries on 2 cores.
# Above it (the full snapshot) they would cost hours to days (docs/scale.md): serving
# summarises a paper the first time it returns it, and memory keeps that summary.
AUTO_SUMMARIES_MAX_BYTES = 32 * 2**20
GZIP_RATIO = 4  # JSON Lines compress about 4:1: a .gz counts four times its size


@dataclass
class IngestReport:
    """What one run did. ``records_per_s``: records written over the time from the first batch
    an embedding actor took to the last write (start-up and model loading excluded);
    ``encode_per_s``: a bare ``TextEmbedder.embed`` of a sample of the same texts, with the same
    threads, in this process after the run; ``throughput_vs_encode``: the first over the second.
    The bad-line samples name at most ``BAD_SAMPLES`` lines; ``bad_reasons`` counts them all."""

    files: list[str]
    indexed: int = 0
    already_present: int = 0
    superseded: int = 0
    bad: int = 0
    bad_reasons: dict[str, int] = field(default_factory=dict)
    bad_samples: list[str] = field(default_factory=list)
    summaries: bool = False
    seconds: float = 0.0
    records_per_s: float = 0.0
    encode_per_s: float | None = None
    throughput_vs_encode: float | None = None
    index: dict[str, Any] = field(default_factory=dict)
    sample_texts: list[str] = field(default_factory=list, repr=False)  # for the encode check


def ingest(
    paths: Sequence[str],
    index: PaperIndex,
    *,
    model: str | None = None,
    device: str = "cpu",
    threads: int = 2,
    batch_size: int = 8,
    embed_actors: int = 1,
    gpus_per_actor: float = 0.0,
    summaries: bool = False,
    progress: bool = True,
) -> IngestReport:
    """Run the pipeline over ``paths`` into ``index``; see the module docstring."""
    import ray
    import ray.data as rd

    ctx = rd.DataContext.get_current()
    ctx.enable_progress_bars = False  # one bar of our own, with records/s
    ctx.print_on_execution_start = False
    files = [p if "://" in p else str(Path(p).resolve()) for p in paths]
    report = IngestReport(files=files, summaries=summaries)
    sample_texts: list[str] = []
    started = time.perf_counter()
    present = ray.put(HeldVersions(index.iter_versions()))
    # Reading and parsing are light: a fraction of a core each, so the embedding actors get the
    # machine (one core here, a GPU each on a cluster).
    ds = rd.read_datasource(datasource_class()(files), num_cpus=0.25)
    ds = ds.map_batches(
        parse_rows, fn_kwargs={"present": present}, batch_format="numpy", num_cpus=0.25
    )
    ds = ds.map_batches(
        EmbedRows,
        fn_constructor_kwargs={
            "model": model,
            "device": "cuda" if gpus_per_actor else device,
            "threads": threads,
            "batch_size": batch_size,
            "summaries": summaries,
        },
        batch_size=WRITE_BATCH,
        batch_format="numpy",
        compute=rd.ActorPoolStrategy(size=embed_actors),
        num_cpus=0 if gpus_per_actor else 1,
        num_gpus=gpus_per_actor,
    )
    bar = _progress(progress)
    ready_at = float("inf")  # when the first embedding actor took its first batch
    reasons: Counter[str] = Counter()
    for batch in ds.iter_batches(batch_size=WRITE_BATCH, batch_format="numpy", prefetch_batches=2):
        status = batch["status"]
        good = [i for i, s in enumerate(status) if s == "new"]
        report.already_present += int(np.sum(status == "present"))
        for i in np.flatnonzero(status == "bad"):
            reasons[str(batch["error"][i])] += 1
            if len(report.bad_samples) < BAD_SAMPLES:
                report.bad_samples.append(
                    f"{batch['path'][i]}:{batch['line'][i]}: {batch['error'][i]}"
                )
        records = [IndexRecord.from_json(str(batch["record"][i])) for i in good]
        made = [str(batch["summary"][i]) or None for i in good] if summaries else None
        written = index.upsert(records, batch["vector"][good], made) if records else 0
        if len(status):
            ready_at = min(ready_at, float(np.min(batch["ready_at"])))
        report.indexed += written
        report.superseded += len(records) - written
        if len(sample_texts) < ENCODE_SAMPLE:
            sample_texts.extend(
                str(batch["text"][i]) for i in good[: ENCODE_SAMPLE - len(sample_texts)]
            )
        bar.update(len(status))
    bar.close()
    ended = time.perf_counter()
    report.seconds = round(ended - started, 2)
    report.bad = sum(reasons.values())
    report.bad_reasons = dict(reasons.most_common())
    # From the first batch an embedding actor took to the last write: before it, Ray starts the
    # actors and they load the model, a fixed cost per run that a big snapshot makes nothing of.
    steady = time.time() - ready_at
    report.records_per_s = round(report.indexed / steady, 2) if 0 < steady < 1e9 else 0.0
    index.finish()  # the search indexes built, and an embedded shard published to readers
    stats = index.stats()
    report.index = {
        "location": index.location,
        "collection": index.collection,
        "records": stats.records,
        "newest": stats.newest.isoformat() if stats.newest else None,
    }
    report.sample_texts = sample_texts
    return report


class _NoBar:
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def _progress(enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(unit=" records", desc="ingest", file=sys.stderr, smoothing=0.1, mininterval=1.0)


def encode_rate(texts: list[str], model: str | None, threads: int, batch_size: int) -> float:
    """Texts/s of a bare ``TextEmbedder.embed`` over ``texts`` (the ceiling ingest is held
    against), after one warm-up call."""
    from deployments.common.process import configure_model_process
    from deployments.embedder.text_embedder import TextEmbedder

    configure_model_process(torch_threads=1)
    embedder = TextEmbedder(model, batch_size=batch_size, workers=threads)
    embedder.embed(texts[:16])
    started = time.perf_counter()
    embedder.embed(texts)
    rate = len(texts) / (time.perf_counter() - started)
    embedder.close()
    return rate


def size_actors(
    resources: dict[str, float], gpus_per_actor: float | None, actors: int | None, threads: int
) -> tuple[float, int]:
    """(GPUs per embedding actor, actors) from what the cluster has, unless given: one actor
    per GPU; on CPUs one actor per ``threads`` cores, one core left for reading and parsing."""
    gpus = resources.get("GPU", 0.0)
    if gpus_per_actor is None:
        gpus_per_actor = 1.0 if gpus >= 1 else 0.0
    if actors is None:
        if gpus_per_actor:
            actors = max(1, int(gpus // gpus_per_actor))
        else:
            actors = max(1, int((resources.get("CPU", 1.0) - 1) // threads))
    return gpus_per_actor, actors


def want_summaries(asked: bool | None, paths: Sequence[str]) -> bool:
    """``--summaries`` / ``--no-summaries`` as asked; neither (None): on when the local inputs
    together hold at most ``AUTO_SUMMARIES_MAX_BYTES`` of JSON Lines, off above it or for a
    remote URI (a cluster's input, sized like the snapshot)."""
    if asked is not None:
        return asked
    if any("://" in p for p in paths):
        return False
    size = sum(Path(p).stat().st_size * (GZIP_RATIO if p.endswith(".gz") else 1) for p in paths)
    return size <= AUTO_SUMMARIES_MAX_BYTES


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m deployments.ingest``."""
    parser = argparse.ArgumentParser(
        prog="python -m deployments.ingest",
        description="Ingest arXiv metadata (Kaggle arxiv-metadata-oai-snapshot JSON Lines, "
        "plain or .gz, or arXiv .abs header records) into the local index. Settings as the "
        "graph's: INDEX_PATH (embedded, default ./data/index) or QDRANT_URL (a server), "
        "EMBEDDING_MODEL. The graph may serve meanwhile: an embedded index switches to the new "
        "records when the ingest ends.",
    )
    parser.add_argument("paths", nargs="+", help="JSON Lines files (local paths or URIs)")
    parser.add_argument(
        "--summaries",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="store each paper's extractive summary (serving then makes none); default: for "
        f"inputs up to {AUTO_SUMMARIES_MAX_BYTES // 2**20} MiB, not above",
    )
    parser.add_argument(
        "--embed-actors",
        type=int,
        default=None,
        help="embedding actors (default: sized by the cluster, one per GPU, else one per "
        "THREADS CPUs less one for reading)",
    )
    parser.add_argument(
        "--gpus-per-actor",
        type=float,
        default=None,
        help="GPUs per embedding actor (default: 1 when the cluster has GPUs, else 0: CPU)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU: encode shards per actor, one thread each (default: the "
        "EMBEDDING_THREADS setting, else 2)",
    )
    parser.add_argument(
        "--encode-check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time a bare encode of the same texts and report the ratio",
    )
    parser.add_argument("--report", type=Path, help="also write the report (JSON) here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    settings = Settings.load().resolved()
    import ray

    from deployments.common.process import configure_model_process
    from deployments.embedder.text_embedder import TextEmbedder

    missing = [p for p in args.paths if "://" not in p and not Path(p).is_file()]
    if missing:
        print(f"ingest: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    summaries = want_summaries(args.summaries, args.paths)
    threads = args.threads or settings.embedding_threads or 2
    try:
        # The dimension, from the model itself (a few seconds, once).
        configure_model_process(torch_threads=1)
        probe = TextEmbedder(settings.embedding_model)
        dimension = probe.dimension
        probe.close()
        index = PaperIndex.from_settings(settings.for_stages().arxiv.index, dimension, ingest=True)
    # Another ingest writing, another model's index, an old or unreadable folder.
    except (IndexLocked, StoreUnreadable, ValueError, OSError) as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return 2
    try:
        ray.init(ignore_reinit_error=True, logging_level=logging.WARNING, log_to_driver=False)
        gpus_per_actor, embed_actors = size_actors(
            ray.cluster_resources(), args.gpus_per_actor, args.embed_actors, threads
        )
        report = ingest(
            args.paths,
            index,
            model=settings.embedding_model,
            device=settings.embedding_device,
            threads=threads,
            batch_size=settings.embedding_batch_size,
            embed_actors=embed_actors,
            gpus_per_actor=gpus_per_actor,
            summaries=summaries,
            progress=not args.quiet,
        )
    finally:
        index.close()
        ray.shutdown()  # a local Ray stops here; a cluster's is only disconnected from
    # The ceiling is the embedding's: with summaries (more model work per record) or on GPUs
    # the ratio would compare different work, so it is left out.
    if args.encode_check and report.sample_texts and not gpus_per_actor and not summaries:
        rate = encode_rate(
            report.sample_texts, settings.embedding_model, threads, settings.embedding_batch_size
        )
        report.encode_per_s = round(rate, 2)
        report.throughput_vs_encode = round(report.records_per_s / rate, 3)
    out = {k: v for k, v in asdict(report).items() if k != "sample_texts"}
    print(json.dumps(out))
    if args.report:
        args.report.write_text(json.dumps(out, indent=2) + "\n")
    return 0
