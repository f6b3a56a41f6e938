"""ReLU, Sigmoid, Tanh, Softmax and LogSoftmax against torch, over random shapes and dims."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_reference import DTYPES, assert_close, compare_with_torch

import minicnn as mc
from minicnn import functional as F
from minicnn import nn

ELEMENTWISE = {
    "ReLU": (nn.ReLU, torch.nn.ReLU),
    "Sigmoid": (nn.Sigmoid, torch.nn.Sigmoid),
    "Tanh": (nn.Tanh, torch.nn.Tanh),
}
SOFTMAXES = ["Softmax", "LogSoftmax"]
ALL = [*ELEMENTWISE, *SOFTMAXES]
# any rank up to 4, empty dims included
SHAPES = array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


def random_input(shape, dtype, seed, scale=3.0):
    return np.asarray(scale * np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


def pair(name, *args):
    """(ours, theirs) for the layer called ``name`` in both libraries, built with ``args``."""
    return getattr(nn, name)(*args), getattr(torch.nn, name)(*args)


@contextmanager
def no_implicit_dim_warning():
    """torch warns about Softmax(dim=None) choosing a dim; that choice is what we test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Implicit dimension choice", UserWarning)
        yield


# --- forward and backward against torch -----------------------------------------------------


@given(shape=SHAPES, seed=st.integers(0, 2**16))
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@DTYPES
def test_elementwise_matches_torch(name, shape, seed, dtype):
    compare_with_torch(*pair(name), random_input(shape, dtype, seed), seed=seed)


@given(shape=SHAPES, data=st.data())
@pytest.mark.parametrize("name", SOFTMAXES)
@DTYPES
def test_softmax_matches_torch_on_every_dim(name, shape, data, dtype):
    ndim = max(len(shape), 1)
    dim = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)), label="dim")
    x = random_input(shape, dtype, data.draw(st.integers(0, 2**16)), scale=10.0)
    with no_implicit_dim_warning():
        compare_with_torch(*pair(name, dim), x)


@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("name", SOFTMAXES)
@DTYPES
def test_softmax_dim_none_uses_torchs_legacy_dim(name, ndim, dtype):
    x = random_input((2, 3, 4, 5)[:ndim], dtype, ndim)
    with no_implicit_dim_warning():
        compare_with_torch(*pair(name), x)
        compare_with_torch(*pair(name, None), x)
    assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())


@pytest.mark.parametrize("name", ALL)
@DTYPES
def test_zero_dim_input(name, dtype):
    x = np.asarray(1.5, dtype)
    with no_implicit_dim_warning():
        out, _ = compare_with_torch(*pair(name, *([0] if name in SOFTMAXES else [])), x)
    assert out.shape == ()


@given(shape=array_shapes(min_dims=0, max_dims=4, max_side=5), seed=st.integers(0, 2**16))
@DTYPES
def test_relu_inplace_overwrites_the_input_like_torch(shape, seed, dtype):
    x = random_input(shape, dtype, seed)
    expected = torch.from_numpy(x.copy())
    torch.nn.ReLU(inplace=True)(expected)
    layer = nn.ReLU(inplace=True)
    out = layer(x)
    assert np.shares_memory(out, x)
    np.testing.assert_array_equal(x, expected.numpy())
    assert x.dtype == dtype
    # backward against torch (inplace on a non-leaf, as torch allows)
    compare_with_torch(nn.ReLU(inplace=True), lambda t: torch.nn.ReLU(inplace=True)(t * 1), x)


def test_relu_gradient_at_zero_is_torchs():
    x = np.array([-1.0, -0.0, 0.0, 1.0])
    for inplace in (False, True):
        compare_with_torch(nn.ReLU(inplace), lambda t: torch.relu(t * 1), x)


# --- stability and NaN ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@DTYPES
def test_extreme_logits_stay_finite_without_warnings(name, dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    args = [1] if name in SOFTMAXES else []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value warnings either
        out, _ = compare_with_torch(*pair(name, *args), x)
        layer = getattr(nn, name)(*args)
        grad = layer.backward(np.ones_like(layer(x)))
    assert np.isfinite(out).all() and np.isfinite(grad).all()


@pytest.mark.parametrize("name", ALL)
@DTYPES
def test_nan_and_inf_propagate_as_in_torch(name, dtype):
    x = np.array([[np.nan, 1.0, -2.0], [0.5, -0.5, 3.0], [np.inf, -np.inf, 0.0]], dtype=dtype)
    args = [1] if name in SOFTMAXES else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in the softmax row
        out, theirs = compare_with_torch(*pair(name, *args), x)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(theirs.detach().numpy()))
    if name in SOFTMAXES:  # a NaN row is all NaN, the other rows are untouched
        assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
    if name == "ReLU":
        assert np.isnan(out[0, 0])


# --- finite differences ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [nn.Sigmoid(), nn.Tanh(), nn.Softmax(1), nn.Softmax(-1), nn.Softmax(0), nn.LogSoftmax(0),
     nn.LogSoftmax(-1), nn.Softmax(), nn.LogSoftmax()],
    ids=repr,
)
def test_gradcheck(layer):
    assert mc.gradcheck(layer, np.random.default_rng(0).standard_normal((3, 4)))


def test_gradcheck_relu_away_from_the_kink():
    x = np.random.default_rng(1).uniform(0.1, 1.0, (3, 4)) * np.array([1, -1, 1, -1])
    assert mc.gradcheck(nn.ReLU(), x)


@pytest.mark.parametrize(
    "pair_",
    [
        (F.tanh_forward, F.tanh_backward),
        (F.sigmoid_forward, F.sigmoid_backward),
        (F.relu_forward, F.relu_backward),
        (lambda x: F.softmax_forward(x, 1), F.softmax_backward),
        (lambda x: F.log_softmax_forward(x, 0), F.log_softmax_backward),
    ],
    ids=["tanh", "sigmoid", "relu", "softmax", "log_softmax"],
)
def test_gradcheck_functional_pairs(pair_):
    x = np.random.default_rng(2).uniform(0.1, 1.0, (3, 4)) * np.array([1, -1, 1, -1])
    assert mc.gradcheck(pair_, x)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(F.relu_forward, torch.relu), (F.sigmoid_forward, torch.sigmoid),
     (F.tanh_forward, torch.tanh), (lambda x: F.softmax_forward(x, -1), torch.nn.Softmax(-1)),
     (lambda x: F.log_softmax_forward(x, 0), torch.nn.LogSoftmax(0))],
    ids=["relu", "sigmoid", "tanh", "softmax", "log_softmax"],
)
@DTYPES
def test_functional_forward_matches_torch(ours, theirs, dtype):
    x = random_input((3, 5), dtype, 3)
    out, _ = ours(x)
    assert_close(out, theirs(torch.from_numpy(x)).numpy(), dtype, "functional forward")


# --- errors and repr ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "x", "error", "match"),
    [
        (nn.Softmax(2), np.zeros((2, 3)), IndexError, r"Softmax\(dim=2\).*\[-2, 1\].*got 2"),
        (nn.LogSoftmax(-3), np.zeros((2, 3)), IndexError,
         r"LogSoftmax\(dim=-3\).*\[-2, 1\].*got -3"),
        (nn.Softmax(1), np.zeros(()), IndexError, r"Softmax\(dim=1\).*\[-1, 0\].*got 1"),
        (nn.Softmax(1.0), np.zeros((2, 3)), TypeError, r"Softmax\(dim=1.0\).*dim must be an int"),
        (nn.ReLU(), np.zeros(3, np.int64), TypeError, r"ReLU\(\).*float32 or float64.*int64"),
        (nn.Tanh(), np.zeros(3, np.float16), TypeError, r"Tanh\(\).*float32 or float64.*float16"),
        (nn.Sigmoid(), [1.0, 2.0], TypeError, r"Sigmoid\(\).*array, got list"),
        (nn.LogSoftmax(0), torch.zeros(3), TypeError, r"LogSoftmax\(dim=0\).*array, got Tensor"),
        (nn.ReLU(inplace=True), 1.0, TypeError, r"ReLU\(inplace=True\).*array, got float"),
    ],
)
def test_bad_input(layer, x, error, match):
    with pytest.raises(error, match=match):
        layer(x)


@pytest.mark.parametrize("name", ALL)
def test_backward_checks(name):
    layer = getattr(nn, name)(*([1] if name in SOFTMAXES else []))
    layer_name = repr(layer).replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(RuntimeError, match=rf"{layer_name}: backward\(\) called before forward"):
        layer.backward(np.ones((2, 3)))
    layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=rf"{layer_name}: .*shape \(2, 3\), got \(3, 2\)"):
        layer.backward(np.ones((3, 2)))
    with pytest.raises(TypeError, match=rf"{layer_name}: .*dtype float64, got float32"):
        layer.backward(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match=rf"{layer_name}: grad_output must be an array, got list"):
        layer.backward([[1.0] * 3] * 2)


def test_backward_does_not_modify_grad_output_or_the_input():
    x = np.random.default_rng(0).standard_normal((3, 4))
    for name in ALL:
        ours, theirs = pair(name, *([1] if name in SOFTMAXES else []))
        compare_with_torch(ours, theirs, x)  # checks both arrays are left unchanged


def test_repr_matches_torch():
    for args in [("ReLU",), ("ReLU", True), ("Sigmoid",), ("Tanh",), ("Softmax",),
                 ("Softmax", -1), ("LogSoftmax",), ("LogSoftmax", 1)]:
        ours, theirs = pair(*args)
        assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("layer", [nn.ReLU(inplace=True), nn.Dropout(0.5, inplace=True)])
def test_inplace_layers_refuse_read_only_input(layer):
    x = np.broadcast_to(np.ones(3), (2, 3))
    with pytest.raises(ValueError, match=r"inplace=True needs a writeable input"):
        layer(x)
