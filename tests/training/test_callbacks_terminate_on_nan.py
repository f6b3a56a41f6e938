"""TerminateOnNaN: stop after the batch whose loss is NaN or infinite."""

import math

import numpy as np
import pytest
from fake_trainer import FakeTrainer, scripted

from minicnn.training.callbacks import TerminateOnNaN


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_a_nan_or_inf_batch_loss_stops_training(bad, capsys):
    trainer = FakeTrainer()
    seen = []
    batches = [{"loss": 1.0}, {"loss": bad}, {"loss": 1.0}]

    class Spy(TerminateOnNaN):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)
            super().on_batch_end(batch, logs)

    ran = trainer.fit([Spy()], scripted([1.0, 1.0]), batch_logs=batches)
    assert ran == [0] and seen == [0, 1] and trainer.stop_training
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"


def test_finite_or_absent_losses_do_nothing():
    trainer = FakeTrainer()
    batches = [{"loss": 1e30}, {"accuracy": 0.5}, {}]
    assert trainer.fit([TerminateOnNaN()], scripted([1.0, 1.0]), batch_logs=batches) == [0, 1]


def test_raise_error_raises_at_once():
    trainer = FakeTrainer()
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        trainer.fit([TerminateOnNaN(raise_error=True)], scripted([1.0]),
                    batch_logs=[{"loss": math.nan}])
