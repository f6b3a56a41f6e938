"""The benchmark suite: conv layers, pooling and training steps, minicnn next to PyTorch.

    python -m benchmarks [--quick] [--threads N] [--rounds R] [--only SUBSTRING] [--json FILE]

Every case runs in minicnn and in PyTorch (CPU, the same thread count for both: NumPy's BLAS
via threadpoolctl, torch.set_num_threads), interleaved in blocks, and reports median times and
the ratio minicnn / PyTorch (lower is better for minicnn). A load probe (a fixed sgemm) timed
before and after the run shows how busy the machine was. The script re-runs itself without
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which some machines set to force slow BLAS kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks._common import clean_blas_environment

clean_blas_environment()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import minicnn as mc  # noqa: E402
from benchmarks._common import interleaved_medians, machine_header  # noqa: E402
from minicnn import nn, optim  # noqa: E402

# (N, Cin, H, W, Cout, k, stride, pad), as in issue 7
CONV_SHAPES = [
    (64, 1, 28, 28, 6, 5, 1, 2), (64, 6, 14, 14, 16, 5, 1, 0), (128, 3, 32, 32, 32, 3, 1, 1),
    (128, 32, 32, 32, 64, 3, 1, 1), (128, 64, 16, 16, 128, 3, 1, 1),
    (32, 128, 28, 28, 128, 3, 1, 1), (64, 64, 56, 56, 128, 3, 2, 1),
]
QUICK_CONV_SHAPES = CONV_SHAPES[:3]


def conv_flops(n, cin, h, w, cout, k, stride, pad) -> float:
    out_h, out_w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    return 2.0 * n * cout * out_h * out_w * cin * k * k


def twin(ours, theirs):
    """The same layer in both libraries, with minicnn's initial weights copied into torch's."""
    theirs.load_state_dict({key: torch.from_numpy(value) for key, value in
                            ours.state_dict().items()})
    return ours, theirs


def forward_backward_pair(ours, theirs, x: np.ndarray):
    """(minicnn step, torch step): forward, then backward of a ones gradient (input grads too)."""
    x_torch = torch.from_numpy(x).requires_grad_(True)
    grad = np.ones(ours(x).shape, np.float32)
    grad_torch = torch.from_numpy(grad)

    def ours_step():
        ours.zero_grad()
        ours(x)
        ours.backward(grad)

    def theirs_step():
        theirs.zero_grad()
        x_torch.grad = None
        theirs(x_torch).backward(grad_torch)

    return ours_step, theirs_step


def conv_cases(shapes, rng) -> list:
    cases = []
    for shape in shapes:
        n, cin, h, w, cout, k, stride, pad = shape
        ours, theirs = twin(nn.Conv2d(cin, cout, k, stride, pad),
                            torch.nn.Conv2d(cin, cout, k, stride, pad))
        x = rng.random((n, cin, h, w), dtype=np.float32)
        x_torch = torch.from_numpy(x)

        def theirs_forward(theirs=theirs, x_torch=x_torch):
            with torch.no_grad():
                theirs(x_torch)

        label = "conv " + "x".join(map(str, shape[:4])) + f"->{cout} k{k} s{stride} p{pad}"
        flops = conv_flops(*shape)
        cases.append((f"{label} fwd", lambda ours=ours, x=x: ours(x), theirs_forward, flops))
        cases.append((f"{label} fwd+bwd", *forward_backward_pair(ours, theirs, x), 3 * flops))
    return cases


def pooling_cases(rng) -> list:
    x = rng.random((128, 64, 32, 32), dtype=np.float32)
    return [
        (f"{name} (128,64,32,32) fwd+bwd", *forward_backward_pair(*twin(ours, theirs), x), None)
        for name, ours, theirs in (
            ("MaxPool2d(2)", nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
            ("AdaptiveAvgPool2d(1)", nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
        )
    ]


def lenet5(lib):
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(16 * 5 * 5, 120), lib.ReLU(),
        lib.Linear(120, 84), lib.ReLU(), lib.Linear(84, 10),
    )


def cifar_cnn(lib):
    return lib.Sequential(
        lib.Conv2d(3, 32, 3, padding=1), lib.ReLU(), lib.Conv2d(32, 32, 3, padding=1), lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Conv2d(32, 64, 3, padding=1), lib.ReLU(), lib.Conv2d(64, 64, 3, padding=1), lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(64 * 8 * 8, 256), lib.ReLU(), lib.Dropout(0.5),
        lib.Linear(256, 10),
    )


def training_step_cases(rng, quick: bool) -> list:
    """A full step: forward, cross-entropy, backward, SGD with momentum."""
    models = [("LeNet-5 b64", lenet5, (64, 1, 28, 28)), ("LeNet-5 b256", lenet5, (256, 1, 28, 28)),
              ("CIFAR CNN b128", cifar_cnn, (128, 3, 32, 32))]
    cases = []
    for name, build, shape in models[:1] if quick else models:
        mc.manual_seed(0)
        ours, theirs = twin(build(nn), build(torch.nn))
        x = rng.random(shape, dtype=np.float32)
        y = rng.integers(0, 10, shape[0])
        x_torch, y_torch = torch.from_numpy(x), torch.from_numpy(y)
        loss, loss_torch = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
        sgd = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
        sgd_torch = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)

        def ours_step(ours=ours, x=x, y=y, loss=loss, sgd=sgd):
            loss(ours(x), y)
            sgd.zero_grad()
            ours.backward(loss.backward())
            sgd.step()

        def theirs_step(theirs=theirs, x=x_torch, y=y_torch, loss=loss_torch, sgd=sgd_torch):
            sgd.zero_grad()
            loss(theirs(x), y).backward()
            sgd.step()

        cases.append((f"train step {name}", ours_step, theirs_step, None))
    return cases


def load_probe() -> float:
    """Seconds for a fixed 1024^3 sgemm: higher than usual means the machine is busy."""
    a = np.ones((1024, 1024), np.float32)
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    return (time.perf_counter() - start) / 5


def import_time() -> float:
    """Median seconds of `import minicnn` in a fresh interpreter (5 runs)."""
    code = "import time; t = time.perf_counter(); import minicnn; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(5)]
    return sorted(runs)[2]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="three convs and one step")
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    rng = np.random.default_rng(0)

    cases = conv_cases(QUICK_CONV_SHAPES if args.quick else CONV_SHAPES, rng)
    cases += [] if args.quick else pooling_cases(rng)
    cases += training_step_cases(rng, args.quick)
    if args.only:
        cases = [case for case in cases if args.only in case[0]]

    probe_before = load_probe()
    rows = []
    for name, ours, theirs, flops in cases:
        ours(), theirs()  # compile and warm up outside the timing
        start = time.perf_counter()
        ours()
        block = max(1, min(10, int(0.3 / max(time.perf_counter() - start, 1e-6))))
        times = interleaved_medians({"minicnn": ours, "torch": theirs}, args.rounds, block)
        rows.append({"case": name, "minicnn_ms": 1e3 * times["minicnn"],
                     "torch_ms": 1e3 * times["torch"], "ratio": times["minicnn"] / times["torch"],
                     "gflops": None if flops is None else flops / times["minicnn"] / 1e9})
    probe_after = load_probe()

    print(machine_header(args.threads))
    print(f"load probe (1024^3 sgemm): {1e3 * probe_before:.1f} ms before, "
          f"{1e3 * probe_after:.1f} ms after; import minicnn: {import_time():.3f} s")
    print(f"float32, medians of {args.rounds} interleaved rounds; ratio = minicnn / PyTorch\n")
    width = max(len(row["case"]) for row in rows)
    print(f"| {'case':<{width}} | minicnn ms | PyTorch ms | ratio | minicnn GFLOP/s |")
    print(f"|{'-' * (width + 2)}|------------|------------|-------|-----------------|")
    for row in rows:
        gflops = "" if row["gflops"] is None else f"{row['gflops']:.0f}"
        print(f"| {row['case']:<{width}} | {row['minicnn_ms']:>10.2f} | {row['torch_ms']:>10.2f} "
              f"| {row['ratio']:>5.2f} | {gflops:>15} |")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"rows": rows, "load_probe_s": [probe_before, probe_after]}, file, indent=1)


if __name__ == "__main__":
    main()
