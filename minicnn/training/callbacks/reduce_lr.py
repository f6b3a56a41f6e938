"""ReduceLROnPlateau: lower the learning rate when a monitored quantity has stopped improving."""

from __future__ import annotations

from minicnn.training.callbacks.base import MonitorCallback


class ReduceLROnPlateau(MonitorCallback):
    """Multiply every param group's ``lr`` by ``factor`` after ``patience`` epochs without
    improvement of ``monitor`` (Keras's rules).

    - An improvement on the best value resets ``wait``; any other epoch counts one more.
    - When ``wait`` reaches ``patience``, each group whose ``lr > min_lr`` gets
      ``lr = max(lr * factor, min_lr)``; if any group changed, ``wait`` is reset and the next
      ``cooldown`` epochs are not counted (an improvement still updates ``best`` then).
    - An epoch whose logs lack ``monitor`` warns and changes nothing (no wait, no cooldown tick);
      a NaN never improves, so it counts towards ``patience``.
    ``best``, ``wait`` and the cooldown are reset in ``on_train_begin``.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        if not 0 <= factor < 1:  # NaN fails too
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0 (or < 0): new_lr = lr * "
                f"factor must lower the learning rate. Received factor={factor}; pass a factor "
                f"in [0, 1), e.g. factor=0.1"
            )
        super().__init__(monitor, mode, min_delta)
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.on_train_begin()

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Forget the previous fit: a reused callback starts afresh."""
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self) -> bool:
        """Whether the epochs right after a reduction are still being skipped."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Count the epoch towards ``patience`` and reduce the learning rates when it runs out."""
        current = self.get_monitor_value(logs)
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch: int) -> bool:
        """Lower each group's lr that is above ``min_lr``; return whether any changed."""
        groups = self.optimizer.param_groups
        changed = False
        for number, group in enumerate(groups):
            if group["lr"] > self.min_lr:
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
                changed = True
                if self.verbose > 0:
                    which = f" of param group {number}" if len(groups) > 1 else ""
                    print(
                        f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate{which} "
                        f"to {group['lr']}."
                    )
        return changed
