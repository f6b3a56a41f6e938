"""EarlyStopping: Keras's stop epoch, baseline, start_from_epoch and restore_best_weights, with
minicnn's rule that a NaN never counts as an improvement."""

import math

import pytest
from fake_trainer import MISSING, FakeTrainer, scripted

from minicnn.training.callbacks import EarlyStopping

NAN = math.nan


def run(values, key="val_loss", **kwargs):
    trainer = FakeTrainer()
    callback = EarlyStopping(monitor=key, **kwargs)
    ran = trainer.fit([callback], scripted(values, key))
    return ran, callback, trainer


def test_stops_after_patience_epochs_without_improvement():
    ran, callback, _ = run([1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.4], patience=3)
    assert ran == [0, 1, 2, 3, 4]
    assert callback.stopped_epoch == 4
    assert callback.best == 0.9 and callback.best_epoch == 1


def test_patience_zero_stops_at_the_first_worse_epoch_but_never_at_epoch_0():
    assert run([1.0, 2.0, 0.5])[0] == [0, 1]
    assert run([NAN, 1.0, 0.5], patience=0)[0] == [0, 1, 2]


def test_runs_all_epochs_while_improving():
    ran, callback, _ = run([5.0, 4.0, 3.0, 2.0], patience=1)
    assert ran == [0, 1, 2, 3] and callback.stopped_epoch == 0


@pytest.mark.parametrize("min_delta", [0.1, -0.1])
def test_min_delta_is_absolute_and_smaller_gains_do_not_count(min_delta):
    ran, callback, _ = run([1.0, 0.95, 0.85], patience=1, min_delta=min_delta)
    assert ran == [0, 1] and callback.best == 1.0
    assert run([1.0, 0.85, 0.7], patience=1, min_delta=min_delta)[0] == [0, 1, 2]


def test_max_mode_and_auto_mode_for_accuracy():
    values = [0.5, 0.6, 0.55, 0.58]
    assert run(values, key="val_accuracy", patience=1)[0] == [0, 1, 2]
    assert run(values, key="val_accuracy", patience=1, mode="max")[0] == [0, 1, 2]
    # 'min' on an accuracy: 0.6 is worse than 0.5
    assert run(values, key="val_accuracy", patience=1, mode="min")[0] == [0, 1]


def test_baseline_not_beaten_stops_after_patience_epochs_and_restores_the_best_of_them():
    # Keras: improving on the best so far does not reset wait unless it also beats the baseline.
    ran, callback, trainer = run(
        [0.5, 0.4, 0.45, 0.3], key="val_accuracy", patience=2, baseline=0.6,
        restore_best_weights=True,
    )
    assert ran == [0, 1]
    assert callback.best == 0.5 and trainer.weights_epoch() == 0


def test_baseline_beaten_resets_wait():
    ran, _, _ = run([0.5, 0.7, 0.65, 0.66, 0.9], key="val_accuracy", patience=2, baseline=0.6)
    assert ran == [0, 1, 2, 3]


def test_start_from_epoch_ignores_the_warm_up_epochs():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert run(values, patience=1)[0] == [0, 1]
    ran, callback, _ = run(values, patience=1, start_from_epoch=2)
    assert ran == [0, 1, 2, 3] and callback.best == 3.0


def test_restore_best_weights_after_an_early_stop():
    ran, callback, trainer = run([1.0, 0.5, 0.7, 0.8], patience=2, restore_best_weights=True)
    assert ran == [0, 1, 2, 3]
    assert callback.best_epoch == 1 and trainer.weights_epoch() == 1


def test_restore_best_weights_without_an_early_stop():
    ran, _, trainer = run([1.0, 0.5, 0.7], patience=10, restore_best_weights=True)
    assert ran == [0, 1, 2] and trainer.weights_epoch() == 1


def test_best_weights_are_a_copy_equal_to_the_best_state_dict():
    trainer = FakeTrainer()
    callback = EarlyStopping(patience=5, restore_best_weights=True)
    trainer.fit([callback], scripted([1.0, 0.5, 0.7]))
    trainer.mark_weights(1)
    expected = trainer.model.state_dict()
    trainer.mark_weights(7)  # changing the model must not change the kept copy
    callback.on_train_end()
    for key, value in trainer.model.state_dict().items():
        assert (value == expected[key]).all()


def test_without_restore_the_last_weights_stay():
    _, _, trainer = run([1.0, 0.5, 0.7, 0.8], patience=2)
    assert trainer.weights_epoch() == 3


def test_a_first_nan_is_not_the_best_epoch():
    ran, callback, trainer = run([NAN, 1.0, 2.0, 3.0], patience=2, restore_best_weights=True)
    assert ran == [0, 1, 2, 3]
    assert callback.best == 1.0 and trainer.weights_epoch() == 1


def test_only_nans_restore_nothing_and_count_as_no_improvement():
    ran, callback, trainer = run([NAN, NAN, NAN], patience=1, restore_best_weights=True)
    assert ran == [0, 1]
    assert callback.best is None and callback.best_weights is None
    assert trainer.weights_epoch() == 1


def test_nan_after_a_value_counts_towards_patience():
    ran, _, trainer = run([1.0, NAN, NAN, 0.1], patience=2, restore_best_weights=True)
    assert ran == [0, 1, 2] and trainer.weights_epoch() == 0


def test_a_missing_key_warns_and_does_not_count():
    trainer = FakeTrainer()
    callback = EarlyStopping(patience=1)
    with pytest.warns(UserWarning, match=r"`val_loss` which is not available.*loss"):
        ran = trainer.fit([callback], scripted([1.0, MISSING, MISSING, MISSING, 2.0]))
    assert ran == [0, 1, 2, 3, 4] and callback.wait == 1


def test_state_is_reset_on_train_begin():
    trainer = FakeTrainer()
    callback = EarlyStopping(patience=1, restore_best_weights=True)
    assert trainer.fit([callback], scripted([0.1, 0.2, 0.3])) == [0, 1]
    # a second fit forgets best=0.1: 0.5 is its first value, hence its best
    assert trainer.fit([callback], scripted([0.5, 0.4, 0.6, 0.7])) == [0, 1, 2]
    assert callback.best == 0.4 and trainer.weights_epoch() == 1


def test_initial_epoch_numbers_the_epochs():
    trainer = FakeTrainer()
    callback = EarlyStopping(patience=1, start_from_epoch=6)
    ran = trainer.fit([callback], scripted([1.0, 2.0, 3.0, 4.0]), initial_epoch=5)
    assert ran == [5, 6, 7] and callback.stopped_epoch == 7


def test_verbose_messages(capsys):
    run([1.0, 0.5, 0.7, 0.8], patience=2, restore_best_weights=True, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out
    run([1.0, 0.5, 0.7, 0.8], patience=2)
    assert capsys.readouterr().out == ""


def test_auto_mode_cannot_place_an_unknown_name():
    with pytest.raises(ValueError, match=r"EarlyStopping.*monitor='val_f1'.*mode='max'"):
        EarlyStopping(monitor="val_f1")
    assert EarlyStopping(monitor="val_f1", mode="max").mode == "max"


def test_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match="EarlyStopping mode 'maximum' is unknown"):
        callback = EarlyStopping(monitor="val_accuracy", mode="maximum")
    assert callback.mode == "auto"
    with pytest.warns(UserWarning, match="unknown"):
        ran = run([0.5, 0.6, 0.55], key="val_accuracy", mode="maximum", patience=1)[0]
    assert ran == [0, 1, 2]
