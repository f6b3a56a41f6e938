"""Start-up costs in fresh processes: import minicnn, first calls with a cold and a warm cache.

    python -m benchmarks.compile_time

``import minicnn`` never imports Numba; the kernels compile on their first call and are cached
on disk (``cache=True``; by default ``*.nbi``/``*.nbc`` files in ``__pycache__`` folders next to
the sources). The repository's own cache is left alone: each cold/warm pair points Numba at a
fresh empty folder with ``NUMBA_CACHE_DIR``. The first process finds nothing there and compiles
(cold) and writes the cache; a second process with the same folder loads it (warm). Each pair
gets its own folder, so the LeNet-5 step's cold run does not find the convolution's kernels.
A first call's time covers the call only (after ``import minicnn`` and building the layer or
model), which includes importing Numba.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time

from benchmarks.memory import run_child
from benchmarks.models import lenet5

FIRST_CALLS = {
    "conv": "first Conv2d(3, 8, 3, padding=1) fwd+bwd, input (2, 3, 16, 16)",
    "lenet5": "first LeNet-5 training step, batch 64",
}


def import_time(runs: int = 5) -> float:
    """Median seconds of `import minicnn` in a fresh interpreter (`runs` runs)."""
    code = "import time; t = time.perf_counter(); import minicnn; print(time.perf_counter() - t)"
    return statistics.median(float(run_child([sys.executable, "-c", code]))
                             for _ in range(runs))


def first_call_in_this_process(what: str) -> float:
    """Seconds of the first call of `what` (a key of FIRST_CALLS) in this process."""
    import numpy as np

    import minicnn as mc
    from minicnn import nn, optim

    rng = np.random.default_rng(0)
    mc.manual_seed(0)
    if what == "conv":
        layer, x = nn.Conv2d(3, 8, 3, padding=1), rng.random((2, 3, 16, 16), dtype=np.float32)
        start = time.perf_counter()
        layer.backward(np.ones(layer(x).shape, np.float32))
        return time.perf_counter() - start
    model, loss = lenet5(nn), nn.CrossEntropyLoss()
    sgd = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = rng.random((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
    start = time.perf_counter()
    loss(model(x), y)
    sgd.zero_grad()
    model.backward(loss.backward())
    sgd.step()
    return time.perf_counter() - start


def first_call_time(what: str, cache_dir: str) -> float:
    """Seconds of the first call of `what` in a fresh process with NUMBA_CACHE_DIR=cache_dir."""
    command = [sys.executable, "-m", "benchmarks.compile_time", "--child", what]
    return float(run_child(command, {"NUMBA_CACHE_DIR": cache_dir}).splitlines()[-1])


def cold_and_warm(what: str) -> tuple[float, float]:
    """(cold, warm) seconds of the first call of `what`, in a fresh empty Numba cache."""
    cache_dir = tempfile.mkdtemp(prefix="minicnn-numba-cache-")
    try:
        return first_call_time(what, cache_dir), first_call_time(what, cache_dir)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def startup_times(calls: tuple[str, ...] = tuple(FIRST_CALLS), import_runs: int = 5) -> dict:
    """{"import_s": ..., "<call>_cold_s": ..., "<call>_warm_s": ...} for each of `calls`."""
    result = {"import_s": import_time(import_runs)}
    for what in calls:
        result[f"{what}_cold_s"], result[f"{what}_warm_s"] = cold_and_warm(what)
    return result


def format_table(times: dict) -> str:
    """The times as a Markdown table, with a title line."""
    calls = [what for what in FIRST_CALLS if f"{what}_cold_s" in times]
    width = max(len(FIRST_CALLS[what]) for what in calls)
    lines = [
        f"start-up, fresh processes: import minicnn {times['import_s']:.3f} s (target < 0.3 s); "
        "first calls (target with a warm cache: conv < 1 s)",
        f"| {'call':<{width}} | cold cache s | warm cache s |",
        f"|{'-' * (width + 2)}|--------------|--------------|",
    ]
    for what in calls:
        lines.append(f"| {FIRST_CALLS[what]:<{width}} | {times[f'{what}_cold_s']:>12.2f} "
                     f"| {times[f'{what}_warm_s']:>12.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compile_time",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--child", choices=FIRST_CALLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(first_call_in_this_process(args.child))
        return
    print(format_table(startup_times()))


if __name__ == "__main__":
    main()
