"""History and the Callback base: what every callback reaches, and what fit records."""

import math

import pytest
from fake_trainer import FakeTrainer

from minicnn.training.callbacks import Callback, History, MonitorCallback
from minicnn.training.history import History as HistoryItself


def test_history_is_re_exported_from_the_callbacks():
    assert History is HistoryItself and issubclass(History, Callback)


def test_history_lists_each_key_from_the_epochs_that_had_it():
    history = History()
    FakeTrainer().fit([history], [{"loss": 1.0}, {"loss": 0.5, "val_loss": 0.75}])
    assert history.history == {"loss": [1.0, 0.5], "val_loss": [0.75]}
    assert history.epoch == [0, 1]


def test_a_reused_history_keeps_accumulating():
    history, trainer = History(), FakeTrainer()
    trainer.fit([history], [{"loss": 1.0}, {"loss": 0.5}])
    trainer.fit([history], [{"loss": 0.25}], initial_epoch=2)
    assert history.history == {"loss": [1.0, 0.5, 0.25]} and history.epoch == [0, 1, 2]


def test_history_keeps_nan_values():
    history = History()
    FakeTrainer().fit([history], [{"loss": math.nan}])
    assert math.isnan(history.history["loss"][0])


def test_callback_reaches_the_trainer_its_model_and_optimizer():
    trainer, callback = FakeTrainer(), Callback()
    trainer.fit([callback], [{"loss": 1.0}], batch_logs=[{}])  # every hook is a no-op
    assert callback.trainer is trainer
    assert callback.model is trainer.model and callback.optimizer is trainer.optimizer
    assert callback.params == {"epochs": 1, "steps": None, "verbose": 0}


def test_an_unattached_callback_says_how_to_attach_it():
    with pytest.raises(RuntimeError, match=r"Callback is not attached.*callbacks=\[...\]"):
        _ = Callback().model


@pytest.mark.parametrize(
    ("monitor", "op"),
    [("loss", "min"), ("val_loss", "min"), ("focal_loss", "min"), ("accuracy", "max"),
     ("val_accuracy", "max"), ("acc", "max"), ("val_acc", "max"), ("top_5_accuracy", "max"),
     ("val_top_3_accuracy", "max"), ("top_k_accuracy", "max")],
)
def test_auto_mode_places_losses_and_the_trainers_accuracies(monitor, op):
    callback = MonitorCallback(monitor, "auto")
    assert callback.is_improvement(2.0, 1.0) is (op == "max")
    assert callback.is_improvement(0.5, 1.0) is (op == "min")


@pytest.mark.parametrize("monitor", ["lr", "val_f1", "accuracy_top", "val_", "val_losses"])
def test_auto_mode_refuses_other_names(monitor):
    with pytest.raises(ValueError, match="Pass mode='min'.*or mode='max'"):
        MonitorCallback(monitor, "auto")


def test_a_monitor_that_is_not_a_name_is_refused():
    with pytest.raises(TypeError, match="monitor must be the name"):
        MonitorCallback(["val_loss"], "min")


def test_is_improvement_rules():
    low = MonitorCallback("val_loss", "min", min_delta=-0.1)
    assert low.min_delta == 0.1
    assert low.is_improvement(5.0, None) and low.is_improvement(math.inf, None)
    assert not low.is_improvement(math.nan, None) and not low.is_improvement(math.nan, 1.0)
    assert low.is_improvement(0.85, 1.0) and not low.is_improvement(0.95, 1.0)
    high = MonitorCallback("val_accuracy", "auto", min_delta=0.1)
    assert high.is_improvement(1.15, 1.0) and not high.is_improvement(1.05, 1.0)


def test_get_monitor_value_reads_a_float_or_warns_with_the_keys():
    callback = MonitorCallback("val_loss", "min")
    assert callback.get_monitor_value({"val_loss": 1}) == 1.0
    with pytest.warns(UserWarning, match="Available metrics are: loss,accuracy"):
        assert callback.get_monitor_value({"loss": 1.0, "accuracy": 0.5}) is None
    with pytest.warns(UserWarning, match="Available metrics are: \\."):
        assert callback.get_monitor_value(None) is None
