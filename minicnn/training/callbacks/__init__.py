"""Keras-style callbacks for ``Trainer.fit``, one per file, sharing base.MonitorCallback.

``History`` lives in ``minicnn.training.history`` and is re-exported here on first access, so
that importing either module first works (history.py needs this package's ``Callback``).
"""

from minicnn.training.callbacks.base import Callback, MonitorCallback
from minicnn.training.callbacks.checkpoint import ModelCheckpoint
from minicnn.training.callbacks.csv_logger import CSVLogger
from minicnn.training.callbacks.early_stopping import EarlyStopping
from minicnn.training.callbacks.lambda_callback import LambdaCallback
from minicnn.training.callbacks.reduce_lr import ReduceLROnPlateau
from minicnn.training.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger", "Callback", "EarlyStopping", "History", "LambdaCallback", "ModelCheckpoint",
    "MonitorCallback", "ReduceLROnPlateau", "TerminateOnNaN",
]


def __getattr__(name: str):
    if name == "History":
        from minicnn.training.history import History

        return History
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
