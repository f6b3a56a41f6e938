"""Trainer: Keras's fit / evaluate / predict over a minicnn model, loss and optimizer.

One epoch of ``fit``: the model in train mode, for each batch forward, loss, backward and an
optimizer step; then validation in eval mode; then ONE logs dict (``loss``, the metrics,
``val_loss``, ``val_<metric>``, ``lr``) handed to every callback in turn, as Keras does.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

from minicnn.backend import array_module, device_of, to_device
from minicnn.data import DataLoader, TensorDataset
from minicnn.nn import BCELoss, BCEWithLogitsLoss, Module, Sequential
from minicnn.nn._loss_base import Loss
from minicnn.optim import Optimizer
from minicnn.training.callbacks import Callback, History
from minicnn.training.metrics import canonical_name, metric_function
from minicnn.training.progress import ProgressBar


def as_batches(data, batch_size: int, shuffle: bool, shard: bool = False) -> Iterable:
    """A DataLoader (or any re-iterable collection of (x, y) batches) as it is; an (x, y) pair
    of arrays as a DataLoader over them (Keras's ``fit(x, y)``: batches of 32, shuffled for
    training; with ``shard``, each rank of a distributed run takes its share). A generator is
    refused: it would be empty from the second epoch on."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(
        hasattr(a, "shape") for a in data
    ):
        options = {"shard": True} if shard else {}
        return DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=shuffle,
                          **options)
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"Trainer: expected a DataLoader, a list of (x, y) batches or an (x, y) pair of "
            f"arrays, got {type(data).__name__}"
        )
    if iter(data) is data:
        raise TypeError(
            f"Trainer: got an iterator ({type(data).__name__}), which is used up after one "
            "epoch; pass a DataLoader or a list of (x, y) batches"
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
        if not isinstance(criterion, Loss):
            raise TypeError(
                f"Trainer: criterion must be a minicnn loss (e.g. nn.CrossEntropyLoss()), got "
                f"{type(criterion).__name__}"
            )
        if criterion.reduction == "none":
            raise ValueError(
                f"Trainer: {criterion!r} has reduction='none'; training needs a scalar loss, "
                "use reduction='mean' (or 'sum')"
            )
        self.model, self.criterion, self.optimizer = model, criterion, optimizer
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        self.metrics = [canonical_name(name) for name in names]
        # a binary loss makes accuracy element-wise: a score above the threshold says 1
        binary = {BCEWithLogitsLoss: 0.0, BCELoss: 0.5}.get(type(criterion))
        ignore_index = getattr(criterion, "ignore_index", None)
        self._metric_functions = {
            name: metric_function(name, binary, ignore_index) for name in self.metrics
        }
        self.history = History()
        self.stop_training = False
        self._distributed, self._allreduce = None, False

    # --- one pass over data -------------------------------------------------------------------

    def _run_epoch(self, batches: Iterable, train: bool, callbacks: list | None = None,
                   over_ranks: bool = False) -> dict:
        """Average loss and metrics over ``batches``: the loss as the batch losses' mean weighted
        by batch size (as Keras; with reduction='sum' that is the mean batch sum), a metric as
        the share of right predictions. With ``train``, an optimizer step per batch and the
        on_batch_* callbacks with the running averages (this rank's). With ``over_ranks`` (a
        distributed fit), the sums and counts are added over the ranks first, so the averages
        are those of one process seeing every rank's samples, and a stop asked for on one rank
        stops every rank at the same batch."""
        self.model.train(train)
        loss_total, seen = 0.0, 0
        right = dict.fromkeys(self.metrics, 0)
        counted = dict.fromkeys(self.metrics, 0)
        device = self._device()
        for index, (x, y) in enumerate(batches):
            x, y = self._on_device(x, device), self._on_device(y, device)
            if callbacks:
                for callback in callbacks:
                    callback.on_batch_begin(index, {"batch": index, "size": len(x)})
            scores = self.model(x)
            loss = float(self.criterion(scores, y))
            if train:
                self.optimizer.zero_grad()
                self._backward(self.criterion.backward())
                if self._allreduce:  # data parallel: every rank steps with the mean gradient
                    self._distributed.allreduce_gradients(self.model)
                self.optimizer.step()
            seen += len(x)
            loss_total += loss * len(x)  # Keras: batch losses weighted by batch size
            for name, function in self._metric_functions.items():
                batch_right, batch_counted = function(scores, y)
                right[name] += batch_right
                counted[name] += batch_counted
            if callbacks:
                logs = self._averages(loss_total, seen, right, counted)
                for callback in callbacks:
                    callback.on_batch_end(index, logs)
                if over_ranks:
                    self.stop_training = self._distributed.any_rank(self.stop_training)
                if self.stop_training:
                    break
        if over_ranks:
            loss_total, seen, right, counted = self._totals_over_ranks(
                loss_total, seen, right, counted
            )
        if seen == 0:
            warnings.warn("Trainer: a pass over the data had no batches (an empty loader?)",
                          stacklevel=3)
        return self._averages(loss_total, seen, right, counted)

    def _totals_over_ranks(self, loss_total: float, seen: int, right: dict, counted: dict):
        """The epoch's sums and counts added over the ranks of a distributed fit."""
        names = list(self.metrics)
        totals = self._distributed.total({
            "loss_total": loss_total, "seen": seen,
            **{f"right {name}": right[name] for name in names},
            **{f"counted {name}": counted[name] for name in names},
        })
        right = {name: totals[f"right {name}"] for name in names}
        counted = {name: totals[f"counted {name}"] for name in names}
        return totals["loss_total"], int(totals["seen"]), right, counted

    def _join_world(self) -> int:
        """The number of ranks of a distributed (MPI) run, 1 otherwise. In a world of several,
        every rank starts from rank 0's parameters and optimizer state, and the gradients are
        averaged over the ranks before each step (unless the optimizer is a
        DistributedOptimizer, which does it itself)."""
        from minicnn import distributed  # imports mpi4py only under an MPI launcher

        distributed.init()
        world = distributed.world_size()
        self._distributed, self._allreduce = distributed, False
        if world > 1:
            distributed.broadcast_parameters(self.model)
            distributed.broadcast_optimizer_state(self.optimizer)
            self._allreduce = not isinstance(self.optimizer, distributed.DistributedOptimizer)
        return world

    def _backward(self, grad_output) -> None:
        """The model's backward for the parameters' gradients: a Sequential skips d loss /
        d input (its first layer computes only its parameters' gradients); a model with its
        own backward gets the plain call."""
        if type(self.model).backward is Sequential.backward:
            self.model.backward(grad_output, input_grad=False)
        else:
            self.model.backward(grad_output)

    def _check_same_steps(self, train, world: int) -> None:
        """Every rank must take as many steps per epoch (each step is a collective), or the
        ranks would wait for each other for ever; the same error is raised on every rank."""
        if (getattr(train, "shard", True) is False and getattr(train, "sampler", None) is None):
            warnings.warn(f"Trainer.fit: a DataLoader without shard=True in a world of {world} "
                          "ranks: every rank trains on every batch", stacklevel=3)
        lengths = self._distributed.gather(len(train) if hasattr(train, "__len__") else None)
        if len(set(lengths)) > 1:
            raise ValueError(
                f"Trainer.fit: the ranks have {lengths} training batches per epoch; every rank "
                "must take the same number of steps (DataLoader(..., shard=True) pads the "
                "shards to equal lengths)"
            )

    def _device(self) -> str | None:
        """The device of the model's parameters (None for a model without any)."""
        param = next(iter(self.model.parameters()), None)
        return None if param is None else device_of(param.data)

    @staticmethod
    def _on_device(array, device: str | None):
        """A batch's array on the model's device (a CPU loader feeding a GPU model)."""
        if device is None or not hasattr(array, "shape"):
            return array
        return to_device(array, device)

    def _averages(self, loss_total: float, seen: int, right: dict, counted: dict) -> dict:
        logs = {"loss": loss_total / seen if seen else math.nan}
        for name in self.metrics:
            logs[name] = right[name] / counted[name] if counted[name] else math.nan
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
        for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Trainer.fit: {name} must be a non-negative int, got {value!r}")
        world = self._join_world()
        train = as_batches(train, 32, shuffle=True, shard=world > 1)
        if world > 1:
            self._check_same_steps(train, world)
        if validation_data is not None:
            validation_data = as_batches(validation_data, 32, shuffle=False)
        if initial_epoch and hasattr(train, "set_epoch"):  # a seeded DataLoader resumes its
            train.set_epoch(initial_epoch)  # order at epoch k; otherwise it advances by itself
        # History after the user's callbacks (it records what they add), as Keras orders them
        callbacks = [*(callbacks or ()), self.history]
        if verbose and (world == 1 or self._distributed.is_primary()):
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
        was_training = self.model.training
        for epoch in range(initial_epoch, epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            # in a distributed fit, the logs are over every rank's samples: the same everywhere,
            # so that the callbacks decide alike on every rank
            logs = self._run_epoch(train, train=True, callbacks=callbacks, over_ranks=world > 1)
            if validation_data is not None:
                validation = self._run_epoch(validation_data, train=False, over_ranks=world > 1)
                logs.update({f"val_{key}": value for key, value in validation.items()})
            logs["lr"] = self.optimizer.param_groups[0]["lr"]
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for callback in callbacks:
            callback.on_train_end(logs)
        self.model.train(was_training)
        return self.history

    def evaluate(self, data, batch_size: int = 32) -> dict:
        """The loss and metrics on ``data``, in eval mode: {'loss': ..., 'accuracy': ...}. In
        a distributed run, over this rank's ``data`` alone (no collective: any rank may call it)."""
        return self._run_epoch(as_batches(data, batch_size, shuffle=False), train=False)

    def predict(self, x, batch_size: int = 32):
        """The model's outputs for the samples of ``x``, in eval mode, batch by batch; each
        batch runs on the model's device and the outputs come back on ``x``'s device."""
        if not hasattr(x, "shape"):
            raise TypeError(
                f"Trainer.predict: expected an array of samples, got {type(x).__name__}"
            )
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(
                f"Trainer.predict: batch_size must be a positive int, got {batch_size}"
            )
        self.model.eval()
        device, home = self._device(), device_of(x)
        starts = range(0, len(x), batch_size)
        outputs = [
            to_device(self.model(self._on_device(x[start : start + batch_size], device)), home)
            for start in starts
        ]
        if not outputs:
            return to_device(self.model(self._on_device(x, device)), home)
        return array_module(x).concatenate(outputs)
