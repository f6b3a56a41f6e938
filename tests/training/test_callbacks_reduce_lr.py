"""ReduceLROnPlateau: Keras's patience and cooldown counting, min_lr, and every param group."""

import math

import pytest
from fake_trainer import MISSING, FakeTrainer, scripted

from minicnn.training.callbacks import ReduceLROnPlateau

NAN = math.nan


def run(values, key="val_loss", **kwargs):
    """Every group's lr after each epoch (the groups start at 1.0 and 0.5)."""
    trainer = FakeTrainer()
    callback = ReduceLROnPlateau(monitor=key, **kwargs)
    trainer.fit([callback], scripted(values, key))
    return trainer.lrs, callback


def reductions(lrs):
    """The epochs after which group 0's lr went down."""
    before = [1.0] + [lr[0] for lr in lrs[:-1]]
    return [epoch for epoch, (old, new) in enumerate(zip(before, lrs, strict=True)) if new[0] < old]


def test_reduces_every_param_group_after_patience_epochs():
    lrs, _ = run([1.0] * 5, patience=2, factor=0.5)
    assert lrs == [[1.0, 0.5], [1.0, 0.5], [0.5, 0.25], [0.5, 0.25], [0.25, 0.125]]


def test_an_improvement_resets_wait():
    lrs, callback = run([1.0, 1.0, 0.5, 0.5, 0.5], patience=2, factor=0.5)
    assert reductions(lrs) == [4] and callback.best == 0.5


def test_min_lr_bounds_each_group_and_stops_reductions_there():
    lrs, _ = run([1.0] * 5, patience=1, factor=0.5, min_lr=0.3)
    assert lrs == [[1.0, 0.5], [0.5, 0.3], [0.3, 0.3], [0.3, 0.3], [0.3, 0.3]]


def test_cooldown_skips_epochs_after_a_reduction_as_keras_counts_them():
    # Keras decrements the cooldown before looking at the epoch: cooldown=2 leaves one
    # epoch uncounted after each reduction.
    assert reductions(run([1.0] * 8, patience=1, cooldown=2)[0]) == [1, 3, 5, 7]
    assert reductions(run([1.0] * 8, patience=1, cooldown=3)[0]) == [1, 4, 7]
    assert reductions(run([1.0] * 5, patience=1)[0]) == [1, 2, 3, 4]


def test_an_improvement_during_cooldown_updates_best():
    _, callback = run([1.0, 1.0, 0.2, 0.5], patience=1, cooldown=5)
    assert callback.best == 0.2


def test_default_min_delta_ignores_tiny_gains():
    assert reductions(run([1.0, 0.99995, 0.9998], patience=1)[0]) == [1]
    assert reductions(run([1.0, 0.9, 0.8], patience=1, min_delta=-0.05)[0]) == []
    assert reductions(run([1.0, 0.97, 0.8], patience=1, min_delta=-0.05)[0]) == [1]


def test_lrs_after_a_reduction_with_the_default_factor():
    lrs, _ = run([1.0, 2.0, 3.0], patience=1)
    assert lrs[1] == pytest.approx([0.1, 0.05]) and lrs[2] == pytest.approx([0.01, 0.005])


def test_max_mode_for_accuracy_in_auto_mode():
    assert reductions(run([0.5, 0.6, 0.7], key="val_accuracy", patience=1)[0]) == []
    assert reductions(run([0.5, 0.4, 0.3], key="top_5_accuracy", patience=1)[0]) == [1, 2]
    assert reductions(run([0.5, 0.6, 0.7], key="val_accuracy", patience=1, mode="min")[0]) == [
        1, 2
    ]


def test_nan_counts_towards_patience_and_is_never_best():
    lrs, callback = run([NAN, 5.0, 6.0], patience=1)
    assert reductions(lrs) == [0, 2] and callback.best == 5.0
    assert reductions(run([1.0, NAN], patience=1)[0]) == [1]


def test_a_missing_key_warns_and_neither_waits_nor_ticks_the_cooldown():
    with pytest.warns(UserWarning, match=r"ReduceLROnPlateau.*`val_loss`.*loss"):
        lrs, callback = run([1.0, 1.0, MISSING, 1.0, MISSING], patience=1, cooldown=1)
    assert reductions(lrs) == [1, 3]
    with pytest.warns(UserWarning):
        assert reductions(run([1.0, MISSING, MISSING, 1.0], patience=2)[0]) == []


def test_state_is_reset_on_train_begin():
    trainer = FakeTrainer()
    callback = ReduceLROnPlateau(patience=2, factor=0.5)
    trainer.fit([callback], scripted([0.1, 0.2]))
    assert callback.wait == 1
    trainer.fit([callback], scripted([0.5, 0.6]))  # 0.5 is the new fit's first, best value
    assert trainer.lrs[-1] == [1.0, 0.5] and callback.best == 0.5 and callback.wait == 1


@pytest.mark.parametrize("factor", [1.0, 2.0, -0.5, NAN])
def test_a_factor_that_does_not_lower_the_lr_is_refused(factor):
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.*factor.*factor=0\.1"):
        ReduceLROnPlateau(factor=factor)


def test_auto_mode_cannot_place_an_unknown_name():
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.*monitor='lr'.*mode='min'"):
        ReduceLROnPlateau(monitor="lr")


def test_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match="ReduceLROnPlateau mode 'lowest' is unknown"):
        assert ReduceLROnPlateau(mode="lowest").mode == "auto"


def test_verbose_messages(capsys):
    trainer = FakeTrainer()
    trainer.optimizer.param_groups.pop()
    trainer.fit([ReduceLROnPlateau(patience=1, factor=0.5, verbose=1)], scripted([1.0, 1.0]))
    out = capsys.readouterr().out
    assert out == "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.5.\n"
    run([1.0, 1.0], patience=1, factor=0.5, verbose=1)
    out = capsys.readouterr().out
    assert "learning rate of param group 0 to 0.5." in out
    assert "learning rate of param group 1 to 0.25." in out
