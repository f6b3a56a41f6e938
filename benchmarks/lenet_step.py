"""LeNet-5 forward and forward+backward at batch 64: minicnn next to PyTorch, one run.

    python benchmarks/lenet_step.py [--batch 64] [--rounds 10] [--threads 2]

Prints a table of median times and minicnn / PyTorch ratios (lower is better for minicnn).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import clean_blas_environment  # noqa: E402

clean_blas_environment()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import interleaved_medians, machine_header  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import minicnn as mc  # noqa: E402
from minicnn import nn  # noqa: E402


def lenet(lib, **options):
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2, **options), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5, **options), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(16 * 5 * 5, 120, **options), lib.ReLU(),
        lib.Linear(120, 84, **options), lib.ReLU(), lib.Linear(84, 10, **options),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # NumPy's BLAS gets the same number of threads

    mc.manual_seed(0)
    ours = lenet(nn)
    theirs = lenet(torch.nn)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).random((args.batch, 1, 28, 28)).astype(np.float32)
    grad = np.ones((args.batch, 10), np.float32)
    x_torch, grad_torch = torch.from_numpy(x), torch.from_numpy(grad)

    def ours_step():
        ours.zero_grad()
        ours(x)
        ours.backward(grad)

    def theirs_step():
        theirs.zero_grad()
        theirs(x_torch).backward(grad_torch)

    def theirs_forward():
        with torch.no_grad():
            theirs(x_torch)

    times = interleaved_medians(
        {
            "minicnn forward": lambda: ours(x),
            "torch forward": theirs_forward,
            "minicnn forward+backward": ours_step,
            "torch forward+backward": theirs_step,
        },
        args.rounds,
    )
    print(machine_header(args.threads))
    print(f"LeNet-5, input ({args.batch}, 1, 28, 28) float32; median over {args.rounds} "
          "interleaved rounds of 10 calls each\n")
    print(f"| {'pass':<17} | {'minicnn ms':>10} | {'PyTorch ms':>10} | {'ratio':>5} |")
    print(f"|{'-' * 19}|{'-' * 12}|{'-' * 12}|{'-' * 7}|")
    for name in ("forward", "forward+backward"):
        mine, torchs = times[f"minicnn {name}"] * 1e3, times[f"torch {name}"] * 1e3
        print(f"| {name:<17} | {mine:>10.2f} | {torchs:>10.2f} | {mine / torchs:>5.2f} |")


if __name__ == "__main__":
    main()
