"""The Ingress stage: the HTTP API and the request flow across the other stages.

Cores (plain Python): ``pipeline`` (POST /execute step by step) over the protocols of
``stages``; ``handles`` (those protocols over Serve handles); ``app``, ``auth``,
``http_errors`` (FastAPI app, bearer dependency, the one error mapping); ``health`` and
``capabilities`` (the ops endpoints' answers). Deployment: ``deployment`` (Ingress).
"""
