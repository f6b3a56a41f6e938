"""EarlyStopping: stop training when a monitored quantity has stopped improving (Keras's)."""

from __future__ import annotations

from minicnn.training.callbacks.base import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stop ``fit`` after ``patience`` epochs in a row without improvement of ``monitor``.

    Keras's rules, epoch by epoch (``epoch`` 0-based):
    - epochs before ``start_from_epoch``, and epochs whose logs lack ``monitor`` (a warning),
      are ignored;
    - otherwise ``wait`` grows by one; an improvement on the best value so far makes it the new
      best and resets ``wait``, but only if it also improves on ``baseline`` when one is given;
    - an epoch without improvement stops training once ``wait >= patience`` (never at epoch 0);
    - ``restore_best_weights=True`` keeps a copy of the weights of the best epoch and loads it
      in ``on_train_end``, whether or not training stopped early.
    A NaN never improves, so its weights are never kept (Keras 3.15 would keep a first NaN).
    ``best``, ``wait`` and the kept weights are reset in ``on_train_begin``.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.on_train_begin()

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Forget the previous fit: a reused callback starts afresh."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Count the epoch towards ``patience`` and stop training when it runs out."""
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        """Report the stop and load the best epoch's weights when asked to."""
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.load_state_dict(self.best_weights)
