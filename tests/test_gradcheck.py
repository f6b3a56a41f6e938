"""minicnn.gradcheck on functional pairs, its report, and its failures."""

from __future__ import annotations

import numpy as np
import pytest

import minicnn as mc
from minicnn import functional as F
from minicnn import nn


def test_gradcheck_functional_conv_pair():
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((6, 2, 3, 3))
    bias = rng.standard_normal(6)

    def forward(x, weight, bias):
        return F.conv2d_forward(x, weight, bias, (2, 1), (1, 1, 0, 2), (1, 1), 2, "reflect")

    assert mc.gradcheck((forward, F.conv2d_backward), (x, weight, bias))


def test_gradcheck_functional_pair_with_one_gradient():
    x = np.random.default_rng(1).standard_normal((3, 4))
    assert mc.gradcheck((F.sigmoid_forward, F.sigmoid_backward), x)


class _WrongTanh(nn.Tanh):
    def backward(self, grad_output):
        return 1.01 * super().backward(grad_output)


def test_gradcheck_catches_a_wrong_backward_and_reports_the_worst_element():
    x = np.random.default_rng(2).standard_normal((3, 4))
    with pytest.raises(mc.GradcheckError, match=r"FAILED.*worst is input 0\[\d, \d\]"):
        mc.gradcheck(_WrongTanh(), x)
    result = mc.gradcheck(_WrongTanh(), x, raise_exception=False)
    assert not result and result.checked == x.size
    assert abs(result.analytic - result.numeric) > 1e-4


def test_gradcheck_checks_parameters_and_keeps_them():
    layer = nn.Linear(3, 2, dtype=np.float64)
    before = layer.weight.data.copy()
    result = mc.gradcheck(layer, np.random.default_rng(3).standard_normal((4, 3)))
    assert result.checked == 4 * 3 + 2 * 3 + 2
    np.testing.assert_array_equal(layer.weight.data, before)


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        mc.gradcheck(nn.Linear(3, 2), np.zeros((1, 3), np.float32))


class _LinearForgettingBias(nn.Linear):
    def backward(self, grad_output):
        grad_x = super().backward(grad_output)
        self.bias.grad = None
        return grad_x


def test_gradcheck_catches_a_missing_parameter_gradient():
    layer = _LinearForgettingBias(3, 2, dtype=np.float64)
    with pytest.raises(mc.GradcheckError, match="bias"):
        mc.gradcheck(layer, np.random.default_rng(4).standard_normal((4, 3)))


def test_gradcheck_gives_inplace_layers_fresh_inputs():
    x = np.random.default_rng(5).uniform(0.1, 1.0, (3, 4)) * np.array([1, -1, 1, -1])
    before = x.copy()
    assert mc.gradcheck(nn.ReLU(inplace=True), x)
    np.testing.assert_array_equal(x, before)


def test_gradcheck_rejects_non_arrays_and_wrong_gradient_shapes():
    with pytest.raises(TypeError, match="float64 NumPy array"):
        mc.gradcheck(nn.Tanh(), [[1.0, 2.0]])

    def backward(grad, cache):
        return grad[:1]

    with pytest.raises(ValueError, match=r"shape \(1, 3\), expected \(2, 3\)"):
        mc.gradcheck((F.tanh_forward, backward), np.zeros((2, 3)))
