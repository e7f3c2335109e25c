"""Data the benchmarks share: the arXiv corpus they serve and query (corpus), SciTLDR (scitldr),
and a QASPER sample for the evidence benchmark (qasper/, see its SOURCES.md)."""
