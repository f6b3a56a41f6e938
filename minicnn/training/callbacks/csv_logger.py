"""CSVLogger: stream every epoch's logs to a CSV file (Keras's)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable

import numpy as np

from minicnn.training.callbacks.base import Callback, on_primary


def _cell(value):
    """Strings and scalars as they are; any other iterable as '"[a, b, ...]"', as Keras does."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value
    return f'"[{", ".join(map(str, value))}]"'


class CSVLogger(Callback):
    """Write one row per epoch to ``filename``: an 'epoch' column (0-based), then the first
    epoch's log keys in sorted order; a key missing from a later epoch is written 'NA'.

    The file is opened in ``on_train_begin``: overwritten, or with ``append=True`` added to,
    in which case the header is written only if the file is missing or empty.
    """

    def __init__(
        self, filename: str | os.PathLike, separator: str = ",", append: bool = False
    ) -> None:
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                f"CSVLogger: separator must be a single character, got {separator!r}; pass e.g. "
                f"separator=',' or separator='\\t'"
            )
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.append_header = True
        self.writer = None
        self.csv_file = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Open the file (on rank 0 alone in a distributed run); the columns are chosen at the
        first epoch's end."""
        self._close()
        if not on_primary():
            return
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as file:
                self.append_header = not file.readline()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys = None
        self.writer = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Write the epoch's row (and, first, the header)."""
        if self.csv_file is None:
            return
        logs = logs or {}
        if self.writer is None:
            self.keys = sorted(logs)
            dialect = type("CSVLoggerDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        """Close the file."""
        self._close()

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
