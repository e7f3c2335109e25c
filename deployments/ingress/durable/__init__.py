"""Durable writes: memory writes the MemoryWriter did not take wait in an on-disk outbox."""
