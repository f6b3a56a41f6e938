"""Peak memory of one training step, minicnn next to PyTorch, each in a fresh process.

    python -m benchmarks.memory [--threads N]

A step is what ``python -m benchmarks`` times: forward, cross-entropy, backward, SGD with
momentum. Each (library, model) runs in its own Python process that imports only that library
(the minicnn one never imports torch), so neither library's allocations or thread pools count
against the other. The models and batches are the suite's, defined here (torch-free) and
imported by ``benchmarks/__main__.py``.

Method (Linux, resident memory, read from /proc/self):

1. Build the model, the loss, the optimizer and the batch; run one step on a single sample.
   That compiles (or loads) minicnn's Numba kernels and creates the gradient and momentum
   buffers, the model state that both libraries keep for all of training.
2. ``ready`` = the resident set size now (/proc/self/statm), after a gc.
3. One step on the full batch (the warm-up), then reset the process's peak resident size
   (writing 5 to /proc/self/clear_refs resets VmHWM, the peak that getrusage's ru_maxrss
   reports) and run a second full step. Its peak is VmHWM afterwards.

Reported: ``step_mib`` = peak of the second step - ``ready``: the memory a steady-state
training step needs on top of the ready model. It counts what a library keeps between steps
(saved activations, workspaces, pages its allocator holds on to), because a training loop pays
for those too; ``retained_mib`` (RSS after the warm-up step - ``ready``) shows that part alone.
It leaves out the libraries' code and the compiler, which are not the step's. Where clear_refs
cannot be written the peak is the process's lifetime ru_maxrss, which may then come from an
earlier moment (``peak_reset`` is false in the result).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from benchmarks._common import _FORCED_BLAS
from benchmarks.models import BUILDERS, TRAINING_MODELS

MIB = 2.0**20
ROOT = Path(__file__).resolve().parents[1]


def _rss() -> int:
    """Bytes resident now."""
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    """Set the process's peak resident size to its current one; False where Linux refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def _peak() -> int:
    """Bytes: the peak resident size since the last reset (VmHWM), else since the start."""
    try:
        with open("/proc/self/status") as file:
            line = next(line for line in file if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _training_step(library: str, build, threads: int):
    """(step(x, y), to_library(array)): one training step of a fresh model in `library`."""
    if library == "minicnn":
        from threadpoolctl import threadpool_limits

        import minicnn as mc
        from minicnn import nn, optim

        threadpool_limits(threads)
        mc.manual_seed(0)
        model, loss = build(nn), nn.CrossEntropyLoss()
        sgd = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step(x, y):
            loss(model(x), y)
            sgd.zero_grad()
            model.backward(loss.backward(), input_grad=False)
            sgd.step()

        return step, lambda array: array
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, loss = build(torch.nn), torch.nn.CrossEntropyLoss()
    sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        sgd.zero_grad()
        loss(model(x), y).backward()
        sgd.step()

    return step, torch.from_numpy


def measure_in_this_process(library: str, builder: str, shape: tuple, threads: int) -> dict:
    """The child's work (see the module docstring): MiB of a step in `library`, here."""
    import numpy as np

    step, convert = _training_step(library, BUILDERS[builder], threads)
    rng = np.random.default_rng(0)
    x, y = rng.random(shape, dtype=np.float32), rng.integers(0, 10, shape[0])
    x, y = convert(x), convert(y)
    step(x[:1], y[:1])  # kernels, gradient and momentum buffers
    gc.collect()
    ready = _rss()
    step(x, y)  # the warm-up step
    gc.collect()
    between = _rss()
    reset = _reset_peak()
    step(x, y)
    peak = _peak()
    return {"step_mib": (peak - ready) / MIB, "retained_mib": (between - ready) / MIB,
            "peak_reset": reset, "torch_imported": "torch" in sys.modules}


def step_memory(library: str, builder: str, shape: tuple, threads: int = 1) -> dict:
    """Measure one (library, model, batch) in a fresh Python process; see the module docstring.

    library: "minicnn" or "torch"; builder: a key of BUILDERS; shape: the batch's (N, C, H, W).
    """
    command = [sys.executable, "-m", "benchmarks.memory", "--child", library, builder,
               "x".join(map(str, shape)), "--threads", str(threads)]
    result = json.loads(run_child(command).splitlines()[-1])
    if library == "minicnn" and result["torch_imported"]:
        raise RuntimeError("the minicnn process imported torch: its memory would count torch's")
    return result


def run_child(command: list[str], env: dict[str, str] | None = None) -> str:
    """Stdout of a fresh Python process run from the repository root, in the clean BLAS
    environment that python -m benchmarks runs in (plus `env`)."""
    clean = {k: v for k, v in os.environ.items() if k not in _FORCED_BLAS}
    done = subprocess.run(command, cwd=ROOT, env={**clean, **(env or {})}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return done.stdout


def memory_rows(threads: int, models: list | None = None) -> list[dict]:
    """One row per model of TRAINING_MODELS (or `models`): MiB of a step in both libraries."""
    rows = []
    for name, build, shape in TRAINING_MODELS if models is None else models:
        ours = step_memory("minicnn", build.__name__, shape, threads)
        theirs = step_memory("torch", build.__name__, shape, threads)
        rows.append({"model": name, "minicnn_mib": ours["step_mib"],
                     "torch_mib": theirs["step_mib"],
                     "ratio": ours["step_mib"] / theirs["step_mib"]
                     if theirs["step_mib"] > 0 else None,
                     "minicnn_retained_mib": ours["retained_mib"],
                     "torch_retained_mib": theirs["retained_mib"],
                     "peak_reset": ours["peak_reset"] and theirs["peak_reset"]})
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a Markdown table, with a title line."""
    width = max(len(row["model"]) for row in rows)
    lines = [
        "peak memory of one training step, fresh process per library (MiB above the ready "
        "model; in brackets: kept between steps; target: minicnn <= 2x PyTorch)",
        f"| {'model':<{width}} | minicnn MiB    | PyTorch MiB    | ratio |",
        f"|{'-' * (width + 2)}|----------------|----------------|-------|",
    ]
    for row in rows:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        ours = f"{row['minicnn_mib']:.1f} ({row['minicnn_retained_mib']:.1f})"
        theirs = f"{row['torch_mib']:.1f} ({row['torch_retained_mib']:.1f})"
        lines.append(f"| {row['model']:<{width}} | {ours:>14} | {theirs:>14} | {ratio:>5} |")
    if not all(row["peak_reset"] for row in rows):
        lines.append("(peaks could not be reset: they may come from before the measured step)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--child", nargs=3, metavar=("LIBRARY", "BUILDER", "NxCxHxW"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        library, builder, shape = args.child
        shape = tuple(int(size) for size in shape.split("x"))
        print(json.dumps(measure_in_this_process(library, builder, shape, args.threads)))
        return
    rows = memory_rows(args.threads)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"memory": rows}, file, indent=1)


if __name__ == "__main__":
    main()
