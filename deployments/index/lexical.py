"""``LexicalEncoder``: text -> BM25 sparse vectors for the index's lexical side.

Terms are MiniLM's own text analysis (the BERT normaliser and pre-tokeniser of the packaged
model: lower case, accents stripped, punctuation split off), minus English stopwords, reduced to
Snowball (Porter 2) stems: "networks"/"network", "training"/"trained" meet. On SciTLDR-A dev
(``python -m bench.retrieval``) stems lift BM25's Recall@5 from 0.939 to 0.950 and its MRR
from 0.896 to 0.916; word bigrams on top measured worse (0.948 / 0.902), so there are none.

A document's value for a term is BM25's saturated term frequency; the query's is 1 per distinct
term. Qdrant multiplies in the inverse document frequency itself (the collection's sparse
vector has ``Modifier.IDF``), over whatever the collection holds, so ingesting more records
never means re-weighting the old ones. Document length is normalised against a fixed average
(``AVG_DOC_TERMS``, measured on arXiv abstracts) because a streaming ingest cannot know the
final average before it writes the first record.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass

import snowballstemmer
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer

K1 = 1.2  # term-frequency saturation (BM25's usual value; tuning it on train moved nothing)
B = 0.75  # length normalisation strength
AVG_DOC_TERMS = 95.0  # terms in a title + abstract after stopwords, mean over the shared corpus
MAX_QUERY_TERMS = 64  # a pasted page of text is still a query, not a document scan
MAX_CACHED_WORDS = 500_000  # distinct words kept (~50 MB at most; English has far fewer)

STOPWORDS = frozenset(
    """a about above after again against all also an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having here how i if in into is it its itself just may more most must
    no nor not of off on once only or other our ours out over own paper papers same should so
    some such than that the their them then there these they this those through to too under
    until up very via was we were what when where which while who whom why will with would you
    your using use used based show shows propose proposed new""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class SparseTerms:
    """A sparse vector: term ids (uint32 hashes of stems) and their weights, aligned."""

    indices: list[int]
    values: list[float]


def term_id(term: str) -> int:
    """A stem's sparse index: CRC-32, stable across processes and machines (``hash`` is not)."""
    return zlib.crc32(term.encode("utf-8"))


class LexicalEncoder:
    """Stems of a text as BM25 document or query vectors. Thread-safe (the stem cache only
    grows, and a race stems a word twice); cheap to build."""

    def __init__(self, length_norm: float = B) -> None:
        """``length_norm``: BM25's b (``B`` for abstracts; passages use their own, tuned)."""
        self.length_norm = length_norm
        self._normalizer = BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True
        )
        self._pre_tokenizer = BertPreTokenizer()
        self._stemmer = snowballstemmer.stemmer("english")
        # Snowball in pure Python was ~90% of the cost; words repeat, so each word is stemmed
        # and hashed once: its term id is kept (an ingest writes hundreds of words a record).
        self._ids: dict[str, int] = {}

    def _words(self, text: str) -> list[str]:
        pieces = self._pre_tokenizer.pre_tokenize_str(self._normalizer.normalize_str(text))
        return [w for w, _ in pieces if w.isalnum() and w not in STOPWORDS]

    def terms(self, text: str) -> list[str]:
        """The text's stems in order, stopwords and punctuation dropped."""
        return [self._stemmer.stemWord(w) for w in self._words(text)]

    def _term_ids(self, text: str) -> list[int]:
        """The text's term ids in order: ``term_id`` of each word's stem, cached by word."""
        ids = []
        for word in self._words(text):
            tid = self._ids.get(word)
            if tid is None:
                tid = term_id(self._stemmer.stemWord(word))
                if len(self._ids) < MAX_CACHED_WORDS:
                    self._ids[word] = tid
            ids.append(tid)
        return ids

    def document(self, text: str) -> SparseTerms:
        """BM25 weights of a document's terms (before IDF, which Qdrant applies)."""
        counts = Counter(self._term_ids(text))
        length = sum(counts.values())
        b = self.length_norm
        norm = K1 * (1.0 - b + b * length / AVG_DOC_TERMS)
        indices = sorted(counts)
        return SparseTerms(indices, [counts[i] * (K1 + 1.0) / (counts[i] + norm) for i in indices])

    def query(self, text: str) -> SparseTerms:
        """1.0 per distinct term of a query (at most ``MAX_QUERY_TERMS``)."""
        ids = sorted(set(self._term_ids(text)[:MAX_QUERY_TERMS]))
        return SparseTerms(ids, [1.0] * len(ids))
