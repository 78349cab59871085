"""nfbench: a benchmark suite for deep learning on neural fields (INRs)."""

__version__ = "0.1.0"
