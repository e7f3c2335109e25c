"""Benchmarks, quality evaluations and model training; not shipped (the runtime image holds
``deployments``, ``models`` and ``graph`` only). The graph on stand-ins is started by
``arm_dev.harness``, for these and for the graph tests alike.

    load/       load runs on the graph: ``python -m bench.load [--sources]`` (graph vs the
                seed design; or the API source vs the local index), ``soak``, ``autoscale``
    quality/    quality evaluations: ``retrieval`` (known-item search), ``summaries`` (ROUGE)
    training/   model training: ``sentence_scorer`` and ``context_scorer``, the summarizer's
                learned weights
    baseline/   the baseline app: ``seed_arm``, the seed design the load run compares against
    data/       shared data: ``corpus`` (records and queries for the load runs), ``scitldr``

Each is run as ``python -m bench.<group>.<module>``, except the documented quality commands
and the load run, whose short names other docs and issues use:

    python -m bench.load              bench/load/__main__.py (the package itself)
    python -m bench.retrieval         bench/retrieval.py        -> bench.quality.retrieval
    python -m bench.summaries         bench/summaries.py        -> bench.quality.summaries

Imports run one way: the entry modules import
the groups, ``load`` and ``quality`` and ``training`` import ``data``, nothing imports an entry
module, and ``arm_dev`` imports nothing from ``bench``.
"""
