"""Running methods on tasks: config resolution, the trained-state cache, and the rank-aware runner."""
