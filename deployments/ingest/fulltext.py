"""``make ingest-fulltext FILES=...``: local full texts -> the passage store, as a Ray Data job.

    python -m deployments.ingest.fulltext PATH [PATH ...] [--embed-actors N] [--report FILE]

PATH is a file named by its arXiv id and version (``2401.01234v2.html``, ``2401.01234v2.pdf``;
an old-style id with ``_`` for ``/``: ``hep-th_9901001v1.pdf``), a folder of such files, or a
tar of arXiv's bulk PDFs (``arXiv_pdf_2401_001.tar``: members ``2401/2401.01234v2.pdf``).

list (paper versions the store holds already are skipped here, so a killed run resumes) ->
parse (``read_paper``: the Reader's own parsers and passage cutting, a core each; a file that
yields nothing is counted by its reason) -> embed (``EmbedPassages`` actors: the Embedder's
``TextEmbedder``) -> this process writes each paper's passages (``PassageStore.add``). It
streams: Ray Data holds a few batches at a time whatever the input's size. It ends with a JSON
report: papers stored, already present, bad files by reason. Full texts stay where they are:
only passages and their offsets are stored.

The embedded passage store is held by the graph's Reader while it runs: stop the graph, or use a
Qdrant server (``QDRANT_URL``) that both share.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from deployments.reader.document import ParseFailed, TextSource, Unreadable
from deployments.reader.passage_store import PassageStore
from deployments.reader.passages import Passage, passages

NAME = re.compile(r"^(?P<id>(\d{4}\.\d{4,5})|([a-z-]+(\.[A-Z]{2})?_\d{7}))(?P<v>v\d+)\.(html|pdf)$")
BATCH = 8  # papers per batch (a paper is ~100 passages)


def paper_key(name: str) -> str | None:
    """'2401.01234v2' from a file name, or None when the name is no arXiv id and version."""
    match = NAME.match(Path(name).name)
    return f"{match.group('id').replace('_', '/')}{match.group('v')}" if match else None


def listing(paths: Sequence[str]) -> Iterator[dict[str, str]]:
    """Each full text of ``paths``: {"paper", "path", "member"} (member "" for plain files)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from listing([str(p) for p in sorted(path.iterdir())])
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as tar:
                for member in tar:
                    key = paper_key(member.name)
                    if member.isfile() and key:
                        yield {"paper": key, "path": str(path.resolve()), "member": member.name}
        elif (key := paper_key(path.name)) is not None:
            yield {"paper": key, "path": str(path.resolve()), "member": ""}


def read_paper(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Ray Data stage: each listed file parsed and cut; ``passages`` as JSON, or ``reason``."""
    from deployments.reader.html_text import parse_html
    from deployments.reader.pdf_text import parse_pdf

    out: dict[str, list[str]] = {"paper": [], "source": [], "passages": [], "reason": []}
    for paper, path, member in zip(batch["paper"], batch["path"], batch["member"], strict=True):
        source, cut, reason = "", "[]", ""
        try:
            body = _bytes(str(path), str(member))
            source = "pdf" if str(member or path).endswith(".pdf") else "html"
            document = (parse_pdf if source == "pdf" else parse_html)(body)
            cut = json.dumps([asdict(p) for p in passages(document)])
        except ParseFailed as exc:
            reason = exc.reason
        except OSError:
            reason = "unreadable_file"
        except Exception as exc:  # a parser's own failure: counted, the job goes on
            reason = f"parser_error:{type(exc).__name__}"
        for key, value in (("paper", paper), ("source", source), ("passages", cut)):
            out[key].append(str(value))
        out["reason"].append(reason)
    return {k: np.asarray(v, dtype=object) for k, v in out.items()}


def _bytes(path: str, member: str) -> bytes:
    if not member:
        return Path(path).read_bytes()
    with tarfile.open(path) as tar:
        handle = tar.extractfile(member)
        if handle is None:
            raise OSError(f"{member} is not a file in {path}")
        return handle.read()


class EmbedPassages:
    """Ray Data actor: ``vectors`` (float32 bytes, a row per passage) for each parsed paper."""

    def __init__(self, model: str | None, threads: int) -> None:
        from deployments.common.process import configure_model_process
        from deployments.embedder.text_embedder import TextEmbedder

        configure_model_process(torch_threads=1)
        self.embedder = TextEmbedder(model, workers=threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # float32 bytes per paper: a column of nested lists does not survive Ray Data's
        # batching as one array shape; bytes do (the driver knows each paper's passage count).
        column = np.empty(len(batch["passages"]), dtype=object)
        for i, cut in enumerate(batch["passages"]):
            texts = [p["text"] for p in json.loads(str(cut))]
            made = self.embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
            column[i] = np.asarray(made, dtype=np.float32).tobytes()
        return {**batch, "vectors": column}


def ingest_fulltext(
    paths: Sequence[str], store: PassageStore, *, embed_actors: int = 1, progress: bool = True
) -> dict[str, Any]:
    """Run the job over ``paths`` into ``store``; the report (see the module docstring)."""
    import ray.data as rd

    ctx = rd.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    started = time.perf_counter()
    items = list(listing(paths))
    held = set()
    for at in range(0, len(items), 1000):
        held |= store.stored([i["paper"] for i in items[at : at + 1000]])
    todo = [i for i in items if i["paper"] not in held]
    reasons: Counter[Unreadable | str] = Counter()
    stored = 0
    bar = _bar(progress, len(todo))
    if todo:
        ds = rd.from_items(todo).map_batches(
            read_paper, batch_size=BATCH, batch_format="numpy", num_cpus=1
        )
        ds = ds.map_batches(
            EmbedPassages,
            fn_constructor_kwargs={"model": None, "threads": 1},
            batch_size=BATCH,
            batch_format="numpy",
            compute=rd.ActorPoolStrategy(size=embed_actors),
            num_cpus=1,
        )
        for batch in ds.iter_batches(batch_size=BATCH, batch_format="numpy"):
            for i, paper in enumerate(batch["paper"]):
                if batch["reason"][i]:
                    reasons[str(batch["reason"][i])] += 1
                    continue
                cut = [Passage(**{**p, "parts": tuple(map(tuple, p["parts"]))})
                       for p in json.loads(str(batch["passages"][i]))]  # fmt: skip
                if cut:
                    raw = np.frombuffer(bytes(batch["vectors"][i]), dtype=np.float32)
                    vectors = raw.reshape(len(cut), -1)
                    source: TextSource = "pdf" if batch["source"][i] == "pdf" else "html"
                    store.add(str(paper), source, cut, vectors)
                    stored += 1
            bar.update(len(batch["paper"]))
    bar.close()
    seconds = time.perf_counter() - started
    return {
        "files": len(items),
        "stored": stored,
        "already_present": len(items) - len(todo),
        "bad": sum(reasons.values()),
        "bad_reasons": dict(reasons.most_common()),
        "seconds": round(seconds, 2),
        "papers_per_s": round(stored / seconds, 2) if seconds else 0.0,
        "passages": store.count(),
    }


def _bar(enabled: bool, total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=" papers", desc="fulltext", file=sys.stderr, disable=not enabled)


def main(argv: list[str] | None = None) -> int:
    from models.settings import Settings, read_secret

    parser = argparse.ArgumentParser(
        prog="python -m deployments.ingest.fulltext", description=__doc__
    )
    parser.add_argument("paths", nargs="+", help="files, folders or tars of full texts")
    parser.add_argument("--embed-actors", type=int, default=1)
    parser.add_argument("--report", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    settings = Settings.load().resolved()
    stage = settings.for_stages().reader
    key = read_secret("qdrant_api_key")
    store = PassageStore(
        stage.dimension or 384,
        url=stage.qdrant_url,
        path=stage.qdrant_path,
        api_key=key.get_secret_value() if key else None,
        collection=stage.collection,
    )
    try:
        report = ingest_fulltext(args.paths, store, embed_actors=args.embed_actors)
    finally:
        store.close()
    text = json.dumps(report)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
