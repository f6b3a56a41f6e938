"""Abort on error: one rank's uncaught exception ends the whole job.

Without it, a rank that dies leaves the others waiting forever in their next collective (an
allreduce that never completes). With it, the failing rank prints its traceback, each line
prefixed with ``rank R:``, and calls ``COMM_WORLD.Abort(1)``, which ends every process of the
job; mpiexec then exits with a non-zero status. ``init()`` installs it in a world of more than
one. (A rank that calls ``sys.exit`` is not an uncaught exception: end every rank the same way.)
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from minicnn.distributed import world


def install_abort_handler() -> None:
    """Make an uncaught exception on this rank abort the whole job (a no-op in a world of one;
    installing it twice is the same as once)."""
    comm = world.communicator()
    if comm is None or getattr(sys.excepthook, "minicnn_abort", False):
        return

    def abort(kind: type[BaseException], error: BaseException, trace: TracebackType | None):
        prefix = f"rank {comm.Get_rank()}: "
        lines = "".join(traceback.format_exception(kind, error, trace)).splitlines()
        sys.stderr.write("".join(f"{prefix}{line}\n" for line in lines))
        sys.stderr.flush()
        sys.stdout.flush()
        comm.Abort(1)

    abort.minicnn_abort = True
    sys.excepthook = abort
