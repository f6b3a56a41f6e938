"""Every optimizer against torch.optim: over a hypothesis-drawn grid of options and param groups,
100 steps fed identical gradients give equal parameters and equal state; a state_dict saved
mid-run and loaded into a fresh optimizer continues the identical trajectory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gpu_support import host
from hypothesis import given
from hypothesis import strategies as st
from torch_reference import DTYPES, LOSS_TOLERANCE, assert_close, on_device

from minicnn import nn, optim

SHAPES = [(3, 4), (5,), (2, 1, 3), ()]
FLAGS = ("foreach", "fused", "capturable", "differentiable")

# For each optimizer, the options a group may set, each with values drawn from a small grid.
OPTIONS = {
    "SGD": {
        "lr": [1e-3, 0.05], "momentum": [0.0, 0.5, 0.9], "dampening": [0.0, 0.3],
        "weight_decay": [0.0, 0.1], "nesterov": [False, True], "maximize": [False, True],
    },
    "Adagrad": {
        "lr": [1e-2, 0.1], "lr_decay": [0.0, 0.05], "weight_decay": [0.0, 0.1],
        "initial_accumulator_value": [0.0, 0.5], "eps": [1e-10, 1e-3], "maximize": [False, True],
    },
    "RMSprop": {
        "lr": [1e-3, 1e-2], "alpha": [0.99, 0.5], "eps": [1e-8, 1e-2], "weight_decay": [0.0, 0.1],
        "momentum": [0.0, 0.7], "centered": [False, True], "maximize": [False, True],
    },
    "Adam": {
        "lr": [1e-3, 0.05], "betas": [(0.9, 0.999), (0.3, 0.6), (0.0, 0.9)], "eps": [1e-8, 1e-3],
        "weight_decay": [0.0, 0.1], "amsgrad": [False, True], "maximize": [False, True],
    },
    "AdamW": {
        "lr": [1e-3, 0.05], "betas": [(0.9, 0.999), (0.6, 0.3)], "eps": [1e-8, 1e-3],
        "weight_decay": [0.0, 1e-2, 0.3], "amsgrad": [False, True], "maximize": [False, True],
    },
}


def valid(name: str, options: dict) -> bool:
    """Nesterov needs momentum and no dampening (drawn grids may pair them otherwise)."""
    return not (name == "SGD" and options.get("nesterov") and (
        options.get("momentum", 0) <= 0 or options.get("dampening", 0) != 0))


@st.composite
def setups(draw, name: str):
    """(constructor options, param groups as (indices of SHAPES, overrides))."""
    grid = OPTIONS[name]

    def options(label):
        keys = draw(st.sets(st.sampled_from(sorted(grid))), label=f"{label} keys")
        return {key: draw(st.sampled_from(grid[key]), label=f"{label} {key}") for key in keys}

    defaults = options("constructor")
    order = draw(st.permutations(range(len(SHAPES))), label="order")
    cuts = sorted(draw(st.sets(st.integers(1, len(SHAPES) - 1), max_size=2), label="cuts"))
    bounds = [0, *cuts, len(SHAPES)]
    spans = zip(bounds[:-1], bounds[1:], strict=True)
    groups = [(order[a:b], options(f"group {i}")) for i, (a, b) in enumerate(spans)]
    return defaults, groups


class Twins:
    """The same parameters in minicnn and torch, optimized by the same optimizer class."""

    def __init__(self, name, defaults, groups, dtype, seed):
        rng = np.random.default_rng(seed)
        self.initial = [np.asarray(rng.standard_normal(shape), dtype) for shape in SHAPES]
        self.ours = [nn.Parameter(on_device(w.copy())) for w in self.initial]
        self.theirs = [torch.tensor(w.copy(), requires_grad=True) for w in self.initial]
        self.name, self.defaults, self.groups = name, defaults, groups
        self.opt_ours = self.make_ours(self.ours)
        self.opt_theirs = getattr(torch.optim, name)(
            [{"params": [self.theirs[i] for i in idx], **over} for idx, over in groups],
            **defaults,
        )

    def make_ours(self, params):
        return getattr(optim, self.name)(
            [{"params": [params[i] for i in idx], **over} for idx, over in self.groups],
            **self.defaults,
        )

    def step(self, grads, optimizers=None):
        """One step with these gradients (None: the parameter has no gradient this step)."""
        for ours, theirs, grad in zip(self.ours, self.theirs, grads, strict=True):
            ours.grad = None if grad is None else on_device(grad.copy())
            theirs.grad = None if grad is None else torch.from_numpy(grad.copy())
        (optimizers or self.opt_ours).step()
        self.opt_theirs.step()


def gradient_stream(dtype, seed, steps):
    rng = np.random.default_rng(seed + 1)
    for _ in range(steps):
        yield [None if rng.random() < 0.1 else np.asarray(rng.standard_normal(shape), dtype)
               for shape in SHAPES]


def assert_same_parameters_and_state(twins, dtype):
    tol = 1e-12 if dtype == np.float64 else LOSS_TOLERANCE[np.dtype(dtype)]
    for index, (ours, theirs) in enumerate(zip(twins.ours, twins.theirs, strict=True)):
        # relative to the magnitude the parameter started from: one that ends near zero is a
        # difference of numbers of that size (a lone 0-d parameter has nothing else to scale by)
        start = float(np.abs(twins.initial[index]).max())
        assert_close(host(ours.data), theirs.detach().numpy(), dtype, f"parameter {index}",
                     start, tol)
    ours_state = twins.opt_ours.state_dict()["state"]
    theirs_state = twins.opt_theirs.state_dict()["state"]
    assert sorted(ours_state) == sorted(theirs_state)
    for key, values in theirs_state.items():
        assert sorted(ours_state[key]) == sorted(values), f"state {key} entries"
        for entry, value in values.items():
            value = value.numpy() if isinstance(value, torch.Tensor) else value
            if entry == "step":
                assert ours_state[key][entry] == float(value)
            else:
                # moments are averages of the gradients fed (standard normal): an entry near
                # zero is a difference of numbers of size 1, so compare relative to 1
                assert_close(host(ours_state[key][entry]), value, dtype, f"state {key} {entry}",
                             scale_floor=1.0, tol=tol)


@pytest.mark.parametrize("name", sorted(OPTIONS))
@given(data=st.data(), seed=st.integers(0, 2**16))
@DTYPES
def test_100_steps_match_torch(name, data, seed, dtype):
    defaults, groups = data.draw(setups(name), label="setup")
    if not (valid(name, defaults) and all(valid(name, {**defaults, **g}) for _, g in groups)):
        return
    twins = Twins(name, defaults, groups, dtype, seed)
    for grads in gradient_stream(dtype, seed, 100):
        twins.step(grads)
    assert_same_parameters_and_state(twins, dtype)
    for param in twins.ours:
        assert param.data.dtype == dtype


@pytest.mark.parametrize("name", sorted(OPTIONS))
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_a_state_dict_saved_mid_run_continues_the_same_trajectory(name, data, seed):
    defaults, groups = data.draw(setups(name), label="setup")
    if not (valid(name, defaults) and all(valid(name, {**defaults, **g}) for _, g in groups)):
        return
    twins = Twins(name, defaults, groups, np.float64, seed)
    stream = list(gradient_stream(np.float64, seed, 40))
    for grads in stream[:20]:
        twins.step(grads)
    saved = twins.opt_ours.state_dict()
    snapshot = [p.data.copy() for p in twins.ours]
    for grads in stream[20:]:  # the uninterrupted run
        twins.step(grads)
    expected = [p.data.copy() for p in twins.ours]

    resumed = [nn.Parameter(w) for w in snapshot]
    fresh = twins.make_ours(resumed)
    fresh.load_state_dict(saved)
    for grads in stream[20:]:
        for param, grad in zip(resumed, grads, strict=True):
            param.grad = None if grad is None else on_device(grad.copy())
        fresh.step()
    for got, want in zip(resumed, expected, strict=True):
        np.testing.assert_array_equal(host(got.data), host(want))


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_param_groups_and_repr_read_as_torchs(name):
    ours = getattr(optim, name)([nn.Parameter(np.zeros(3))])
    theirs = getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)])
    assert sorted(ours.param_groups[0]) == sorted(theirs.param_groups[0])
    assert repr(ours) == repr(theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


@pytest.mark.parametrize("flags", [{"foreach": True}, {"foreach": False, "differentiable": True},
                                   {"fused": True}])
def test_implementation_flags_are_accepted_and_change_nothing(flags):
    rng = np.random.default_rng(3)
    start, grads = rng.standard_normal(4), rng.standard_normal((5, 4))
    results = []
    for options in ({}, flags):
        param = nn.Parameter(start.copy())
        adam = optim.Adam([param], lr=0.1, **options)
        for grad in grads:
            param.grad = grad.copy()
            adam.step()
        results.append(param.data)
    np.testing.assert_array_equal(*results)
