"""Run by test_mpi_failure.py on 2 ranks: rank FAILING (the second argument) raises while the
other waits in a collective that can never complete. The abort handler must end the job."""

from __future__ import annotations

import sys
import time

import numpy as np

from minicnn import distributed, nn

if __name__ == "__main__":
    failing = int(sys.argv[2])
    distributed.init()
    model = nn.Linear(3, 2)
    if distributed.rank() == failing:
        time.sleep(0.2)  # let the other rank enter its collective first
        raise ValueError(f"rank {failing} gave up on purpose")
    for param in model.parameters():
        param.grad = np.ones_like(param.data)
    distributed.allreduce_gradients(model)  # waits for the failing rank forever without Abort
    distributed.barrier()
    print("the surviving rank finished: the job did not abort", flush=True)
