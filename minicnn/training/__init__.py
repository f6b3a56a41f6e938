"""Training: the Trainer (fit, evaluate, predict), its History and the Keras-style callbacks."""

from minicnn.training import callbacks
from minicnn.training.history import History
from minicnn.training.trainer import Trainer

__all__ = ["History", "Trainer", "callbacks"]
