"""The learning-rate schedulers against torch.optim.lr_scheduler: the same lr sequences, and a
state_dict saved mid-run that continues the same sequence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minicnn import nn, optim
from minicnn.optim import lr_scheduler

SCHEDULERS = {
    "StepLR": st.fixed_dictionaries({"step_size": st.integers(1, 7),
                                     "gamma": st.sampled_from([0.1, 0.5, 0.9])}),
    "ExponentialLR": st.fixed_dictionaries({"gamma": st.sampled_from([0.5, 0.9, 0.99])}),
    "CosineAnnealingLR": st.fixed_dictionaries({"T_max": st.integers(1, 12),
                                                "eta_min": st.sampled_from([0.0, 1e-3])}),
}


def twin_optimizers(lrs):
    """An SGD in each library with one param group per learning rate."""
    ours = optim.SGD([{"params": [nn.Parameter(np.zeros(2))], "lr": lr} for lr in lrs])
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
                              for lr in lrs])
    return ours, theirs


LRS = st.lists(st.sampled_from([0.1, 0.05, 1.0]), min_size=1, max_size=3)


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@given(data=st.data(), lrs=LRS)
def test_epoch_schedules_match_torch(name, data, lrs):
    options = data.draw(SCHEDULERS[name], label="options")
    ours_opt, theirs_opt = twin_optimizers(lrs)
    ours = getattr(lr_scheduler, name)(ours_opt, **options)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **options)
    assert ours.get_last_lr() == theirs.get_last_lr()
    for epoch in range(40):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-14,
                                   atol=1e-300, err_msg=f"epoch {epoch}")
        assert [g["lr"] for g in ours_opt.param_groups] == ours.get_last_lr()


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@given(data=st.data(), lrs=LRS, stop=st.integers(0, 20))
def test_a_scheduler_state_dict_continues_the_same_sequence(name, data, lrs, stop):
    options = data.draw(SCHEDULERS[name], label="options")
    optimizer, _ = twin_optimizers(lrs)
    scheduler = getattr(lr_scheduler, name)(optimizer, **options)
    for _ in range(stop):
        scheduler.step()
    saved_optimizer, saved = optimizer.state_dict(), scheduler.state_dict()
    expected = []
    for _ in range(15):
        scheduler.step()
        expected.append(scheduler.get_last_lr())

    fresh_optimizer, _ = twin_optimizers(lrs)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh = getattr(lr_scheduler, name)(fresh_optimizer, **options)
    fresh.load_state_dict(saved)
    got = []
    for _ in range(15):
        fresh.step()
        got.append(fresh.get_last_lr())
    assert got == expected


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_deprecated_step_with_an_epoch_uses_the_closed_form_as_torch(name):
    options = {"StepLR": {"step_size": 3}, "ExponentialLR": {"gamma": 0.9},
               "CosineAnnealingLR": {"T_max": 10}}[name]
    ours_opt, theirs_opt = twin_optimizers([0.1, 0.3])
    ours = getattr(lr_scheduler, name)(ours_opt, **options)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **options)
    theirs_opt.step()
    for epoch in (4, 7, 2):
        with pytest.warns(UserWarning, match="epoch parameter"):
            ours.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.step(epoch)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-14)


PLATEAU_OPTIONS = st.fixed_dictionaries({
    "mode": st.sampled_from(["min", "max"]),
    "factor": st.sampled_from([0.1, 0.5]),
    "patience": st.integers(0, 4),
    "threshold": st.sampled_from([0.0, 1e-4, 0.1]),
    "threshold_mode": st.sampled_from(["rel", "abs"]),
    "cooldown": st.integers(0, 3),
    "min_lr": st.sampled_from([0, 1e-3]),
    "eps": st.sampled_from([1e-8, 1e-2]),
})
METRICS = st.lists(
    st.one_of(st.sampled_from([1.0, 0.9, 0.5, 2.0, float("nan")]), st.floats(-5, 5)),
    min_size=1, max_size=40,
)


@given(options=PLATEAU_OPTIONS, metrics=METRICS, lrs=LRS)
def test_reduce_lr_on_plateau_matches_torch(options, metrics, lrs):
    ours_opt, theirs_opt = twin_optimizers(lrs)
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **options)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **options)
    for step, metric in enumerate(metrics):
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr() == theirs.get_last_lr(), f"step {step}"
        assert (ours.num_bad_epochs, ours.cooldown_counter) == (
            theirs.num_bad_epochs, theirs.cooldown_counter)


def test_reduce_lr_on_plateau_takes_a_min_lr_per_group():
    optimizer, _ = twin_optimizers([1.0, 1.0])
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, min_lr=[0.5, 0.01])
    for _ in range(4):
        scheduler.step(1.0)
    assert scheduler.get_last_lr() == [0.5, pytest.approx(0.01, rel=1e-12)]  # floors reached


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError,
         r"factor should be < 1.0, got 1.0"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="low"), ValueError,
         r"mode must be 'min' or 'max', got 'low'"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), ValueError,
         r"threshold_mode must be 'rel' or 'abs'"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0, 0]), ValueError,
         r"expected 1 min_lrs, got 2"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError,
         r"patience must be a non-negative int"),
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError,
         r"step_size must be positive, got 0"),
        (lambda o: lr_scheduler.StepLR(o, step_size=1.5), TypeError, r"step_size must be an int"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError,
         r"T_max must be positive"),
        (lambda o: lr_scheduler.ExponentialLR(o, gamma="0.9"), TypeError,
         r"gamma must be a number"),
        (lambda o: lr_scheduler.ExponentialLR(o, 0.9, last_epoch=3), KeyError,
         r"'initial_lr' is not specified in param_groups\[0\]"),
        (lambda o: lr_scheduler.StepLR("sgd", 3), TypeError, r"str is not an Optimizer"),
    ],
)
def test_bad_scheduler_arguments_get_clear_errors(make, error, message):
    optimizer, _ = twin_optimizers([0.1])
    with pytest.raises(error, match=message):
        make(optimizer)
