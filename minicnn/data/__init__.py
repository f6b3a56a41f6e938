"""Data: datasets (the embedded offline ``Digits``, ``MNIST``, ``FashionMNIST``, arrays) and
the DataLoader that batches them."""

from minicnn.data.dataset import Dataset, TensorDataset
from minicnn.data.datasets import MNIST, Digits, FashionMNIST
from minicnn.data.idx import IDXError, read_idx
from minicnn.data.loader import DataLoader

__all__ = [
    "MNIST", "DataLoader", "Dataset", "Digits", "FashionMNIST", "IDXError", "TensorDataset",
    "read_idx",
]
