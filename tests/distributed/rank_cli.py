"""Run by test_mpi_trainer.py under mpiexec: one epoch of `minicnn train --distributed`,
checkpointing into the output folder (argument 1)."""

from __future__ import annotations

import sys
from pathlib import Path

from minicnn.cli import main

output = Path(sys.argv[1])
main(["train", "--distributed", "--epochs", "1", "--verbose", "2", "--batch-size", "32",
      "--checkpoint", str(output / "run.npz")])
