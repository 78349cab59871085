"""Method modules (one per method), registered lazily by name."""
