"""A stand-in for minicnn.Trainer that drives callbacks through Keras's protocol with scripted
logs, so that each callback's decisions can be checked epoch by epoch."""

from __future__ import annotations

import numpy as np

import minicnn as mc
from minicnn import nn, optim

MISSING = object()  # an epoch whose logs lack the monitored key


class FakeTrainer:
    """``model`` (Linear(3, 2)), ``optimizer`` (SGD with two param groups, lr 1.0 and 0.5) and
    ``stop_training``, as the real Trainer exposes them."""

    def __init__(self) -> None:
        mc.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(3, 2))
        self.optimizer = optim.SGD(
            [{"params": [self.model[0].weight]}, {"params": [self.model[0].bias], "lr": 0.5}],
            lr=1.0,
        )
        self.stop_training = False
        self.lrs: list[list[float]] = []  # every group's lr after each epoch

    def mark_weights(self, epoch: int) -> None:
        """Give every parameter the value ``epoch``, so that restored weights tell their epoch."""
        for param in self.model.parameters():
            param.data[...] = epoch

    def weights_epoch(self) -> float:
        """The epoch whose mark the weights carry."""
        values = np.concatenate([p.data.ravel() for p in self.model.parameters()])
        assert np.all(values == values[0])
        return float(values[0])

    def fit(
        self, callbacks, epoch_logs, initial_epoch: int = 0, batch_logs=()
    ) -> list[int]:
        """Run Keras's protocol with ``epoch_logs[i]`` as epoch i's logs (a dict) and
        ``batch_logs`` as every epoch's batch logs; return the epochs that ran."""
        callbacks = list(callbacks)
        for callback in callbacks:
            callback.set_trainer(self)
            callback.set_params({"epochs": initial_epoch + len(epoch_logs), "steps": None,
                                 "verbose": 0})
        self.stop_training = False
        for callback in callbacks:
            callback.on_train_begin()
        ran, logs = [], {}
        for epoch, logs in enumerate(epoch_logs, start=initial_epoch):
            ran.append(epoch)
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            self.mark_weights(epoch)
            for batch, blogs in enumerate(batch_logs):
                for callback in callbacks:
                    callback.on_batch_begin(batch, {"batch": batch, "size": 4})
                for callback in callbacks:
                    callback.on_batch_end(batch, dict(blogs))
                if self.stop_training:
                    break
            logs = dict(logs)
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            self.lrs.append([group["lr"] for group in self.optimizer.param_groups])
            if self.stop_training:
                break
        for callback in callbacks:
            callback.on_train_end(logs)
        return ran


def scripted(values, key: str = "val_loss") -> list[dict]:
    """Epoch logs holding ``key`` with each value (with 'loss' too); MISSING leaves it out."""
    return [{"loss": 1.0} if v is MISSING else {"loss": 1.0, key: v} for v in values]
