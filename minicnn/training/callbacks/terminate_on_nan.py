"""TerminateOnNaN: stop training as soon as a batch's loss is NaN or infinite (Keras's)."""

from __future__ import annotations

import math

from minicnn.training.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stop ``fit`` after the batch whose logged ``loss`` is NaN or +-inf.

    By default training stops gracefully (``trainer.stop_training = True``, so every callback's
    ``on_train_end`` still runs); ``raise_error=True`` raises a RuntimeError at once instead.
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Check the batch's loss."""
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                f"Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.trainer.stop_training = True
