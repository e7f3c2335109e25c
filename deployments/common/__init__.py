"""What every stage shares: the cache, logging through Serve, per-replica process setup, the
packaged model, and the metrics of every stage (Ray imported only when a metric is made)."""
