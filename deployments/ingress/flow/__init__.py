"""The request flow across the stages: ``pipeline`` over the Protocols of
``models.contracts``, ``handles`` (Serve handles behind them), ``stage_info``."""
