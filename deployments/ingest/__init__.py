"""The ingest job: arXiv's bulk metadata into the local index, as a Ray Data pipeline.

``job`` (the pipeline, its report and command line: ``python -m deployments.ingest``) over
``stages`` (the Ray Data pieces: the streaming reader, parsing, embedding actors). The index it
writes is the library of ``deployments.index``.
"""
