"""Trainer: fit equals the loop written out, Keras's callback protocol and logs, train/eval
modes, stop_training, evaluate and predict, and resuming from a checkpoint."""

from __future__ import annotations

import io

import numpy as np
import pytest

import minicnn as mc
from minicnn import nn, optim
from minicnn.data import DataLoader, TensorDataset
from minicnn.training.callbacks import Callback
from minicnn.training.progress import ProgressBar


def blobs(count: int = 96, seed: int = 0):
    """Three separable classes of 2-D points, as float32."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    centres = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    return (centres[labels] + rng.standard_normal((count, 2))).astype(np.float32), labels


def small_model(dropout: float = 0.0) -> nn.Sequential:
    mc.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def make_trainer(model=None, **optimizer_options):
    model = model or small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1, **optimizer_options)
    return mc.Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=["accuracy"])


class Recorder(Callback):
    """Records every hook call, and the logs dicts it was given."""

    def __init__(self):
        super().__init__()
        self.calls, self.logs = [], []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):
        self.calls.append(f"batch_end {batch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        self.logs.append(logs)

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_fit_is_the_training_loop_written_out():
    x, y = blobs()
    trainer = make_trainer(momentum=0.9)
    trainer.fit(DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=1), epochs=3, verbose=0)

    model = small_model()  # the same initial weights
    optimizer, loss_fn = optim.SGD(model.parameters(), lr=0.1, momentum=0.9), nn.CrossEntropyLoss()
    for epoch in range(3):
        order = np.random.default_rng((1, epoch)).permutation(len(x))
        for start in range(0, len(x), 16):
            batch = order[start : start + 16]
            loss_fn(model(x[batch]), y[batch])
            optimizer.zero_grad()
            model.backward(loss_fn.backward())
            optimizer.step()
    for (name, ours), (_, expected) in zip(trainer.model.state_dict().items(),
                                           model.state_dict().items(), strict=True):
        np.testing.assert_array_equal(ours, expected, err_msg=name)


def test_history_and_logs_use_keras_names_and_averages():
    x, y = blobs()
    trainer = make_trainer()
    trainer.metrics  # noqa: B018 - the attribute exists for callbacks
    history = trainer.fit((x, y), epochs=4, validation_data=(x[:40], y[:40]), verbose=0)
    assert history is trainer.history
    assert sorted(history.history) == ["accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    assert all(len(values) == 4 for values in history.history.values())
    assert history.history["lr"] == [0.1] * 4
    assert history.history["loss"][-1] < history.history["loss"][0]
    evaluation = trainer.evaluate((x[:40], y[:40]))
    assert evaluation["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-6)
    expected = (trainer.predict(x[:40]).argmax(axis=1) == y[:40]).mean()
    assert evaluation["accuracy"] == pytest.approx(expected)


def test_callbacks_see_keras_protocol_and_share_one_logs_dict():
    x, y = blobs(32)

    class AddsAKey(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = epoch

    recorder = Recorder()
    trainer = make_trainer()
    trainer.fit(DataLoader(TensorDataset(x, y), 16), epochs=2, callbacks=[AddsAKey(), recorder],
                initial_epoch=0, verbose=0)
    assert recorder.calls == [
        "train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1", "epoch_end 0",
        "epoch_begin 1", "batch_end 0", "batch_end 1", "epoch_end 1", "train_end",
    ]
    assert [logs["extra"] for logs in recorder.logs] == [0, 1]  # the earlier callback's change
    assert trainer.history.history["extra"] == [0, 1]  # History runs after the user's callbacks
    assert recorder.trainer is trainer and recorder.model is trainer.model
    assert recorder.params == {"epochs": 2, "steps": 2, "verbose": 0}


@pytest.mark.parametrize("hook", ["on_batch_end", "on_epoch_end"])
def test_stop_training_ends_after_the_batch_or_epoch(hook):
    x, y = blobs(64)

    class Stopper(Recorder):
        pass

    def stop(self, index, logs=None):
        getattr(Recorder, hook)(self, index, logs)
        self.trainer.stop_training = True

    setattr(Stopper, hook, stop)
    stopper = Stopper()
    make_trainer().fit(DataLoader(TensorDataset(x, y), 16), epochs=5, callbacks=[stopper],
                       verbose=0)
    ends = [call for call in stopper.calls if "end" in call]
    expected = ["batch_end 0", "epoch_end 0", "train_end"] if hook == "on_batch_end" else [
        "batch_end 0", "batch_end 1", "batch_end 2", "batch_end 3", "epoch_end 0", "train_end"]
    assert ends == expected


def test_training_runs_in_train_mode_and_validation_in_eval_mode():
    x, y = blobs(32)

    class ModeProbe(nn.Module):
        def __init__(self):
            super().__init__()
            self.seen = []

        def forward(self, x):
            self.seen.append(self.training)
            self._save_for_backward((), x)
            return x

        def backward(self, grad):
            return grad

    probe = ModeProbe()
    model = small_model(dropout=0.5)
    model.append(probe)
    trainer = make_trainer(model)
    trainer.fit((x, y), epochs=1, validation_data=(x, y), verbose=0)
    assert probe.seen == [True] + [False]  # one training batch of 32, then validation
    probe.seen.clear()
    trainer.predict(x)
    trainer.evaluate((x, y))
    assert probe.seen == [False, False]


def test_resuming_at_an_epoch_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    """With Dropout: the checkpoint carries minicnn's generator, so the masks continue too."""
    x, y = blobs()
    loader = DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=3)
    straight = make_trainer(small_model(dropout=0.3), momentum=0.9)
    straight.fit(loader, epochs=4, verbose=0)

    first = make_trainer(small_model(dropout=0.3), momentum=0.9)
    first.fit(DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=3), epochs=2, verbose=0)
    path = tmp_path / "checkpoint.npz"
    mc.save(first.model, path, optimizer=first.optimizer, epoch=2)
    mc.manual_seed(12345)  # whatever happens in between

    checkpoint = mc.load_checkpoint(path)
    mc.random.set_state(checkpoint["rng_state"])
    model = checkpoint["model"]
    resumed = mc.Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1,
                                                                 momentum=0.9))
    resumed.optimizer.load_state_dict(checkpoint["optimizer"])
    resumed.fit(DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=3), epochs=4,
                initial_epoch=checkpoint["epoch"], verbose=0)
    for (name, ours), (_, expected) in zip(model.state_dict().items(),
                                           straight.model.state_dict().items(), strict=True):
        np.testing.assert_array_equal(ours, expected, err_msg=name)


def test_progress_bar_prints_one_line_per_epoch_off_a_terminal():
    x, y = blobs(32)
    stream = io.StringIO()
    make_trainer().fit((x, y), epochs=2, callbacks=[ProgressBar(1, stream)], verbose=0)
    lines = stream.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]
    assert " - loss: " in lines[0] and " - accuracy: " in lines[0] and "\r" not in lines[0]


def test_progress_bar_draws_in_place_on_a_terminal(monkeypatch):
    x, y = blobs(64)
    stream = io.StringIO()
    stream.isatty = lambda: True
    clock = iter(np.arange(0, 100, 0.5))  # every batch is 0.5 s after the last
    monkeypatch.setattr("minicnn.training.progress.time.perf_counter", lambda: next(clock))
    make_trainer().fit(DataLoader(TensorDataset(x, y), 16), epochs=1,
                       callbacks=[ProgressBar(1, stream)], verbose=0)
    text = stream.getvalue()
    assert "\rEpoch 1/1 2/4 [" in text and text.endswith("\n") and "\033[K" in text


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda t: t.fit(42), TypeError, r"expected a DataLoader, a list of \(x, y\) batches"),
        (lambda t: t.predict([1, 2]), TypeError, r"predict: expected an array of samples"),
        (lambda t: t.predict(np.zeros((2, 2), np.float32), batch_size=0), ValueError,
         r"batch_size must be a positive int"),
        (lambda t: mc.Trainer(t.model, t.criterion, t.optimizer, metrics=["f1"]), ValueError,
         r"unknown metric 'f1'; the metrics are 'accuracy' and 'top_<k>_accuracy'"),
        (lambda t: mc.Trainer(t.model, t.criterion, "adam"), TypeError,
         r"optimizer must be a minicnn Optimizer, got str"),
        (lambda t: mc.Trainer(t.model, "mse", t.optimizer), TypeError,
         r"criterion must be a minicnn loss \(e.g. nn.CrossEntropyLoss\(\)\), got str"),
        (lambda t: mc.Trainer(t.model, nn.CrossEntropyLoss(reduction="none"), t.optimizer),
         ValueError, r"reduction='none'; training needs a scalar loss"),
        (lambda t: t.fit(iter([(np.zeros((2, 2), np.float32), np.zeros(2, np.int64))])),
         TypeError, r"got an iterator \(list_iterator\), which is used up after one epoch"),
        (lambda t: t.fit(blobs(8), epochs=2.5), ValueError, r"epochs must be a non-negative int"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(make_trainer())


def test_repeated_fits_on_a_seeded_loader_see_new_orders_and_keep_the_mode():
    x, y = blobs(16)
    loader = DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=1)
    orders = []
    trainer = make_trainer()
    for _ in range(3):
        trainer.fit(loader, epochs=1, verbose=0)
        orders.append(loader.epoch)
    assert orders == [1, 2, 3]  # the loader advanced: epoch 1 and 2 get their own orders
    trainer.model.eval()
    trainer.fit(loader, epochs=1, verbose=0)
    assert not trainer.model.training  # fit restores the mode it found


def test_an_empty_loader_warns():
    trainer = make_trainer()
    with pytest.warns(UserWarning, match=r"had no batches"):
        trainer.fit([], epochs=1, verbose=0)


def test_binary_and_ignored_targets_in_the_logs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 2)).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 3))
    multi_label = (rng.random((32, 3)) > 0.5).astype(np.float32)
    trainer = mc.Trainer(model, nn.BCEWithLogitsLoss(), optim.SGD(model.parameters(), lr=0.1),
                         metrics=["accuracy"])
    logs = trainer.evaluate((x, multi_label))
    expected = ((trainer.predict(x) > 0) == (multi_label > 0.5)).mean()
    assert logs["accuracy"] == pytest.approx(expected)
    labels = rng.integers(0, 3, 32)
    labels[:8] = -100
    trainer = mc.Trainer(model, nn.CrossEntropyLoss(), trainer.optimizer,
                         metrics=["accuracy", "top_2_accuracy"])
    logs = trainer.evaluate((x, labels))
    kept = labels != -100
    assert logs["accuracy"] == pytest.approx(
        (trainer.predict(x).argmax(1)[kept] == labels[kept]).mean())
