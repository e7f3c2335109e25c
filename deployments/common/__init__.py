"""What every stage shares: the cache, logging through Serve, per-replica process setup and
per-stage metrics (the one module here that needs Ray)."""
