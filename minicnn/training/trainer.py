"""Trainer: Keras's fit / evaluate / predict over a minicnn model, loss and optimizer.

One epoch of ``fit``: the model in train mode, for each batch forward, loss, backward and an
optimizer step; then validation in eval mode; then ONE logs dict (``loss``, the metrics,
``val_loss``, ``val_<metric>``, ``lr``) handed to every callback in turn, as Keras does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from minicnn.backend import array_module
from minicnn.data import DataLoader, TensorDataset
from minicnn.nn import BCEWithLogitsLoss, Module
from minicnn.optim import Optimizer
from minicnn.training.callbacks import Callback, History
from minicnn.training.metrics import canonical_name, metric_function, samples_in
from minicnn.training.progress import ProgressBar


def as_batches(data, batch_size: int, shuffle: bool) -> Iterable:
    """A DataLoader (or any iterable of (x, y) batches) as it is; an (x, y) pair of arrays as
    a DataLoader over them (Keras's ``fit(x, y)``: batches of 32, shuffled for training)."""
    if isinstance(data, tuple) and len(data) == 2 and all(hasattr(a, "shape") for a in data):
        return DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=shuffle)
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"Trainer: expected a DataLoader, an iterable of (x, y) batches or an (x, y) pair of "
            f"arrays, got {type(data).__name__}"
        )
    return data


class Trainer:
    """Trains ``model`` on ``criterion`` with ``optimizer``; ``metrics`` are names such as
    'accuracy' or 'top_5_accuracy'. Callbacks reach it as ``self.trainer`` and may set
    ``trainer.stop_training``."""

    def __init__(
        self, model: Module, criterion: Module, optimizer: Optimizer, metrics: Iterable = ()
    ) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"Trainer: model must be a minicnn Module, got {type(model).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"Trainer: optimizer must be a minicnn Optimizer, got {type(optimizer).__name__}"
            )
        self.model, self.criterion, self.optimizer = model, criterion, optimizer
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        self.metrics = [canonical_name(name) for name in names]
        threshold = 0.0 if isinstance(criterion, BCEWithLogitsLoss) else 0.5
        self._metric_functions = {name: metric_function(name, threshold) for name in self.metrics}
        self.history = History()
        self.stop_training = False

    # --- one pass over data -------------------------------------------------------------------

    def _run_epoch(self, batches: Iterable, train: bool, callbacks: list | None = None) -> dict:
        """Average loss and metrics over ``batches`` (weighted by samples); with ``train``, an
        optimizer step per batch and on_batch_* callbacks with the running averages."""
        self.model.train(train)
        totals = {"loss": 0.0, **dict.fromkeys(self.metrics, 0.0)}
        seen = samples = 0
        for index, (x, y) in enumerate(batches):
            if callbacks:
                for callback in callbacks:
                    callback.on_batch_begin(index, {"batch": index, "size": len(x)})
            scores = self.model(x)
            loss = float(self.criterion(scores, y))
            if train:
                self.optimizer.zero_grad()
                self.model.backward(self.criterion.backward())
                self.optimizer.step()
            seen += len(x)
            samples += samples_in(y)
            totals["loss"] += loss * len(x)
            for name, function in self._metric_functions.items():
                totals[name] += function(scores, y)
            if callbacks:
                logs = self._averages(totals, seen, samples)
                for callback in callbacks:
                    callback.on_batch_end(index, logs)
                if self.stop_training:
                    break
        return self._averages(totals, seen, samples)

    def _averages(self, totals: dict, seen: int, samples: int) -> dict:
        logs = {"loss": totals["loss"] / seen if seen else math.nan}
        for name in self.metrics:
            logs[name] = totals[name] / samples if samples else math.nan
        return logs

    # --- the public loop ----------------------------------------------------------------------

    def fit(
        self,
        train,
        epochs: int = 1,
        validation_data=None,
        callbacks: Iterable[Callback] | None = None,
        initial_epoch: int = 0,
        verbose: int = 1,
    ) -> History:
        """Train from ``initial_epoch`` up to ``epochs`` (0-based epoch numbers in the hooks, as
        Keras); returns the History, whose ``history`` dict holds every epoch's logs."""
        train = as_batches(train, 32, shuffle=True)
        if validation_data is not None:
            validation_data = as_batches(validation_data, 32, shuffle=False)
        callbacks = [self.history, *(callbacks or ())]
        if verbose:
            callbacks.append(ProgressBar(verbose))
        params = {"epochs": epochs, "steps": len(train) if hasattr(train, "__len__") else None,
                  "verbose": verbose}
        for callback in callbacks:
            callback.set_trainer(self)
            callback.set_params(params)
        self.stop_training = False
        for callback in callbacks:
            callback.on_train_begin()
        logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            if hasattr(train, "set_epoch"):  # a seeded DataLoader: epoch k's order, resumed or not
                train.set_epoch(epoch)
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            logs = self._run_epoch(train, train=True, callbacks=callbacks)
            if validation_data is not None:
                validation = self._run_epoch(validation_data, train=False)
                logs.update({f"val_{key}": value for key, value in validation.items()})
            logs["lr"] = self.optimizer.param_groups[0]["lr"]
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for callback in callbacks:
            callback.on_train_end(logs)
        self.model.eval()
        return self.history

    def evaluate(self, data, batch_size: int = 32) -> dict:
        """The loss and metrics on ``data``, in eval mode: {'loss': ..., 'accuracy': ...}."""
        return self._run_epoch(as_batches(data, batch_size, shuffle=False), train=False)

    def predict(self, x, batch_size: int = 32):
        """The model's outputs for the samples of ``x``, in eval mode, batch by batch."""
        if not hasattr(x, "shape"):
            raise TypeError(
                f"Trainer.predict: expected an array of samples, got {type(x).__name__}"
            )
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(
                f"Trainer.predict: batch_size must be a positive int, got {batch_size}"
            )
        self.model.eval()
        starts = range(0, len(x), batch_size)
        outputs = [self.model(x[start : start + batch_size]) for start in starts]
        return array_module(x).concatenate(outputs) if outputs else self.model(x)
