"""queueing package."""
