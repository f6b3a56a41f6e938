"""Data: datasets, including the embedded offline ``Digits``."""

from minicnn.data.dataset import Dataset, TensorDataset
from minicnn.data.datasets import Digits
from minicnn.data.idx import IDXError, read_idx

__all__ = ["Dataset", "Digits", "IDXError", "TensorDataset", "read_idx"]
