"""The local arXiv index, as a library: ``records`` (arXiv's bulk metadata parsed), ``lexical``
(BM25 terms), ``fusion`` (the dense + lexical mix), ``paper_index`` (the Qdrant collection).
The job that fills it is ``deployments.ingest``."""
