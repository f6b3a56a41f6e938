"""ModelCheckpoint: save the model (or its weights) every epoch or every N batches (Keras's)."""

from __future__ import annotations

import os

from minicnn.training.callbacks.base import MonitorCallback, on_primary


class ModelCheckpoint(MonitorCallback):
    """Save the model to ``filepath`` with ``minicnn.save`` (``minicnn.save_weights`` when
    ``save_weights_only``), at the end of every epoch or, with an int ``save_freq``, after every
    ``save_freq`` batches (counted across epochs, as Keras does).

    - ``filepath`` is formatted with ``epoch`` (1-based), the logs, and at batch level ``batch``
      (1-based) too: ``"ckpt/{epoch:02d}-{val_loss:.2f}.npz"``. Missing folders are created and
      exactly one file is written, at that path.
    - ``save_best_only``: save only when ``monitor`` improves on ``best``, which starts at
      ``initial_value_threshold`` and is kept across fits. A NaN never improves; logs without
      ``monitor`` warn and save nothing.
    - A full save also holds the optimizer's state and the number of epochs completed (to
      resume with ``fit(initial_epoch=...)``).
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        if save_freq != "epoch" and (
            not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1
        ):
            raise ValueError(
                f"ModelCheckpoint: unrecognized save_freq={save_freq!r}; pass 'epoch' to save "
                f"after every epoch or a positive int to save every that many batches"
            )
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.best: float | None = initial_value_threshold
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Remember the epoch, for batch-level file names."""
        self._current_epoch = epoch

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """With an int ``save_freq``: save once that many batches have passed since the last
        save (a batch index that does not grow starts a new epoch)."""
        if self.save_freq == "epoch":
            return
        if batch <= self._last_batch_seen:
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """With ``save_freq='epoch'``: save (or, with ``save_best_only``, save if best)."""
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _save(self, epoch: int, batch: int | None, logs: dict) -> None:
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath) or not on_primary():
            return  # in a distributed run every rank decides alike; rank 0 alone writes
        if os.path.isdir(filepath):  # serialization would refuse it too, without our name
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {filepath!r} is an existing folder; pass a file "
                f"path such as {os.path.join(filepath, 'model.npz')!r}"
            )
        from minicnn import serialization  # lazily: serialization sits above the callbacks

        if self.save_weights_only:
            serialization.save_weights(self.model, filepath)
        else:
            completed = epoch + 1 if batch is None else epoch
            serialization.save(self.model, filepath, optimizer=self.optimizer, epoch=completed)

    def _should_save(self, epoch: int, logs: dict, filepath: str) -> bool:
        """Always without ``save_best_only``; otherwise only when ``monitor`` improves."""
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = self.get_monitor_value(logs)
        if current is None:
            return False
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self.is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        """``filepath`` formatted with the logs, ``epoch + 1`` and (at batch level, unless the
        logs hold their own 'batch') ``batch + 1``."""
        fields = {"batch": batch + 1} if batch is not None else {}
        fields.update(logs)
        fields["epoch"] = epoch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as error:
            raise KeyError(
                f"ModelCheckpoint: failed to format filepath {self.filepath!r}: the logs have no "
                f"{error}. Available keys are: {', '.join(fields)}; pass a filepath that uses "
                f"only these"
            ) from None
