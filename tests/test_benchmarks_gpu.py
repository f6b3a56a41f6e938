"""python -m benchmarks.gpu: its cases, timing and tables, run on the CPU (both libraries on
NumPy / torch CPU through the same code path), and one quick run on the GPU where there is one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from gpu_support import GPU_MISSING, requires_gpu

from benchmarks import gpu
from benchmarks.__main__ import CONV_SHAPES, conv_flops
from benchmarks.models import cifar_cnn, lenet5

ROOT = Path(__file__).resolve().parent.parent
SMALL_CONVS = [(2, 3, 8, 8, 4, 3, 1, 1), (2, 2, 9, 8, 3, 5, 2, 2)]
SMALL_MODELS = [("LeNet-5 b4", lenet5, (4, 1, 28, 28)), ("CIFAR CNN b2", cifar_cnn, (2, 3, 32, 32))]


def test_case_specs_full_and_quick():
    full = gpu.case_specs()
    names = [spec.name for spec in full]
    assert len(full) == 2 * len(CONV_SHAPES) + 2 + 2 and len(set(names)) == len(names)
    assert names[:2] == ["conv 64x1x28x28->6 k5 s1 p2 fwd", "conv 64x1x28x28->6 k5 s1 p2 fwd+bwd"]
    assert full[0].flops == conv_flops(*CONV_SHAPES[0])
    assert full[1].flops == 3 * conv_flops(*CONV_SHAPES[0])
    assert "MaxPool2d(2) (128,64,32,32) fwd+bwd" in names
    assert "AdaptiveAvgPool2d(1) (128,64,32,32) fwd+bwd" in names
    assert [spec.name for spec in full if spec.train] == ["train step LeNet-5 b256",
                                                          "train step CIFAR CNN b256"]
    assert all(spec.flops is None for spec in full if not spec.name.startswith("conv"))

    quick = gpu.case_specs(quick=True)
    assert [spec.name for spec in quick] == names[:6] + ["train step LeNet-5 b256"]
    assert [spec.name for spec in gpu.case_specs(only="fwd+bwd") if "conv" not in spec.name] \
        == [name for name in names if "Pool" in name]


def test_cases_run_on_the_cpu_and_both_libraries_agree():
    """Every kind of case, small, through run_case on a CPU 'device': same numbers, sane rows."""
    specs = gpu.case_specs(conv_shapes=SMALL_CONVS, pool_shape=(2, 3, 8, 8), models=SMALL_MODELS)
    assert len(specs) == 2 * len(SMALL_CONVS) + 2 + len(SMALL_MODELS)
    rows = []
    for spec in specs:
        row, memory = gpu.run_case(spec, gpu.cpu_device(), rounds=2, block=2, warmup=1)
        rows.append(row)
        assert row["error"] is None, row
        assert row["minicnn_ms"] > 0 and row["torch_ms"] > 0, row
        assert row["ratio"] == pytest.approx(row["minicnn_ms"] / row["torch_ms"])
        assert row["rel_diff"] < 1e-4, row
        assert 1 <= row["block"] <= 2
        assert (row["minicnn_gflops"] is None) == (spec.flops is None)
        assert memory is None  # the CPU device measures no GPU memory
    table = gpu.format_table(rows)
    assert all(f"| {spec.name} " in table for spec in specs) and "error" not in table


def test_run_case_reports_an_error_instead_of_raising(capsys):
    def broken(device):
        raise RuntimeError("no kernel for this\nsecond line")

    released = []
    device = gpu.Device(np, "cpu", lambda: None, lambda: None, release=lambda: released.append(1))
    row, memory = gpu.run_case(gpu.CaseSpec("broken", broken), device, rounds=1)
    assert row["error"] == "RuntimeError: no kernel for this" and memory is None
    assert released == [1]
    assert "Traceback" in capsys.readouterr().err
    assert "| broken | error: RuntimeError: no kernel for this" in gpu.format_table([row])


def test_run_case_measures_training_memory_with_the_device_hooks():
    device = gpu.Device(np, "cpu", lambda: None, lambda: None,
                        peak_ours=lambda step: (step(), 3 * gpu.MIB)[1],
                        peak_torch=lambda step: (step(), 2 * gpu.MIB)[1])
    spec = gpu.case_specs(conv_shapes=[], pool_shape=None, models=SMALL_MODELS[:1])[0]
    row, memory = gpu.run_case(spec, device, rounds=1, block=1, warmup=1)
    assert row["error"] is None
    assert memory == {"model": "LeNet-5 b4", "minicnn_mib": 3.0, "torch_mib": 2.0, "ratio": 1.5}
    assert "| LeNet-5 b4 |         3.0 |         2.0 |  1.50 |" in gpu.format_memory_table([memory])


def test_block_medians_interleaves_blocks_between_synchronizes():
    events, now = [], [0.0]

    def clock():
        now[0] += 1.0
        return now[0]

    def run(name, cost):
        def call():
            events.append(name)
            now[0] += cost
        return call

    runs = {"a": (run("a", 2.0), lambda: events.append("sync a")),
            "b": (run("b", 4.0), lambda: events.append("sync b"))}
    medians = gpu.block_medians(runs, rounds=2, block=3, settle=1, clock=clock)
    turn_a = ["a", "sync a", "a", "a", "a", "sync a"]
    turn_b = ["b", "sync b", "b", "b", "b", "sync b"]
    assert events == (turn_a + turn_b) * 2
    # each block: 3 calls plus the clock's own tick on its second reading
    assert medians == {"a": pytest.approx((3 * 2.0 + 1) / 3), "b": pytest.approx((3 * 4.0 + 1) / 3)}


def test_rel_diff():
    assert gpu.rel_diff(np.array([1.0, 2.0]), np.array([1.0, 4.0])) == 0.5
    assert gpu.rel_diff(np.zeros(3), np.zeros(3)) == 0.0
    assert gpu.rel_diff(np.zeros(2), np.zeros(3)) == float("inf")


def test_format_table_columns_and_flags():
    rows = [{"case": "conv x fwd", "minicnn_ms": 1.5, "torch_ms": 0.5, "ratio": 3.0,
             "minicnn_gflops": 1000.0, "torch_gflops": 3000.0, "rel_diff": 2e-7, "error": None},
            {"case": "train step y", "minicnn_ms": 10.0, "torch_ms": 5.0, "ratio": 2.0,
             "minicnn_gflops": None, "torch_gflops": None, "rel_diff": 0.5, "error": None}]
    lines = gpu.format_table(rows).splitlines()
    assert lines[0].startswith("| case ") and "PyTorch GFLOP/s" in lines[0]
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert "|      1.500 |      0.500 |  3.00 |            1000 |            3000 |    2e-07 |" \
        in lines[2]
    assert lines[3].endswith("5e-01 ! |")


def test_versions_and_cpu_model(tmp_path):
    assert gpu.cuda_version_string(12040) == "12.4"
    assert gpu.cuda_version_string(11080) == "11.8"
    assert gpu.cudnn_version_string(90100) == "9.1.0"
    assert gpu.cudnn_version_string(8902) == "8.9.2"
    assert gpu.cudnn_version_string(None) == "none"
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU @ 3.00GHz\n")
    assert gpu.cpu_model(str(cpuinfo)) == "Some CPU @ 3.00GHz"
    assert gpu.cpu_model(str(tmp_path / "missing"))


def test_header_from_a_fake_cupy_and_torch():
    props = {"name": b"NVIDIA H200", "major": 9, "minor": 0, "totalGlobalMem": 140 * 2**30,
             "multiProcessorCount": 132}
    runtime = SimpleNamespace(getDeviceProperties=lambda device: props,
                              driverGetVersion=lambda: 12040, runtimeGetVersion=lambda: 12020)
    cp = SimpleNamespace(__version__="13.0.0", cuda=SimpleNamespace(
        runtime=runtime, Device=lambda: SimpleNamespace(id=0)))
    backends = SimpleNamespace(
        cudnn=SimpleNamespace(version=lambda: 90100, benchmark=False, allow_tf32=True),
        cuda=SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False)))
    fake_torch = SimpleNamespace(__version__="2.4.0", version=SimpleNamespace(cuda="12.1"),
                                 backends=backends)
    info = gpu.collect_info(cp, fake_torch)
    assert info["gpu"] == "NVIDIA H200" and info["compute_capability"] == "9.0"
    header = gpu.format_header(info)
    assert "GPU: NVIDIA H200 (device 0), compute capability 9.0, 140.0 GiB, 132 SMs" in header
    assert "CUDA driver 12.4, runtime 12.2; CuPy 13.0.0; torch 2.4.0 (CUDA 12.1, cuDNN 9.1.0)" \
        in header
    assert "cudnn.benchmark=False, cuDNN TF32=True, matmul TF32=False" in header
    assert "CPU: " in header
    json.dumps(info)  # goes into --json as it is


def test_parse_args_defaults():
    assert gpu.parse_args([]).rounds == 5
    args = gpu.parse_args(["--quick", "--cudnn-benchmark"])
    assert args.rounds == 3 and args.cudnn_benchmark and not args.no_tf32
    assert gpu.parse_args(["--quick", "--rounds", "1"]).rounds == 1


@pytest.mark.skipif(GPU_MISSING is None, reason="this machine has a GPU")
def test_without_a_gpu_it_says_so_and_exits_2():
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--quick", "--rounds", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "python -m benchmarks.gpu: the GPU benchmark needs" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@requires_gpu
def test_quick_run_on_the_gpu(tmp_path):
    out = tmp_path / "gpu.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--quick", "--rounds", "1",
                             "--json", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GPU: " in result.stdout and "| case " in result.stdout
    numbers = json.loads(out.read_text())
    rows = numbers["rows"]
    assert len(rows) == 7
    for row in rows:
        assert row["error"] is None, row
        assert row["minicnn_ms"] > 0 and row["torch_ms"] > 0, row
        assert row["rel_diff"] < 5e-2, row  # TF32 in cuDNN's convs: about 1e-3
    [memory] = numbers["memory"]
    assert memory["model"] == "LeNet-5 b256"
    assert memory["minicnn_mib"] > 0 and memory["torch_mib"] > 0
