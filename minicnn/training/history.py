"""History: every epoch's logs, kept as Keras keeps them (``history.history['val_loss']``)."""

from __future__ import annotations

from minicnn.training.callbacks.base import Callback


class History(Callback):
    """Record each epoch's logs: ``history[key]`` lists ``key``'s values from the epochs whose
    logs had it, and ``epoch`` the epoch numbers (0-based). The Trainer keeps one History and
    hands it to every ``fit``, so that a second ``fit`` adds to the first one's record
    (unlike Keras, ``epoch`` keeps accumulating too, so that it stays aligned with ``history``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Append the epoch number and each logged value."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
