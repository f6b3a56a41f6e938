"""The benchmark suite: conv layers, pooling and training steps, minicnn next to PyTorch.

    python -m benchmarks [--quick] [--threads N] [--rounds R] [--only SUBSTRING] [--json FILE]
                         [--no-textbook]

Every case runs in minicnn and in PyTorch (CPU, the same thread count for both: NumPy's BLAS
via threadpoolctl, torch.set_num_threads), interleaved in blocks, and reports median times and
the ratio minicnn / PyTorch (lower is better for minicnn). The conv fwd+bwd cases and the
training steps also run in the textbook engine (benchmarks/textbook.py, a typical plain-NumPy
im2col engine): "textbook / minicnn" says how many times slower it is than minicnn.
A load probe (a fixed sgemm) timed before and after the run shows how busy the machine was.
Under the table: the peak memory of a training step in both libraries (benchmarks/memory.py;
not with --quick or --only) and minicnn's start-up costs (benchmarks/compile_time.py; not with
--only). The script re-runs itself without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which some
machines set to force slow BLAS kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from benchmarks._common import clean_blas_environment

clean_blas_environment()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import minicnn as mc  # noqa: E402
from benchmarks import compile_time, memory, textbook  # noqa: E402
from benchmarks._common import interleaved_medians, machine_header  # noqa: E402
from benchmarks.models import TRAINING_MODELS  # noqa: E402
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


def textbook_twin(ours, build):
    """build(textbook) with minicnn's initial weights: the textbook engine's twin of `ours`."""
    model = build(textbook)
    model.load_state_dict(ours.state_dict())
    return model


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


def textbook_forward_backward(layer: textbook.Layer, x: np.ndarray):
    """The textbook layer's step: forward, then backward of a ones gradient."""
    grad = np.ones(layer(x).shape, np.float32)

    def step():
        layer(x)
        layer.backward(grad)

    return step


def conv_cases(shapes, rng, with_textbook: bool = True) -> list:
    """(name, minicnn step, torch step, flops, textbook step or None) per conv shape."""
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
        twin_step = None
        if with_textbook:
            layer = textbook.Conv2d(cin, cout, k, stride, pad)
            layer.load_state_dict(ours.state_dict())
            twin_step = textbook_forward_backward(layer, x)
        cases.append((f"{label} fwd", lambda ours=ours, x=x: ours(x), theirs_forward, flops, None))
        cases.append((f"{label} fwd+bwd", *forward_backward_pair(ours, theirs, x), 3 * flops,
                      twin_step))
    return cases


def pooling_cases(rng) -> list:
    x = rng.random((128, 64, 32, 32), dtype=np.float32)
    return [
        (f"{name} (128,64,32,32) fwd+bwd", *forward_backward_pair(*twin(ours, theirs), x), None,
         None)
        for name, ours, theirs in (
            ("MaxPool2d(2)", nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
            ("AdaptiveAvgPool2d(1)", nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
        )
    ]


def training_step_cases(rng, quick: bool, with_textbook: bool = True) -> list:
    """A full step: forward, cross-entropy, backward, SGD with momentum (models: memory.py)."""
    cases = []
    for name, build, shape in TRAINING_MODELS[:1] if quick else TRAINING_MODELS:
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
            ours.backward(loss.backward(), input_grad=False)  # as torch: x needs no grad
            sgd.step()

        def theirs_step(theirs=theirs, x=x_torch, y=y_torch, loss=loss_torch, sgd=sgd_torch):
            sgd.zero_grad()
            loss(theirs(x), y).backward()
            sgd.step()

        twin_step = None
        if with_textbook:
            model, tb_loss = textbook_twin(ours, build), textbook.CrossEntropyLoss()
            tb_sgd = textbook.SGD(model.parameters(), lr=0.01, momentum=0.9)

            def twin_step(model=model, x=x, y=y, loss=tb_loss, sgd=tb_sgd):
                loss(model(x), y)
                model.backward(loss.backward())
                sgd.step()

        cases.append((f"train step {name}", ours_step, theirs_step, None, twin_step))
    return cases


def load_probe() -> float:
    """Seconds for a fixed 1024^3 sgemm: higher than usual means the machine is busy."""
    a = np.ones((1024, 1024), np.float32)
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    return (time.perf_counter() - start) / 5


def print_table(rows: list[dict], with_textbook: bool) -> None:
    """The cases as a Markdown table; the textbook columns are blank where it has no twin."""
    width = max(len(row["case"]) for row in rows)
    extra = " textbook ms | textbook / minicnn |" if with_textbook else ""
    extra_rule = "-------------|--------------------|" if with_textbook else ""
    print(f"| {'case':<{width}} | minicnn ms | PyTorch ms | ratio | minicnn GFLOP/s |{extra}")
    print(f"|{'-' * (width + 2)}|------------|------------|-------|-----------------|{extra_rule}")
    for row in rows:
        gflops = "" if row["gflops"] is None else f"{row['gflops']:.0f}"
        line = (f"| {row['case']:<{width}} | {row['minicnn_ms']:>10.2f} | {row['torch_ms']:>10.2f} "
                f"| {row['ratio']:>5.2f} | {gflops:>15} |")
        if with_textbook:
            blank = row["textbook_ms"] is None
            line += (f" {'' if blank else format(row['textbook_ms'], '.2f'):>11} "
                     f"| {'' if blank else format(row['textbook_ratio'], '.1f'):>18} |")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="three convs and one step")
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--no-textbook", action="store_true",
                        help="leave out the textbook NumPy engine's columns")
    args = parser.parse_args()
    with_textbook = not args.no_textbook
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    rng = np.random.default_rng(0)

    cases = conv_cases(QUICK_CONV_SHAPES if args.quick else CONV_SHAPES, rng, with_textbook)
    cases += [] if args.quick else pooling_cases(rng)
    cases += training_step_cases(rng, args.quick, with_textbook)
    if args.only:
        cases = [case for case in cases if args.only in case[0]]

    probe_before = load_probe()
    rows = []
    for name, ours, theirs, flops, twin_step in cases:
        runs = {"minicnn": ours, "torch": theirs}
        if twin_step is not None:
            runs["textbook"] = twin_step
        for run in runs.values():
            run()  # compile and warm up outside the timing
        start = time.perf_counter()
        ours()
        block = max(1, min(10, int(0.3 / max(time.perf_counter() - start, 1e-6))))
        times = interleaved_medians(runs, args.rounds, block)
        textbook_s = times.get("textbook")
        rows.append({"case": name, "minicnn_ms": 1e3 * times["minicnn"],
                     "torch_ms": 1e3 * times["torch"], "ratio": times["minicnn"] / times["torch"],
                     "gflops": None if flops is None else flops / times["minicnn"] / 1e9,
                     "textbook_ms": None if textbook_s is None else 1e3 * textbook_s,
                     "textbook_ratio": None if textbook_s is None
                     else textbook_s / times["minicnn"]})
    probe_after = load_probe()
    # --only times a few cases: it leaves out the memory and start-up tables, as --quick does
    # the memory one (both run their own processes).
    memory_rows = [] if args.quick or args.only else memory.memory_rows(args.threads)
    startup = None if args.only else compile_time.startup_times()

    print(machine_header(args.threads))
    import_s = compile_time.import_time() if startup is None else startup["import_s"]
    print(f"load probe (1024^3 sgemm): {1e3 * probe_before:.1f} ms before, "
          f"{1e3 * probe_after:.1f} ms after; import minicnn: {import_s:.3f} s")
    print(f"float32, medians of {args.rounds} interleaved rounds; ratio = minicnn / PyTorch"
          + ("; textbook / minicnn: target >= 5 on training steps\n" if with_textbook else "\n"))
    print_table(rows, with_textbook)
    if memory_rows:
        print("\n" + memory.format_table(memory_rows))
    if startup is not None:
        print("\n" + compile_time.format_table(startup))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"rows": rows, "load_probe_s": [probe_before, probe_after],
                       "memory": memory_rows, "startup": startup}, file, indent=1)


if __name__ == "__main__":
    main()
