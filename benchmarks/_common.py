"""What every benchmark shares: a clean BLAS environment, the machine header, and timing.

Benchmarks compare minicnn with PyTorch (CPU, same thread count) in one process, interleaving
the two and reporting medians, because the machines they run on are shared and noisy.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

# Some machines export these to force OpenBLAS's slower AVX2 kernels; users elsewhere don't
# have them. Re-run this script without them, before NumPy is imported.
_FORCED_BLAS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def clean_blas_environment() -> None:
    """Re-execute the running script without the variables that force slow BLAS kernels."""
    if any(name in os.environ for name in _FORCED_BLAS):
        env = {k: v for k, v in os.environ.items() if k not in _FORCED_BLAS}
        os.execve(sys.executable, sys.orig_argv, env)  # the original command, `-m` included


def machine_header(threads: int) -> str:
    """Python, CPU, thread count and the BLAS libraries (with their kernels) in use."""
    import numpy as np
    import torch
    from threadpoolctl import threadpool_info

    blas = [
        f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')}, "
        f"{info.get('num_threads')} threads) from {os.path.basename(info['filepath'])}"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return "\n".join([
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}"
        f" (threads: {threads})",
        *(f"BLAS: {line}" for line in blas),
    ])


def interleaved_medians(cases: dict[str, Callable[[], object]], rounds: int, block: int = 10):
    """Median seconds per call of each case, {name: seconds}.

    The cases take turns in blocks: each turn runs 3 untimed calls and then ``block`` timed
    ones, for ``rounds`` rounds. Blocks, not single calls, because a library's worker threads
    keep spinning for a while after it returns and would slow the other library's first calls.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            for _ in range(3):
                run()
            for _ in range(block):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}
