"""LambdaCallback: each function runs at its hook with the hook's arguments."""

import pytest
from fake_trainer import FakeTrainer

from minicnn.training.callbacks import LambdaCallback


def test_each_hook_calls_its_function():
    calls = []
    callback = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_train_end=lambda logs: calls.append(("train_end", logs["loss"])),
        on_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs["loss"])),
    )
    FakeTrainer().fit([callback], [{"loss": 1.0}], batch_logs=[{"loss": 2.0}])
    assert calls == [
        ("train_begin",), ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0, 2.0),
        ("epoch_end", 0, 1.0), ("train_end", 1.0),
    ]


def test_hooks_left_out_do_nothing_and_a_function_can_stop_training():
    def stop(epoch, logs):
        callback.trainer.stop_training = epoch == 1

    callback = LambdaCallback(on_epoch_end=stop)
    assert FakeTrainer().fit([callback], [{}] * 4, batch_logs=[{}]) == [0, 1]


def test_keras_names_for_the_batch_hooks():
    seen = []
    callback = LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(("begin", batch)),
        on_train_batch_end=lambda batch, logs: seen.append(("end", batch)),
    )
    FakeTrainer().fit([callback], [{}], batch_logs=[{}, {}])
    assert seen == [("begin", 0), ("end", 0), ("begin", 1), ("end", 1)]


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"unexpected argument 'on_predict_end'.*on_epoch_begin"):
        LambdaCallback(on_predict_end=print)
    with pytest.raises(TypeError, match="both on_batch_end and its Keras alias"):
        LambdaCallback(on_batch_end=print, on_train_batch_end=print)
    with pytest.raises(TypeError, match="on_epoch_end must be a function, got int"):
        LambdaCallback(on_epoch_end=3)
