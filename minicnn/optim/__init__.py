"""Optimizers with PyTorch's update rules, names and defaults, and learning-rate schedules."""

from minicnn.optim import lr_scheduler
from minicnn.optim.adagrad import Adagrad
from minicnn.optim.adam import Adam, AdamW
from minicnn.optim.optimizer import Optimizer
from minicnn.optim.rmsprop import RMSprop
from minicnn.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
