"""The world: which process this is (its rank) among how many (the world size).

Under an MPI launcher (``mpiexec -n 4 python train.py``) the world is mpi4py's
``COMM_WORLD``; a process started any other way is a world of one, rank 0, and mpi4py is never
imported, so the same script runs unchanged with or without the launcher. Every function of
``minicnn.distributed`` calls ``init()`` first, so calling it yourself is optional.
"""

from __future__ import annotations

import numbers
import os
from types import ModuleType

# Variables that MPI launchers set in the processes they start: Open MPI (mpiexec, mpirun),
# PMIx (Open MPI 5, srun --mpi=pmix), PMI (MPICH's and Intel MPI's hydra, srun --mpi=pmi2),
# MVAPICH.
LAUNCHER_VARIABLES = (
    "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK", "MV2_COMM_WORLD_SIZE",
)
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")

_comm = None  # mpi4py's COMM_WORLD, or None in a world of one
_rank, _size, _initialized = 0, 1, False


def launched_by_mpi() -> bool:
    """Whether an MPI launcher started this process (one of its variables is set), unless
    ``MINICNN_DISTRIBUTED=0`` asks for independent processes (e.g. a sweep under srun)."""
    if os.environ.get("MINICNN_DISTRIBUTED") == "0":
        return False
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def init() -> None:
    """Join the world: mpi4py's COMM_WORLD when an MPI launcher started this process, a world
    of one otherwise. Idempotent. In a world of more than one, an uncaught exception then aborts
    the whole job (``install_abort_handler``)."""
    global _comm, _rank, _size, _initialized
    if _initialized:
        return
    if launched_by_mpi():
        try:
            from mpi4py import MPI
        except ImportError as error:
            if _launched_size() > 1:
                raise RuntimeError(
                    f"minicnn.distributed: started by an MPI launcher with {_launched_size()} "
                    "processes, but mpi4py is not installed; install it with "
                    "`pip install minicnn[mpi]` (each process would otherwise train alone)"
                ) from error
        else:
            _comm = MPI.COMM_WORLD
            _rank, _size = _comm.Get_rank(), _comm.Get_size()
    _initialized = True
    if _size > 1:
        from minicnn.distributed.abort import install_abort_handler

        install_abort_handler()


def _launched_size() -> int:
    for name in _SIZE_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def is_initialized() -> bool:
    """Whether ``init()`` has run (explicitly or through another function of this package)."""
    return _initialized


def rank() -> int:
    """This process's number, 0 to world_size() - 1."""
    init()
    return _rank


def world_size() -> int:
    """The number of processes in the job (1 without an MPI launcher)."""
    init()
    return _size


def is_primary() -> bool:
    """Whether this is rank 0, the process that prints, logs and saves checkpoints."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank has reached this call (nothing to wait for in a world of one)."""
    if communicator() is not None:
        _comm.Barrier()


def communicator():
    """mpi4py's COMM_WORLD in a world of more than one, None in a world of one (every
    collective is then the identity)."""
    init()
    return _comm if _size > 1 else None


def mpi() -> ModuleType:
    """mpi4py's MPI module; only for code that got a communicator."""
    from mpi4py import MPI

    return MPI


def check_root(root: int, caller: str) -> int:
    """``root`` must be a rank of the world."""
    size = world_size()
    if not isinstance(root, numbers.Integral) or isinstance(root, bool) or not 0 <= root < size:
        raise ValueError(f"{caller}: root must be a rank in [0, {size - 1}], got {root!r}")
    return int(root)
