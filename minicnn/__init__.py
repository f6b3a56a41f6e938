"""minicnn: a from-scratch CNN engine with explicit forward and backward passes.

NumPy on the CPU (hot loops in Numba, compiled on first use), CuPy on the GPU; PyTorch's
names and numerics.
"""

from minicnn import cuda, data, functional, nn, optim
from minicnn.gradcheck import GradcheckError, gradcheck
from minicnn.random import initial_seed, manual_seed

__version__ = "0.1.0"

__all__ = [
    "GradcheckError", "cuda", "data", "functional", "gradcheck", "initial_seed", "manual_seed",
    "nn", "optim",
]
