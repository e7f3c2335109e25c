"""The Ingress stage: the HTTP API, and the request flow across the other stages.

- ``http/``: the HTTP edge. ``app`` (the FastAPI app and its middlewares: body and URL caps,
  errors), ``admission`` (the in-flight bound), ``auth`` (the bearer key), ``errors`` (every
  error becomes HTTP here and only here), ``docs`` (the OpenAPI document and its pages),
  ``health`` and ``capabilities`` (the ops endpoints' answers).
- ``flow/``: the request flow. ``pipeline`` (POST /execute step by step over the stage
  Protocols of ``models.contracts``), ``handles`` (those Protocols over Serve handles),
  ``stage_info`` (what the stages say of themselves, off the request path).
- ``durable/``: durable writes. ``outbox`` (memory writes the MemoryWriter did not take, kept
  on disk until it does).
- ``deployment``: the thin Serve deployment that wires them together (``Ingress``).

The middleware that shapes the answers of Serve's own proxy runs in the proxy's process, not
in this stage: ``deployments.proxy``.
"""
