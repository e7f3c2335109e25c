"""The old embedded mode (qdrant-client's ``path=``) as a ``PaperIndex``, for ``bench.scale``'s
baseline only: the same ranking code over ``ClientStore`` on a local folder."""

from __future__ import annotations

from pathlib import Path

from deployments.index.fusion import DENSE_WEIGHT
from deployments.index.lexical import LexicalEncoder
from deployments.index.paper_index import PaperIndex
from deployments.store.client import ClientStore


class LocalIndex(PaperIndex):
    """``PaperIndex`` over qdrant-client's embedded mode at ``folder`` (no generations)."""

    def __init__(self, dimension: int | None, folder: Path) -> None:
        self.dimension = dimension
        self.collection = "arxiv_index"
        self.dense_weight = DENSE_WEIGHT
        self.mode = "local"
        self.lexical = LexicalEncoder()
        self.shards = None
        self.location = str(folder)
        self.store = ClientStore(self.collection, path=str(folder))
        self._unsealed = 0
        self._check_schema()
