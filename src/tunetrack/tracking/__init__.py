"""Tracking: the fluent API, the explicit client, the batched writer and run context."""
