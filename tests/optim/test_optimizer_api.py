"""The Optimizer base: argument checks with clear messages, param groups, zero_grad, closures,
and load_state_dict's checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minicnn import nn, optim


def params(*shapes):
    return [nn.Parameter(np.ones(shape)) for shape in shapes]


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda p: optim.SGD(p, lr=-0.1), ValueError, r"SGD: invalid lr value -0.1; expected >= 0"),
        (lambda p: optim.SGD(p, momentum=-1), ValueError, r"invalid momentum value -1"),
        (lambda p: optim.SGD(p, nesterov=True), ValueError,
         r"Nesterov momentum requires a momentum and zero dampening, got momentum=0"),
        (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
         r"dampening=0.1"),
        (lambda p: optim.SGD(p, lr="fast"), TypeError, r"SGD: lr must be a number, got 'fast'"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.9)), ValueError,
         r"Adam: invalid betas\[0\] value 1.0; expected in \[0.0, 1.0\)"),
        (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), ValueError, r"invalid betas\[1\] value"),
        (lambda p: optim.Adam(p, betas=0.9), TypeError, r"betas must be a pair of floats"),
        (lambda p: optim.Adam(p, eps=-1e-8), ValueError, r"invalid eps value"),
        (lambda p: optim.Adam(p, weight_decay=float("nan")), ValueError,
         r"invalid weight_decay value nan"),
        (lambda p: optim.Adagrad(p, lr_decay=-1), ValueError, r"invalid lr_decay value"),
        (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), ValueError,
         r"invalid initial_accumulator_value value"),
        (lambda p: optim.RMSprop(p, alpha=-0.5), ValueError, r"invalid alpha value"),
        (lambda p: optim.SGD([{"params": p, "lr": -1}]), ValueError, r"invalid lr value -1"),
        (lambda p: optim.SGD(p[0]), TypeError, r"params must be an iterable of Parameters"),
        (lambda p: optim.SGD([]), ValueError, r"SGD: got an empty parameter list"),
        (lambda p: optim.SGD(set(p)), TypeError, r"ordered collection \(a list\), not a set"),
        (lambda p: optim.SGD([np.zeros(3)]), TypeError,
         r"can only optimize Parameters, but one of the params is ndarray"),
        (lambda p: optim.SGD([p[0], p[0]]), ValueError, r"holds the same Parameter twice"),
        (lambda p: optim.SGD([{"params": p}, {"params": p[:1]}]), ValueError,
         r"some parameters appear in more than one parameter group"),
        (lambda p: optim.SGD([{"lr": 0.1}]), ValueError, r"needs a 'params' entry"),
    ],
)
def test_bad_arguments_get_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(params(3, (2, 2)))


def test_groups_take_the_constructors_values_unless_they_set_their_own():
    first, second = params(3, 3)
    sgd = optim.SGD([{"params": [first]}, {"params": second, "momentum": 0.5}], lr=0.1)
    assert [g["lr"] for g in sgd.param_groups] == [0.1, 0.1]
    assert [g["momentum"] for g in sgd.param_groups] == [0, 0.5]
    third = params(2)[0]
    sgd.add_param_group({"params": [third], "lr": 0.2})
    first.grad, second.grad, third.grad = np.ones(3), np.ones(3), np.ones(2)
    sgd.step()
    np.testing.assert_allclose(first.data, 0.9)
    np.testing.assert_allclose(third.data, 0.8)
    assert list(sgd.state) == [second]  # only the group with momentum keeps a buffer


def test_zero_grad_sets_none_or_zeros_and_step_skips_missing_gradients():
    first, second = params(3, 2)
    adam = optim.Adam([first, second], lr=0.1)
    first.grad = np.ones(3)
    assert adam.step(closure=lambda: 42.0) == 42.0
    np.testing.assert_array_equal(second.data, np.ones(2))  # no gradient: untouched
    assert second not in adam.state
    adam.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(first.grad, np.zeros(3))
    adam.zero_grad()
    assert first.grad is None


def test_step_refuses_a_gradient_of_another_dtype_or_shape():
    (param,) = params(3)
    sgd = optim.SGD([param], lr=0.1)
    param.grad = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match=r"gradient of shape \(3,\) and dtype float32 for a "
                                        r"parameter of shape \(3,\) and dtype float64"):
        sgd.step()


def test_adagrad_initialises_added_groups_with_the_constructors_accumulator_as_torch():
    ours = optim.Adagrad(params(2), initial_accumulator_value=0.5)
    theirs = torch.optim.Adagrad([torch.ones(2, dtype=torch.float64, requires_grad=True)],
                               initial_accumulator_value=0.5)
    (added,), added_torch = params(2), torch.ones(2, dtype=torch.float64, requires_grad=True)
    ours.add_param_group({"params": [added], "initial_accumulator_value": 3.0})
    theirs.add_param_group({"params": [added_torch], "initial_accumulator_value": 3.0})
    added.grad, added_torch.grad = np.ones(2), torch.ones(2, dtype=torch.float64)
    ours.step()
    theirs.step()
    np.testing.assert_allclose(added.data, added_torch.detach().numpy(), rtol=1e-15)
    np.testing.assert_array_equal(ours.state[added]["sum"], [1.5, 1.5])


def test_load_state_dict_checks_everything_before_changing_anything():
    first, second = params(3, (2, 2))
    adam = optim.Adam([first, second], lr=0.1)
    first.grad, second.grad = np.ones(3), np.ones((2, 2))
    adam.step()
    saved = adam.state_dict()
    other = optim.Adam(params(3, (2, 2)), lr=0.5)
    with pytest.raises(ValueError, match=r"loaded state dict has 2 parameter groups, the "
                                         r"optimizer has 1"):
        other.load_state_dict({**saved, "param_groups": saved["param_groups"] * 2})
    bad = optim.Adam(params(3, 2), lr=0.5)
    with pytest.raises(ValueError, match=r"state\[1\]\['exp_avg'\] has shape \(2, 2\), its "
                                         r"parameter has shape \(2,\)"):
        bad.load_state_dict(saved)
    assert bad.param_groups[0]["lr"] == 0.5 and not bad.state  # nothing changed
    with pytest.raises(ValueError, match=r"group 0 has 2 parameters, the optimizer's has 1"):
        optim.Adam(params(3), lr=0.5).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"expected a dict with 'state' and 'param_groups'"):
        other.load_state_dict({"weights": 1})
    other.load_state_dict(saved)
    assert other.param_groups[0]["lr"] == 0.1


def test_state_dict_holds_copies_and_load_converts_to_the_parameters_dtype():
    (param,) = params(3)
    sgd = optim.SGD([param], lr=0.1, momentum=0.9)
    param.grad = np.ones(3)
    sgd.step()
    saved = sgd.state_dict()
    sgd.step()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], np.ones(3))
    narrow = nn.Parameter(np.ones(3, dtype=np.float32))
    loaded = optim.SGD([narrow], lr=0.1, momentum=0.9)
    loaded.load_state_dict(saved)
    assert loaded.state[narrow]["momentum_buffer"].dtype == np.float32
