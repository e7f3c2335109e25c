"""Load runs: the graph on the stand-ins (``arm_dev.harness``) under load.

__main__     ``python -m bench.load [--sources] [--quick]``: the documented command
versus_seed  the graph against the seed design and the model's own limit (``make bench``)
sources      the arXiv API source against the local index (``make bench-sources``)
soak         mixed load with replicas killed (``make soak``; ``bench/soak.py`` runs it)
autoscale    Serve adding and removing Summarizer replicas (``make bench-autoscale``)
driver       what the load runs share: ``POST /execute`` at a concurrency, measured, and
             the graph of ``serve_config.yaml`` with its metrics
report       the table, plot and files of ``versus_seed``
"""
