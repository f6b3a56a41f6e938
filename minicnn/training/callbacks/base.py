"""Callback: the hooks ``Trainer.fit`` calls, and MonitorCallback, the one place where a callback
that watches a logged quantity decides what counts as an improvement.

Keras's protocol: ``fit`` calls ``set_trainer`` and ``set_params`` on every callback, then
``on_train_begin``, for each epoch ``on_epoch_begin``, ``on_batch_begin`` / ``on_batch_end``
around every batch and ``on_epoch_end`` with the epoch's logs, and finally ``on_train_end``.
Epochs and batches are numbered from 0. A callback stops training by setting
``self.trainer.stop_training = True``.
"""

from __future__ import annotations

import math
import re
import sys
import warnings

import numpy as np

MODES = ("auto", "min", "max")

# The Trainer's accuracy metrics, as they appear in the logs (without the 'val_' prefix):
# 'accuracy', its alias 'acc', 'top_k_accuracy' and 'top_<k>_accuracy'.
_ACCURACY = re.compile(r"acc|(top_(\d+|k)_)?accuracy")


class Callback:
    """Base class of every callback: each hook does nothing until a subclass overrides it."""

    def __init__(self) -> None:
        self.trainer = None
        self.params: dict = {}

    def set_trainer(self, trainer) -> None:
        """Attach the Trainer whose ``fit`` drives this callback (called by ``fit``)."""
        self.trainer = trainer

    def set_params(self, params: dict) -> None:
        """Store ``fit``'s parameters: ``{'epochs', 'steps', 'verbose'}`` (called by ``fit``)."""
        self.params = params

    def _attached_trainer(self):
        if self.trainer is None:
            raise RuntimeError(
                f"{type(self).__name__} is not attached to a Trainer yet; pass it to "
                f"Trainer.fit(..., callbacks=[...]) or call set_trainer(trainer) first"
            )
        return self.trainer

    @property
    def model(self):
        """The model being trained (``trainer.model``)."""
        return self._attached_trainer().model

    @property
    def optimizer(self):
        """The optimizer that trains it (``trainer.optimizer``)."""
        return self._attached_trainer().optimizer

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once, when ``fit`` starts."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once, when ``fit`` ends (after the last epoch or an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called before the first batch of ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called after the batches and the validation of ``epoch`` with the epoch's logs."""

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before training on ``batch`` (0-based within its epoch)."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after training on ``batch`` with that batch's logs (its ``loss``, ...)."""


class MonitorCallback(Callback):
    """A callback that watches ``logs[monitor]`` and compares it with the best value so far.

    - ``mode``: 'min', 'max' or 'auto'; an unknown mode warns and falls back to 'auto'. 'auto'
      minimises names ending in 'loss' and maximises the Trainer's accuracy metrics
      ('accuracy', 'acc', 'top_k_accuracy', 'top_5_accuracy', ... with or without 'val_');
      any other name is a ValueError, raised here at construction.
    - ``min_delta`` is used as ``abs(min_delta)``: a value improves on ``best`` when it is lower
      than ``best - min_delta`` ('min') or higher than ``best + min_delta`` ('max').
    - ``best is None`` (nothing seen yet): any value improves, except NaN, which never does.
    """

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(monitor, str):
            raise TypeError(
                f"{name}: monitor must be the name of a logged quantity (a str such as "
                f"'val_loss'), got {monitor!r}"
            )
        if mode not in MODES:
            warnings.warn(
                f"{name} mode {mode!r} is unknown, fallback to auto mode (pass one of "
                f"'auto', 'min', 'max')",
                stacklevel=3,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.monitor_op = self._resolve_op()

    def _resolve_op(self):
        """np.less for 'min', np.greater for 'max'; 'auto' picks from the monitor's name."""
        if self.mode == "min":
            return np.less
        if self.mode == "max":
            return np.greater
        if self.monitor.endswith("loss"):
            return np.less
        if _ACCURACY.fullmatch(self.monitor.removeprefix("val_")):
            return np.greater
        raise ValueError(
            f"{type(self).__name__} callback received monitor={self.monitor!r}, but mode='auto' "
            f"cannot tell whether it should be minimized or maximized (it knows names ending in "
            f"'loss' and the accuracy metrics 'accuracy', 'acc' and 'top_<k>_accuracy', with or "
            f"without 'val_'). Pass mode='min' to monitor the lowest value or mode='max' to "
            f"monitor the highest."
        )

    def is_improvement(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta``; NaN never does, and
        anything else beats ``best=None``."""
        if math.isnan(value):
            return False
        if best is None:
            return True
        delta = -self.min_delta if self.monitor_op is np.less else self.min_delta
        return bool(self.monitor_op(value - delta, best))

    def get_monitor_value(self, logs: dict | None) -> float | None:
        """``logs[monitor]`` as a float, or None after a warning naming the available keys."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__} is conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs)}. Pass one of them as "
                f"monitor=...",
                stacklevel=3,
            )
            return None
        return float(value)


def on_primary() -> bool:
    """False on the ranks other than 0 of a distributed run, where files are written by rank 0
    alone (checked without importing ``minicnn.distributed``)."""
    distributed = sys.modules.get("minicnn.distributed")
    return distributed is None or distributed.is_primary()
