#!/usr/bin/env bash
# The GPU suite and the GPU benchmark, on a machine with an NVIDIA GPU, CuPy and a CUDA build
# of PyTorch (plus pytest, hypothesis, numba; pytest-xdist and pytest-timeout if present).
# Run from the repo root:
#   bash scripts/gpu_suite.sh [RESULTS_DIR]
# It runs minicnn from this checkout (PYTHONPATH), writes the logs and the benchmark's JSON to
# RESULTS_DIR (default: gpu-results), and exits non-zero if the tests fail.
set -uo pipefail
results=${1:-gpu-results}
mkdir -p "$results"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$results/gpu.txt"
python3 -c "import cupy, numba, numpy, torch; print('cupy', cupy.__version__, 'numba', \
numba.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)" | tee -a "$results/gpu.txt"

workers=() timeout_option=()
python3 -c "import xdist" 2>/dev/null && workers=(-n 8)
python3 -c "import pytest_timeout" 2>/dev/null && timeout_option=(--timeout 300)
# The layer, loss and optimizer suites with minicnn's side on the GPU (tests/torch_reference.py),
# the GPU kernels, the device tests, and the benchmark's own GPU test.
MINICNN_TEST_DEVICE=cuda HYPOTHESIS_PROFILE=gpu timeout "${SUITE_TIMEOUT:-420}" \
  python3 -m pytest -q -rfEs "${workers[@]}" "${timeout_option[@]}" -p no:cacheprovider \
  tests/gpu tests/backend tests/nn tests/optim/test_optimizers.py tests/test_benchmarks_gpu.py \
  2>&1 | tee "$results/tests.log"
status=${PIPESTATUS[0]}
echo "pytest exit status: $status" | tee -a "$results/tests.log"
timeout "${BENCH_TIMEOUT:-240}" python3 -m benchmarks.gpu ${BENCH_ARGS:-} --json "$results/bench.json" \
  2>&1 | tee "$results/bench.log"
exit "$status"
