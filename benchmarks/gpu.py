"""The GPU benchmark: minicnn on CuPy next to PyTorch on CUDA (cuDNN), in one run.

    python -m benchmarks.gpu [--quick] [--rounds R] [--block K] [--only SUBSTRING]
                             [--cudnn-benchmark] [--no-tf32] [--json FILE]

The cases are the CPU suite's (python -m benchmarks): Conv2d forward and forward+backward for
every shape of CONV_SHAPES, MaxPool2d(2) and AdaptiveAvgPool2d(1) forward+backward, and a full
training step (forward, cross-entropy, backward, SGD with momentum) of LeNet-5 and the small
CIFAR CNN, here at batch 256. --quick: the first three convs and the LeNet-5 step, 3 rounds.
Both libraries start from the same weights (minicnn's, copied into torch), and before timing a
case checks that they compute the same thing ("rel diff": max |minicnn - PyTorch| / max
|PyTorch| of the forward output, the input gradient, or the training model's logits).

GPU work is asynchronous, so a timed sample is a block of K calls between two device
synchronizes (minicnn: CuPy's, PyTorch: torch.cuda's), divided by K. Warm-up calls come first
(CuPy compiles its kernels on first use, cuBLAS and cuDNN pick algorithms); then the libraries
take turns, a block each (A B A B), for --rounds rounds; medians per call are reported, with
the ratio minicnn / PyTorch (lower is better for minicnn) and GFLOP/s for the convs. K is
--block, lowered for slow cases so that a block lasts about a quarter of a second.

PyTorch runs with its defaults (cudnn.benchmark off, cuDNN allowed to use TF32 for convs on
Ampere and newer); --cudnn-benchmark and --no-tf32 change those. The header says which were
used. Under the table: the peak GPU memory of a training step in each library (CuPy's memory
pool, whose blocks are freed just before the step, against torch.cuda.max_memory_allocated).

Without CuPy, a CUDA GPU or a CUDA build of PyTorch it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import NamedTuple

from benchmarks._common import clean_blas_environment

clean_blas_environment()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import minicnn as mc  # noqa: E402
from benchmarks.__main__ import CONV_SHAPES, QUICK_CONV_SHAPES, conv_flops  # noqa: E402
from benchmarks.models import cifar_cnn, lenet5  # noqa: E402
from minicnn import nn, optim  # noqa: E402

MIB = 2.0**20
POOL_SHAPE = (128, 64, 32, 32)
# (name, builder, input shape): the training steps timed on the GPU
GPU_TRAINING_MODELS = [("LeNet-5 b256", lenet5, (256, 1, 28, 28)),
                       ("CIFAR CNN b256", cifar_cnn, (256, 3, 32, 32))]
BLOCK_SECONDS = 0.25  # a timed block of a slow case lasts about this long
DIFF_WARNING = 1e-2  # rel diffs above this are flagged with "!" in the table


# --- devices ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """Where the cases run: the array module and device name for both libraries, how to wait
    for each library's queued work, and (on the GPU) how to measure a step's peak memory."""

    xp: ModuleType  # minicnn's arrays: cupy (numpy in the CPU tests)
    name: str  # minicnn's and torch's device: "cuda" ("cpu" in the tests)
    sync_ours: Callable[[], None]
    sync_torch: Callable[[], None]
    peak_ours: Callable[[Callable[[], object]], int] | None = None  # bytes during step()
    peak_torch: Callable[[Callable[[], object]], int] | None = None
    release: Callable[[], None] = gc.collect  # drop a finished case's cached memory


def _no_sync() -> None:
    return None


def cpu_device() -> Device:
    """Both libraries on the CPU: the GPU benchmark's code path, for tests without a GPU."""
    return Device(np, "cpu", _no_sync, _no_sync)


def cuda_device(cp, torch_module) -> Device:
    """minicnn on CuPy and torch on CUDA, on the current device."""
    pool = cp.get_default_memory_pool()

    def sync_ours() -> None:
        cp.cuda.Device().synchronize()

    def peak_ours(step) -> int:
        """Bytes CuPy's pool holds after step(), its free blocks freed before: the memory in
        use at the start plus what the step needed at its peak (an upper bound: the pool
        rounds and may not reuse every free block)."""
        sync_ours()
        pool.free_all_blocks()
        step()
        sync_ours()
        return pool.total_bytes()

    def peak_torch(step) -> int:
        torch_module.cuda.synchronize()
        torch_module.cuda.reset_peak_memory_stats()
        step()
        torch_module.cuda.synchronize()
        return torch_module.cuda.max_memory_allocated()

    def release() -> None:
        gc.collect()
        sync_ours()
        torch_module.cuda.synchronize()
        pool.free_all_blocks()
        torch_module.cuda.empty_cache()

    return Device(cp, "cuda", sync_ours, torch_module.cuda.synchronize, peak_ours, peak_torch,
                  release)


def gpu_missing_reason() -> str | None:
    """Why the benchmark cannot run here (no CuPy, no GPU, a CPU-only torch), or None."""
    try:
        import cupy  # noqa: F401
    except ImportError:
        return ("the GPU benchmark needs CuPy (pip install minicnn[gpu], or the cupy-cudaXXx "
                "wheel matching your CUDA) and an NVIDIA GPU; CuPy is not installed")
    if not mc.cuda.is_available():
        return "the GPU benchmark needs an NVIDIA GPU: CuPy is installed but sees no CUDA device"
    if not torch.cuda.is_available():
        return (f"the GPU benchmark compares with PyTorch on CUDA, but torch {torch.__version__} "
                "sees no GPU (a CPU-only build?)")
    return None


# --- the machine --------------------------------------------------------------------------------

def cuda_version_string(version: int) -> str:
    """CUDA's integer versions (12040) as "12.4"."""
    return f"{version // 1000}.{version % 1000 // 10}"


def cudnn_version_string(version: int | None) -> str:
    """torch.backends.cudnn.version() (90100, or 8902 before cuDNN 9) as "9.1.0"."""
    if version is None:
        return "none"
    if version >= 90000:
        return f"{version // 10000}.{version % 10000 // 100}.{version % 100}"
    return f"{version // 1000}.{version % 1000 // 100}.{version % 100}"


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        with open(cpuinfo) as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect_info(cp, torch_module) -> dict:
    """The GPU, the software versions and the PyTorch settings in force, for the header."""
    runtime = cp.cuda.runtime
    device_id = cp.cuda.Device().id
    props = runtime.getDeviceProperties(device_id)
    name = props["name"]
    backends = torch_module.backends
    return {
        "gpu": name.decode() if isinstance(name, bytes) else str(name),
        "device_id": device_id,
        "compute_capability": f"{props['major']}.{props['minor']}",
        "memory_gib": props["totalGlobalMem"] / 2**30,
        "sms": props["multiProcessorCount"],
        "driver": cuda_version_string(runtime.driverGetVersion()),
        "runtime": cuda_version_string(runtime.runtimeGetVersion()),
        "cupy": cp.__version__,
        "torch": torch_module.__version__,
        "torch_cuda": torch_module.version.cuda,
        "cudnn": cudnn_version_string(backends.cudnn.version()),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "cudnn_benchmark": bool(backends.cudnn.benchmark),
        "cudnn_tf32": bool(backends.cudnn.allow_tf32),
        "matmul_tf32": bool(backends.cuda.matmul.allow_tf32),
        "cupy_tf32": os.environ.get("CUPY_TF32", "0"),
    }


def format_header(info: dict) -> str:
    return "\n".join([
        f"GPU: {info['gpu']} (device {info['device_id']}), compute capability "
        f"{info['compute_capability']}, {info['memory_gib']:.1f} GiB, {info['sms']} SMs",
        f"CUDA driver {info['driver']}, runtime {info['runtime']}; CuPy {info['cupy']}; "
        f"torch {info['torch']} (CUDA {info['torch_cuda']}, cuDNN {info['cudnn']}); "
        f"numpy {info['numpy']}; python {info['python']}",
        f"CPU: {info['cpu']} ({info['cpus']} CPUs)",
        f"PyTorch: cudnn.benchmark={info['cudnn_benchmark']}, cuDNN TF32={info['cudnn_tf32']}, "
        f"matmul TF32={info['matmul_tf32']}; CuPy: CUPY_TF32={info['cupy_tf32']}",
    ])


# --- the cases ----------------------------------------------------------------------------------

class Pair(NamedTuple):
    """A case built on a device: each library's timed call, and each one's output for the
    agreement check (a NumPy array), run once before timing."""

    ours: Callable[[], object]
    theirs: Callable[[], object]
    ours_output: Callable[[], np.ndarray]
    theirs_output: Callable[[], np.ndarray]


@dataclass(frozen=True)
class CaseSpec:
    """A case, not yet built: make(device) allocates its layers and arrays there, so that
    only the case being timed holds GPU memory."""

    name: str
    make: Callable[[Device], Pair]
    flops: float | None = None  # per call, for GFLOP/s
    train: bool = False  # a training step: its peak memory is measured too


def to_host(x) -> np.ndarray:
    """A NumPy copy of a minicnn (NumPy or CuPy) or torch array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if hasattr(x, "get") and not isinstance(x, np.ndarray):
        return x.get()
    return np.asarray(x)


def twin_on(device: Device, ours, theirs):
    """The same layer in both libraries, torch's with minicnn's initial weights, on device."""
    theirs.load_state_dict({key: torch.from_numpy(to_host(value))
                            for key, value in ours.state_dict().items()})
    return ours.to(device.name), theirs.to(device.name)


def _forward_pair(device: Device, ours, theirs, x: np.ndarray) -> Pair:
    x_ours = device.xp.asarray(x)
    x_torch = torch.from_numpy(x).to(device.name)

    def theirs_forward():
        with torch.no_grad():
            return theirs(x_torch)

    return Pair(lambda: ours(x_ours), theirs_forward, lambda: to_host(ours(x_ours)),
                lambda: to_host(theirs_forward()))


def _forward_backward_pair(device: Device, ours, theirs, x: np.ndarray) -> Pair:
    """Forward, then backward of a ones gradient (input gradients too), as on the CPU."""
    x_ours = device.xp.asarray(x)
    x_torch = torch.from_numpy(x).to(device.name).requires_grad_(True)
    grad = device.xp.ones(ours(x_ours).shape, dtype=np.float32)
    grad_torch = torch.ones(tuple(grad.shape), dtype=torch.float32, device=device.name)

    def ours_step():
        ours.zero_grad()
        ours(x_ours)
        return ours.backward(grad)

    def theirs_step():
        theirs.zero_grad()
        x_torch.grad = None
        theirs(x_torch).backward(grad_torch)
        return x_torch.grad

    return Pair(ours_step, theirs_step, lambda: to_host(ours_step()),
                lambda: to_host(theirs_step()))


def _conv_maker(shape: tuple, backward: bool) -> Callable[[Device], Pair]:
    def make(device: Device) -> Pair:
        n, cin, h, w, cout, k, stride, pad = shape
        mc.manual_seed(0)
        ours, theirs = twin_on(device, nn.Conv2d(cin, cout, k, stride, pad),
                               torch.nn.Conv2d(cin, cout, k, stride, pad))
        x = np.random.default_rng(0).random((n, cin, h, w), dtype=np.float32)
        return (_forward_backward_pair if backward else _forward_pair)(device, ours, theirs, x)

    return make


def _pool_maker(layer: str, args: tuple, shape: tuple) -> Callable[[Device], Pair]:
    def make(device: Device) -> Pair:
        ours, theirs = twin_on(device, getattr(nn, layer)(*args), getattr(torch.nn, layer)(*args))
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        return _forward_backward_pair(device, ours, theirs, x)

    return make


def _training_maker(build, shape: tuple) -> Callable[[Device], Pair]:
    """Forward, cross-entropy, backward, SGD with momentum; the check compares the logits of
    the untrained models in eval mode (Dropout draws different masks in the two libraries)."""

    def make(device: Device) -> Pair:
        mc.manual_seed(0)
        ours, theirs = twin_on(device, build(nn), build(torch.nn))
        rng = np.random.default_rng(0)
        x, y = rng.random(shape, dtype=np.float32), rng.integers(0, 10, shape[0])
        x_ours, y_ours = device.xp.asarray(x), device.xp.asarray(y)
        x_torch = torch.from_numpy(x).to(device.name)
        y_torch = torch.from_numpy(y).to(device.name)
        loss, loss_torch = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
        sgd = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
        sgd_torch = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)

        def ours_step():
            loss(ours(x_ours), y_ours)
            sgd.zero_grad()
            ours.backward(loss.backward(), input_grad=False)
            sgd.step()

        def theirs_step():
            sgd_torch.zero_grad()
            loss_torch(theirs(x_torch), y_torch).backward()
            sgd_torch.step()

        def ours_logits():
            ours.eval()
            try:
                return to_host(ours(x_ours))
            finally:
                ours.train()

        def theirs_logits():
            theirs.eval()
            try:
                with torch.no_grad():
                    return to_host(theirs(x_torch))
            finally:
                theirs.train()

        return Pair(ours_step, theirs_step, ours_logits, theirs_logits)

    return make


def conv_label(shape: tuple) -> str:
    n, cin, h, w, cout, k, stride, pad = shape
    return "conv " + "x".join(map(str, shape[:4])) + f"->{cout} k{k} s{stride} p{pad}"


def case_specs(quick: bool = False, *, conv_shapes: list | None = None,
               pool_shape: tuple | None = POOL_SHAPE, models: list | None = None,
               only: str | None = None) -> list[CaseSpec]:
    """The benchmark's cases in order: convs (forward, forward+backward), pools (not with
    quick), training steps (quick: the first model). conv_shapes, pool_shape (None: no pools)
    and models replace the defaults (the tests use small ones); only keeps the cases whose
    name contains it."""
    if conv_shapes is None:
        conv_shapes = QUICK_CONV_SHAPES if quick else CONV_SHAPES
    if models is None:
        models = GPU_TRAINING_MODELS[:1] if quick else GPU_TRAINING_MODELS
    specs = []
    for shape in conv_shapes:
        label, flops = conv_label(shape), conv_flops(*shape)
        specs.append(CaseSpec(f"{label} fwd", _conv_maker(shape, False), flops))
        specs.append(CaseSpec(f"{label} fwd+bwd", _conv_maker(shape, True), 3 * flops))
    if pool_shape is not None and not quick:
        dims = ",".join(map(str, pool_shape))
        for name, layer, args in (("MaxPool2d(2)", "MaxPool2d", (2,)),
                                  ("AdaptiveAvgPool2d(1)", "AdaptiveAvgPool2d", (1,))):
            specs.append(CaseSpec(f"{name} ({dims}) fwd+bwd", _pool_maker(layer, args, pool_shape)))
    for name, build, shape in models:
        specs.append(CaseSpec(f"train step {name}", _training_maker(build, shape), train=True))
    if only:
        specs = [spec for spec in specs if only in spec.name]
    return specs


# --- timing -------------------------------------------------------------------------------------

def block_medians(runs: dict[str, tuple[Callable[[], object], Callable[[], None]]], rounds: int,
                  block: int, settle: int = 1, clock: Callable[[], float] = time.perf_counter
                  ) -> dict[str, float]:
    """Median seconds per call of each run, {name: seconds}; runs maps a name to (call, sync).

    The runs take turns (A B A B ...) for ``rounds`` rounds. A turn makes ``settle`` untimed
    calls, synchronizes, then times ``block`` calls up to a second synchronize: one sample,
    the block's time / block, because the GPU runs the calls after they return.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (call, sync) in runs.items():
            for _ in range(settle):
                call()
            sync()
            start = clock()
            for _ in range(block):
                call()
            sync()
            samples[name].append((clock() - start) / block)
    return {name: statistics.median(values) for name, values in samples.items()}


def timed_call(call: Callable[[], object], sync: Callable[[], None]) -> float:
    """Seconds for one call, its queued work included."""
    sync()
    start = time.perf_counter()
    call()
    sync()
    return time.perf_counter() - start


def rel_diff(ours: np.ndarray, theirs: np.ndarray) -> float:
    """max |ours - theirs| / max |theirs| (inf when the shapes differ)."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        return float("inf")
    scale = float(np.max(np.abs(theirs))) if theirs.size else 0.0
    diff = float(np.max(np.abs(ours - theirs))) if theirs.size else 0.0
    return diff / scale if scale > 0 else diff


def run_case(spec: CaseSpec, device: Device, rounds: int, block: int = 10,
             warmup: int = 3) -> tuple[dict, dict | None]:
    """(table row, memory row or None) of one case; an exception becomes the row's error."""
    row: dict = {"case": spec.name, "minicnn_ms": None, "torch_ms": None, "ratio": None,
                 "minicnn_gflops": None, "torch_gflops": None, "rel_diff": None, "block": None,
                 "warmup_s": None, "error": None}
    memory = pair = runs = None
    try:
        pair = spec.make(device)
        runs = {"minicnn": (pair.ours, device.sync_ours),
                "torch": (pair.theirs, device.sync_torch)}
        # The check first (a training step changes the weights), then the warm-up; their time
        # includes CuPy's kernel compilation and cuDNN's algorithm choice.
        warmup_s = {}
        start = time.perf_counter()
        ours_out = pair.ours_output()
        device.sync_ours()
        warmup_s["minicnn"] = time.perf_counter() - start
        start = time.perf_counter()
        theirs_out = pair.theirs_output()
        device.sync_torch()
        warmup_s["torch"] = time.perf_counter() - start
        row["rel_diff"] = rel_diff(ours_out, theirs_out)
        for name, (call, sync) in runs.items():
            start = time.perf_counter()
            for _ in range(warmup):
                call()
            sync()
            warmup_s[name] += time.perf_counter() - start
        row["warmup_s"] = warmup_s
        slowest = max(timed_call(call, sync) for call, sync in runs.values())
        row["block"] = max(1, min(block, int(BLOCK_SECONDS / max(slowest, 1e-9))))
        times = block_medians(runs, rounds, row["block"])
        row.update(minicnn_ms=1e3 * times["minicnn"], torch_ms=1e3 * times["torch"],
                   ratio=times["minicnn"] / times["torch"])
        if spec.flops is not None:
            row["minicnn_gflops"] = spec.flops / times["minicnn"] / 1e9
            row["torch_gflops"] = spec.flops / times["torch"] / 1e9
        if spec.train and device.peak_ours is not None and device.peak_torch is not None:
            ours_bytes, theirs_bytes = device.peak_ours(pair.ours), device.peak_torch(pair.theirs)
            memory = {"model": spec.name.removeprefix("train step "),
                      "minicnn_mib": ours_bytes / MIB, "torch_mib": theirs_bytes / MIB,
                      "ratio": ours_bytes / theirs_bytes if theirs_bytes else None}
    except Exception as error:  # one broken case must not lose the others
        traceback.print_exc(file=sys.stderr)
        row["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:200]
    finally:
        pair = runs = None  # the case's layers and arrays, before freeing the cached memory
        device.release()
    return row, memory


# --- output -------------------------------------------------------------------------------------

def _number(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def format_table(rows: list[dict]) -> str:
    """The cases as a Markdown table (a failed case shows its error)."""
    width = max([len("case")] + [len(row["case"]) for row in rows])
    lines = [
        f"| {'case':<{width}} | minicnn ms | PyTorch ms | ratio | minicnn GFLOP/s "
        "| PyTorch GFLOP/s | rel diff |",
        f"|{'-' * (width + 2)}|------------|------------|-------|-----------------"
        "|-----------------|----------|",
    ]
    for row in rows:
        if row.get("error"):
            lines.append(f"| {row['case']:<{width}} | error: {row['error']}")
            continue
        diff = _number(row["rel_diff"], ".0e")
        if row["rel_diff"] is not None and row["rel_diff"] > DIFF_WARNING:
            diff += " !"
        lines.append(
            f"| {row['case']:<{width}} | {row['minicnn_ms']:>10.3f} | {row['torch_ms']:>10.3f} "
            f"| {row['ratio']:>5.2f} | {_number(row['minicnn_gflops'], '.0f'):>15} "
            f"| {_number(row['torch_gflops'], '.0f'):>15} | {diff:>8} |"
        )
    return "\n".join(lines)


def format_memory_table(rows: list[dict]) -> str:
    width = max([len("model")] + [len(row["model"]) for row in rows])
    lines = [
        "peak GPU memory of one training step (model, batch, gradients, momentum and the "
        "step's temporaries; minicnn: CuPy's pool, PyTorch: max_memory_allocated)",
        f"| {'model':<{width}} | minicnn MiB | PyTorch MiB | ratio |",
        f"|{'-' * (width + 2)}|-------------|-------------|-------|",
    ]
    for row in rows:
        lines.append(f"| {row['model']:<{width}} | {row['minicnn_mib']:>11.1f} "
                     f"| {row['torch_mib']:>11.1f} | {_number(row['ratio'], '.2f'):>5} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 3)")
    parser.add_argument("--block", type=int, default=10, help="calls per timed block (at most)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing")
    parser.add_argument("--quick", action="store_true", help="three convs and one step")
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="let cuDNN time its algorithms (torch.backends.cudnn.benchmark)")
    parser.add_argument("--no-tf32", action="store_true",
                        help="forbid TF32 in PyTorch's cuDNN convs (strict float32)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reason = gpu_missing_reason()
    if reason is not None:
        print(f"python -m benchmarks.gpu: {reason}", file=sys.stderr)
        return 2
    import cupy

    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    if args.no_tf32:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    device = cuda_device(cupy, torch)
    info = collect_info(cupy, torch)
    print(format_header(info), flush=True)

    specs = case_specs(args.quick, only=args.only)
    rows, memory_rows = [], []
    run_start = time.perf_counter()
    for index, spec in enumerate(specs, 1):
        start = time.perf_counter()
        row, memory = run_case(spec, device, args.rounds, args.block, args.warmup)
        rows.append(row)
        if memory is not None:
            memory_rows.append(memory)
        status = f"error: {row['error']}" if row["error"] else f"ratio {row['ratio']:.2f}"
        print(f"[{index}/{len(specs)}] {spec.name}: {status} "
              f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    total_s = time.perf_counter() - run_start

    print(f"\nfloat32, medians of {args.rounds} interleaved rounds of blocks of up to "
          f"{args.block} calls between device synchronizes; ratio = minicnn / PyTorch; rel diff "
          f"= max |minicnn - PyTorch| / max |PyTorch| (\"!\" above {DIFF_WARNING:g}); "
          f"{total_s:.0f} s in all\n")
    if rows:
        print(format_table(rows))
    if memory_rows:
        print("\n" + format_memory_table(memory_rows))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"machine": info, "rounds": args.rounds, "block": args.block,
                       "rows": rows, "memory": memory_rows, "total_s": total_s}, file, indent=1)
    return 1 if any(row["error"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
