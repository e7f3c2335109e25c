"""Quality evaluations: how good the answers are, not how fast.

retrieval  known-item search on SciTLDR-A, per source (``make bench-retrieval``)
summaries  a summarizer backend's ROUGE on SciTLDR (``make eval-summaries``)
"""
