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

The commands the README, the Makefile and the code's docstrings name stay as they were: each is
a three-line module here that runs the grouped one, and nothing else.

    python -m bench.load              bench/load/__main__.py (the package itself)
    python -m bench.soak              bench/soak.py             -> bench.load.soak
    python -m bench.autoscale         bench/autoscale.py        -> bench.load.autoscale
    python -m bench.retrieval         bench/retrieval.py        -> bench.quality.retrieval
    python -m bench.summaries         bench/summaries.py        -> bench.quality.summaries
    python -m bench.train_extractive  bench/train_extractive.py -> bench.training.sentence_scorer
    python -m bench.train_context     bench/train_context.py    -> bench.training.context_scorer

The Makefile's targets call the grouped modules. Imports run one way: the entry modules import
the groups, ``load`` and ``quality`` and ``training`` import ``data``, nothing imports an entry
module, and ``arm_dev`` imports nothing from ``bench``.
"""
