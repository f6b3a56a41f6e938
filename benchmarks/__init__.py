"""Benchmarks: minicnn next to PyTorch on the same machine, in one run (python -m benchmarks)."""
