"""minicnn: a from-scratch CNN engine with explicit forward and backward passes.

NumPy on the CPU (hot loops in Numba, compiled on first use), CuPy on the GPU; PyTorch's
names and numerics.
"""

from minicnn import cuda, data, functional, nn, optim
from minicnn.gradcheck import GradcheckError, gradcheck
from minicnn.random import initial_seed, manual_seed
from minicnn.serialization import load, load_checkpoint, load_weights, save, save_weights
from minicnn.training import History, Trainer, callbacks

__version__ = "0.1.0"

__all__ = [
    "GradcheckError", "History", "Trainer", "callbacks", "cuda", "data", "functional",
    "gradcheck", "initial_seed", "load", "load_checkpoint", "load_weights", "manual_seed", "nn",
    "optim", "save", "save_weights",
]
