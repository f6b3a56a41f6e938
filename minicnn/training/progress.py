"""A Keras-style progress bar: a live bar per epoch on a terminal, one line per epoch elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from minicnn.training.callbacks import Callback

BAR_WIDTH = 30


def format_logs(logs: dict) -> str:
    """' - loss: 0.1234 - accuracy: 0.9876' (lr in short scientific form)."""
    parts = []
    for key, value in logs.items():
        if isinstance(value, float):
            value = f"{value:.3g}" if key == "lr" else f"{value:.4f}"
        parts.append(f"{key}: {value}")
    return "".join(f" - {part}" for part in parts)


class ProgressBar(Callback):
    """Prints training progress. verbose=1: on a terminal, a bar redrawn in place (at most 10
    times a second) with the running loss and metrics, then the epoch's line; off a terminal
    (a pipe, a file, a notebook log), only the epoch's line. verbose=2: the epoch's line."""

    def __init__(self, verbose: int = 1, stream: TextIO | None = None) -> None:
        super().__init__()
        self.verbose = verbose
        self.stream = stream

    def on_train_begin(self, logs=None) -> None:
        self._out = self.stream or sys.stdout
        self._live = self.verbose == 1 and getattr(self._out, "isatty", lambda: False)()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._title = f"Epoch {epoch + 1}/{self.params['epochs']}"
        self._start = self._drawn = time.perf_counter()

    def on_batch_end(self, batch: int, logs=None) -> None:
        now = time.perf_counter()
        if not self._live or now - self._drawn < 0.1:
            return
        self._drawn = now
        steps = self.params.get("steps")
        if steps:
            done = int(BAR_WIDTH * (batch + 1) / steps)
            bar = f" {batch + 1}/{steps} [" + "=" * done + "." * (BAR_WIDTH - done) + "]"
        else:
            bar = f" {batch + 1}"
        self._out.write(f"\r{self._title}{bar} {now - self._start:.0f}s{format_logs(logs or {})}")
        self._out.flush()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        elapsed = time.perf_counter() - self._start
        clear = "\r\033[K" if self._live else ""
        self._out.write(f"{clear}{self._title} - {elapsed:.1f}s{format_logs(logs or {})}\n")
        self._out.flush()
