"""The pooling layers against torch.nn: every option, both dtypes, both kernel sets, plus
gradcheck, PyTorch's choice among tied maxima and NaNs, and bad arguments and inputs."""

from __future__ import annotations

import math
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from torch_reference import DTYPES, compare_with_torch

import minicnn as mc
from minicnn import nn
from minicnn.backend import plain_kernels

KERNELS = pytest.mark.parametrize("kernels", ["numba", "plain"])


def kernel_set(kernels: str):
    """The Numba kernels (NumPy's default) or the plain array ones that CuPy arrays run."""
    return plain_kernels() if kernels == "plain" else nullcontext()


# --- strategies ------------------------------------------------------------------------------


def int_or_pair(draw, pair: tuple[int, int]):
    """``pair`` as it is, or as a single int when both entries agree (half of the time)."""
    return pair[0] if pair[0] == pair[1] and draw(st.booleans()) else pair


def pair_of(low: int, high: int):
    return st.tuples(st.integers(low, high), st.integers(low, high))


def draw_stride(draw):
    stride = draw(st.one_of(st.none(), pair_of(1, 3)))
    return None if stride is None else int_or_pair(draw, stride)


def draw_input_shape(draw, size: tuple[int, int]) -> tuple[int, ...]:
    """A batched (N, C, H, W) or, with batch None, an unbatched (C, H, W) input shape."""
    batch = draw(st.sampled_from([None, 1, 2, 3]))
    channels = draw(st.integers(1, 3))
    return (channels, *size) if batch is None else (batch, channels, *size)


def draw_values(draw, shape, dtype, kinds=("normal", "ties", "special", "neg_inf")):
    """An input of ``shape``: normal values, small integers (ties in every window), a mix with
    NaN and -inf, or mostly -inf (windows of -inf only)."""
    kind = draw(st.sampled_from(kinds))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "ties":
        x = rng.integers(0, 3, size=shape).astype(np.float64)
    elif kind == "special":
        x = rng.choice([0.0, 1.0, 2.0, -np.inf, np.nan], size=shape, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    else:
        x = rng.choice([-np.inf, 1.0], size=shape, p=[0.85, 0.15])
    return x.astype(dtype)


@st.composite
def max_pool_cases(draw):
    """MaxPool2d options PyTorch accepts (padding <= kernel // 2) and an input that gives an
    output of at least 1x1. The input is at least as large as the dilation on each axis, so
    that no window steps over the whole input (see the test of that case below)."""
    kernel = draw(pair_of(1, 4))
    dilation = draw(pair_of(1, 3))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(
        max(1, d * (k - 1) + 1 - 2 * p, d) + draw(st.integers(0, 4))
        for k, d, p in zip(kernel, dilation, padding, strict=True)
    )
    options = dict(
        kernel_size=int_or_pair(draw, kernel), stride=draw_stride(draw),
        padding=int_or_pair(draw, padding), dilation=int_or_pair(draw, dilation),
        return_indices=draw(st.booleans()), ceil_mode=draw(st.booleans()),
    )
    return options, draw_input_shape(draw, size)


@st.composite
def avg_pool_cases(draw):
    kernel = draw(pair_of(1, 4))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(
        max(1, k - 2 * p) + draw(st.integers(0, 5)) for k, p in zip(kernel, padding, strict=True)
    )
    options = dict(
        kernel_size=int_or_pair(draw, kernel), stride=draw_stride(draw),
        padding=int_or_pair(draw, padding), ceil_mode=draw(st.booleans()),
        count_include_pad=draw(st.booleans()),
        divisor_override=draw(st.one_of(st.none(), st.integers(1, 7))),
    )
    return options, draw_input_shape(draw, size)


@st.composite
def lp_pool_cases(draw):
    kernel = draw(pair_of(1, 4))
    size = tuple(k + draw(st.integers(0, 5)) for k in kernel)
    options = dict(
        norm_type=draw(st.sampled_from([1, 2, 2.0, 3, 1.5, float("inf"), -float("inf")])),
        kernel_size=int_or_pair(draw, kernel), stride=draw_stride(draw),
        ceil_mode=draw(st.booleans()),
    )
    return options, draw_input_shape(draw, size)


@st.composite
def adaptive_cases(draw):
    """Output sizes that divide the input, that don't, and that exceed it; None keeps a size."""
    size = draw(pair_of(1, 8))
    form = draw(st.sampled_from(["int", "pair", "none_first", "none_second"]))
    out = draw(pair_of(1, 10))
    output_size = {
        "int": out[0], "pair": out, "none_first": (None, out[1]), "none_second": (out[0], None),
    }[form]
    return output_size, draw_input_shape(draw, size)


# --- against PyTorch -------------------------------------------------------------------------


@given(case=max_pool_cases(), data=st.data())
@KERNELS
@DTYPES
def test_max_pool2d_matches_torch(case, data, dtype, kernels):
    """Output, input gradient and indices; ties, NaNs and -inf windows resolved as PyTorch."""
    options, shape = case
    x = draw_values(data.draw, shape, dtype)
    ours = nn.MaxPool2d(**options)
    theirs = torch.nn.MaxPool2d(**options)
    index = 0 if options["return_indices"] else None
    with kernel_set(kernels):
        out, out_torch = compare_with_torch(ours, theirs, x, output_index=index)
        # Exactly: a max picks an element.
        np.testing.assert_array_equal(out, out_torch.detach().numpy())
        if options["return_indices"]:
            indices, indices_torch = ours(x)[1], theirs(torch.from_numpy(x))[1]
            assert indices.dtype == np.int64
            np.testing.assert_array_equal(indices, indices_torch.numpy())


@given(case=avg_pool_cases(), seed=st.integers(0, 2**16))
@KERNELS
@DTYPES
def test_avg_pool2d_matches_torch(case, seed, dtype, kernels):
    options, shape = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    with kernel_set(kernels):
        compare_with_torch(nn.AvgPool2d(**options), torch.nn.AvgPool2d(**options), x, seed=seed)


@given(case=lp_pool_cases(), seed=st.integers(0, 2**16))
@KERNELS
@DTYPES
def test_lp_pool2d_matches_torch(case, seed, dtype, kernels):
    """Inputs of any sign for p = 2, positive ones for every norm (x ** 1.5 is NaN below zero),
    and sparse ones whose windows of zeros have a zero gradient (PyTorch's relu(|m|))."""
    options, shape = case
    # PyTorch before 2.13 computed p = +-inf as sum(x ** inf) ** 0 = 1 (the GPU machines may
    # carry such a build); minicnn follows 2.13's max |x| / min |x|
    assume(not (math.isinf(options["norm_type"]) and torch.__version__ < "2.13"))
    rng = np.random.default_rng(seed)
    kind = rng.choice(["any sign", "positive", "sparse"])
    if kind == "any sign" and options["norm_type"] in (2, float("inf"), -float("inf")):
        x = rng.standard_normal(shape)
    elif kind == "sparse":
        x = rng.uniform(0.1, 2.0, size=shape) * (rng.random(shape) < 0.2)
    else:
        x = rng.uniform(0.1, 2.0, size=shape)
    x = x.astype(dtype)
    with kernel_set(kernels):
        compare_with_torch(nn.LPPool2d(**options), torch.nn.LPPool2d(**options), x, seed=seed)


@given(case=adaptive_cases(), seed=st.integers(0, 2**16))
@KERNELS
@DTYPES
def test_adaptive_avg_pool2d_matches_torch(case, seed, dtype, kernels):
    output_size, shape = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    ours, theirs = nn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size)
    with kernel_set(kernels):
        compare_with_torch(ours, theirs, x, seed=seed)


@KERNELS
@pytest.mark.parametrize(
    ("options", "shape"),
    [
        (dict(kernel_size=(2, 1), stride=1, padding=(1, 0), dilation=(3, 1)), (2, 3, 2, 2)),
        (dict(kernel_size=(1, 2), stride=1, padding=(0, 1), dilation=(1, 3)), (2, 3, 2, 2)),
        (dict(kernel_size=2, stride=1, padding=1, dilation=4), (1, 2, 3, 3)),
        (dict(kernel_size=(2, 3), stride=2, padding=1, dilation=(4, 1), ceil_mode=True),
         (2, 1, 3, 4)),
    ],
)
def test_max_pool2d_windows_that_skip_the_input(options, shape, kernels):
    """Dilation can make a window that starts in the padding step over the whole input. PyTorch
    gives -inf and an index past the input's position (sometimes past its plane); the index
    must equal PyTorch's, and the gradient goes to that index only when it lies in the plane
    (PyTorch would write it into the next plane, or past the end of the array)."""
    x = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape).astype(np.float64)
    ours = nn.MaxPool2d(**options, return_indices=True)
    with kernel_set(kernels):
        out, indices = ours(x)
        out_torch, indices_torch = torch.nn.functional.max_pool2d(
            torch.from_numpy(x), **options, return_indices=True
        )
        np.testing.assert_array_equal(out, out_torch.numpy())
        np.testing.assert_array_equal(indices, indices_torch.numpy())
        assert np.isneginf(out).any()  # the case this test is about
        grad_out = np.random.default_rng(1).standard_normal(out.shape)
        grad_x = ours.backward(grad_out)
    plane = shape[2] * shape[3]
    expected = np.zeros((shape[0] * shape[1], plane))
    flat_indices = indices_torch.numpy().reshape(len(expected), -1)
    for row, (where, grad) in enumerate(zip(flat_indices, grad_out.reshape(len(expected), -1),
                                            strict=True)):
        inside = where < plane
        np.add.at(expected[row], where[inside], grad[inside])
    np.testing.assert_allclose(grad_x, expected.reshape(shape), rtol=1e-12)


@KERNELS
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.AvgPool2d(2, padding=1), torch.nn.AvgPool2d(2, padding=1)),
        (nn.LPPool2d(2, 2), torch.nn.LPPool2d(2, 2)),
        (nn.AdaptiveAvgPool2d(3), torch.nn.AdaptiveAvgPool2d(3)),
    ],
    ids=["max", "avg", "lp", "adaptive"],
)
def test_pools_take_an_empty_batch(ours, theirs, kernels):
    x = np.zeros((0, 2, 5, 5), np.float32)
    with kernel_set(kernels):
        out = ours(x)
        assert out.shape == tuple(theirs(torch.from_numpy(x)).shape)
        assert out.dtype == np.float32
        grad = ours.backward(np.zeros_like(out))
    assert grad.shape == x.shape and grad.dtype == np.float32


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (nn.MaxPool2d(3), torch.nn.MaxPool2d(3)),
        (nn.MaxPool2d((3, 2), stride=1, padding=1, dilation=2, ceil_mode=True),
         torch.nn.MaxPool2d((3, 2), stride=1, padding=1, dilation=2, ceil_mode=True)),
        (nn.AvgPool2d(3, stride=2, padding=1), torch.nn.AvgPool2d(3, stride=2, padding=1)),
        (nn.LPPool2d(2, 3), torch.nn.LPPool2d(2, 3)),
        (nn.LPPool2d(1.5, (2, 3), stride=1, ceil_mode=True),
         torch.nn.LPPool2d(1.5, (2, 3), stride=1, ceil_mode=True)),
        (nn.AdaptiveAvgPool2d((None, 7)), torch.nn.AdaptiveAvgPool2d((None, 7))),
        (nn.AdaptiveAvgPool2d(5), torch.nn.AdaptiveAvgPool2d(5)),
    ],
)
def test_pool_repr_matches_torch(ours, theirs):
    assert repr(ours) == repr(theirs)


# --- finite differences ----------------------------------------------------------------------


def spaced_distinct(shape, seed=0):
    """Distinct values 0.1 apart in random order: no near-ties for finite differences."""
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))) * 0.1 - 1.0
    return values.reshape(shape).astype(np.float64)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.MaxPool2d(2), (1, 2, 4, 5)),
        (nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
         (2, 1, 5, 4)),
        (nn.MaxPool2d(2, stride=1, return_indices=True), (2, 3, 3)),
        (nn.AvgPool2d(2), (1, 2, 4, 5)),
        (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
         (1, 2, 6, 5)),
        (nn.AvgPool2d((2, 3), padding=(1, 0), divisor_override=4), (2, 4, 5)),
        (nn.LPPool2d(2, 2), (1, 2, 4, 5)),
        (nn.LPPool2d(1.5, (2, 3), stride=1, ceil_mode=True), (1, 1, 4, 5)),
        (nn.LPPool2d(3, 2, stride=(1, 2), ceil_mode=True), (2, 5, 5)),
        (nn.AdaptiveAvgPool2d(3), (1, 2, 5, 7)),
        (nn.AdaptiveAvgPool2d((None, 4)), (2, 3, 3)),
    ],
)
def test_pool_gradcheck(layer, shape):
    x = spaced_distinct(shape)
    if isinstance(layer, nn.LPPool2d):
        x = x + 1.5  # positive: x ** 1.5 and the cube root of a negative sum are NaN
    assert mc.gradcheck(layer, x)


# --- bad arguments and inputs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: nn.MaxPool2d(3, padding=2), ValueError,
         r"MaxPool2d\(kernel_size=3\).*padding should be at most half of the kernel size"),
        (lambda: nn.MaxPool2d(3, padding=2, dilation=2), ValueError,
         r"MaxPool2d.*at most half of the kernel size"),
        (lambda: nn.MaxPool2d((4, 2), padding=(2, 2)), ValueError, r"MaxPool2d.*padding=\(2, 2\)"),
        (lambda: nn.AvgPool2d(2, padding=(0, 2)), ValueError, r"AvgPool2d.*at most half"),
        (lambda: nn.MaxPool2d(0), ValueError, r"MaxPool2d.*kernel_size must be positive"),
        (lambda: nn.AvgPool2d((2, -1)), ValueError, r"AvgPool2d.*kernel_size must be positive"),
        (lambda: nn.LPPool2d(2, 0), ValueError, r"LPPool2d.*kernel_size must be positive"),
        (lambda: nn.MaxPool2d(2, stride=0), ValueError, r"MaxPool2d.*stride must be positive"),
        (lambda: nn.AvgPool2d(2, stride=(1, -2)), ValueError, r"AvgPool2d.*stride must be pos"),
        (lambda: nn.LPPool2d(2, 2, stride=0), ValueError, r"LPPool2d.*stride must be positive"),
        (lambda: nn.MaxPool2d(2, dilation=0), ValueError, r"MaxPool2d.*dilation must be pos"),
        (lambda: nn.MaxPool2d(2, padding=-1), ValueError, r"MaxPool2d.*padding must be non-neg"),
        (lambda: nn.MaxPool2d(2.5), TypeError, r"MaxPool2d.*kernel_size must be an int or a pair"),
        (lambda: nn.AvgPool2d(2, divisor_override=0), ValueError,
         r"AvgPool2d.*divisor_override must be positive, got 0"),
        (lambda: nn.AvgPool2d(2, divisor_override=2.0), TypeError,
         r"AvgPool2d.*divisor_override must be an int"),
        (lambda: nn.AvgPool2d(2, divisor_override=True), TypeError, r"divisor_override"),
        (lambda: nn.LPPool2d(0, 2), ValueError, r"LPPool2d\(norm_type=0.*must be non-zero"),
        (lambda: nn.LPPool2d(float("nan"), 2), ValueError, r"LPPool2d.*norm_type"),
        (lambda: nn.LPPool2d("2", 2), TypeError, r"LPPool2d.*norm_type must be a number"),
        (lambda: nn.AdaptiveAvgPool2d(0), ValueError, r"AdaptiveAvgPool2d.*output_size"),
        (lambda: nn.AdaptiveAvgPool2d((2, 0)), ValueError,
         r"AdaptiveAvgPool2d\(output_size=\(2, 0\)\).*must be positive, got 0"),
        (lambda: nn.AdaptiveAvgPool2d(2.0), TypeError, r"AdaptiveAvgPool2d.*must be an int"),
        (lambda: nn.AdaptiveAvgPool2d(True), TypeError, r"AdaptiveAvgPool2d"),
        (lambda: nn.AdaptiveAvgPool2d((1, 2, 3)), ValueError, r"AdaptiveAvgPool2d.*output_size"),
    ],
)
def test_pools_reject_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


LAYERS = {
    "MaxPool2d": lambda: nn.MaxPool2d(3),
    "AvgPool2d": lambda: nn.AvgPool2d(3),
    "LPPool2d": lambda: nn.LPPool2d(2, 3),
    "AdaptiveAvgPool2d": lambda: nn.AdaptiveAvgPool2d(2),
}


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((4, 4), np.float32), ValueError,
         r"expected 3-D or 4-D input \(N, C, H, W\) or unbatched \(C, H, W\), got shape \(4, 4\)"),
        (np.zeros((1, 1, 1, 4, 4), np.float32), ValueError, r"got shape \(1, 1, 1, 4, 4\)"),
        (np.zeros((1, 4, 4), np.int64), TypeError, "float32 or float64 input, got dtype int64"),
        (np.zeros((1, 1, 4, 4), np.float16), TypeError, "got dtype float16"),
        ([[[0.0] * 4] * 4], TypeError, "expected a numpy or cupy array, got list"),
    ],
    ids=["2-D", "5-D", "int64", "float16", "list"],
)
def test_pools_reject_bad_input(name, x, error, match):
    with pytest.raises(error, match=rf"^{name}\(.*{match}"):
        LAYERS[name]()(x)


@pytest.mark.parametrize(
    ("layer", "theirs", "shape", "match"),
    [
        (nn.MaxPool2d(3), torch.nn.MaxPool2d(3), (1, 1, 2, 5),
         r"MaxPool2d\(kernel_size=3.*spatial size 2x5.*too small.*3x3.*output would be 0x1"),
        (nn.MaxPool2d(2, dilation=3), torch.nn.MaxPool2d(2, dilation=3), (2, 4, 3),
         r"MaxPool2d.*spatial size 4x3.*too small.*4x4"),
        (nn.AvgPool2d(4, padding=1), torch.nn.AvgPool2d(4, padding=1), (1, 1, 1, 1),
         r"AvgPool2d.*spatial size 1x1.*too small"),
        (nn.LPPool2d(2, (2, 3)), torch.nn.LPPool2d(2, (2, 3)), (3, 4, 2),
         r"LPPool2d.*spatial size 4x2.*too small"),
    ],
)
def test_pools_reject_an_input_smaller_than_the_kernel(layer, theirs, shape, match):
    with pytest.raises(RuntimeError):  # PyTorch refuses it too
        theirs(torch.zeros(shape))
    with pytest.raises(ValueError, match=match):
        layer(np.zeros(shape, np.float32))


@pytest.mark.parametrize("name", list(LAYERS))
def test_pool_backward_checks(name):
    layer = LAYERS[name]()
    with pytest.raises(RuntimeError, match=rf"^{name}\(.*backward\(\) called before forward"):
        layer.backward(np.zeros((1, 1, 2, 2), np.float32))
    out = layer(np.zeros((1, 2, 6, 6), np.float32))
    assert out.shape == (1, 2, 2, 2)
    with pytest.raises(ValueError, match=rf"^{name}\(.*\(1, 2, 2, 2\), got \(1, 2, 2, 3\)"):
        layer.backward(np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match=rf"^{name}\(.*\(1, 2, 2, 2\), got \(2, 2, 2\)"):
        layer.backward(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(TypeError, match=rf"^{name}\(.*dtype float32, got float64"):
        layer.backward(np.zeros(out.shape, np.float64))
    out = layer(np.zeros((2, 6, 6), np.float32))  # unbatched: grad_output must be too
    with pytest.raises(ValueError, match=r"\(2, 2, 2\), got \(1, 2, 2, 2\)"):
        layer.backward(np.zeros((1, *out.shape), np.float32))


def test_max_pool2d_indices_of_an_unbatched_input_are_unbatched():
    x = spaced_distinct((3, 5, 4)).astype(np.float32)
    out, indices = nn.MaxPool2d(2, return_indices=True)(x)
    out_torch, indices_torch = torch.nn.MaxPool2d(2, return_indices=True)(torch.from_numpy(x))
    assert out.shape == indices.shape == tuple(indices_torch.shape)
    np.testing.assert_array_equal(indices, indices_torch.numpy())


@pytest.mark.parametrize("layer", [nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(2)])
def test_pools_reject_empty_channels_or_planes(layer):
    for shape in [(1, 0, 4, 4), (1, 2, 0, 4), (2, 4, 0)]:
        with pytest.raises(ValueError, match=r"non-empty channel, height and width.*got shape"):
            layer(np.zeros(shape, np.float32))


@pytest.mark.parametrize("norm_type", [np.float64(2.0), np.float64(np.inf), np.int64(3)])
def test_lp_pool2d_numpy_scalar_norm_type_keeps_float32(norm_type):
    layer = nn.LPPool2d(norm_type, 2)
    x = np.random.default_rng(0).random((1, 2, 4, 4)).astype(np.float32) + 0.1
    out = layer(x)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32


@pytest.mark.parametrize("norm_type", [float("inf"), -float("inf")])
def test_lp_pool2d_infinite_norm_gradcheck(norm_type):
    rng = np.random.default_rng(0)
    x = (rng.permutation(32) + 1.0) * rng.choice([-1, 1], 32)  # distinct |x|: no ties
    assert mc.gradcheck(nn.LPPool2d(norm_type, 2), x.reshape(2, 1, 4, 4))


def test_pool_attributes_are_torchs():
    for ours, theirs in [(nn.MaxPool2d(3), torch.nn.MaxPool2d(3)),
                         (nn.AvgPool2d((2, 3)), torch.nn.AvgPool2d((2, 3))),
                         (nn.LPPool2d(2, 3), torch.nn.LPPool2d(2, 3))]:
        for name in ("kernel_size", "stride", "ceil_mode"):
            assert getattr(ours, name) == getattr(theirs, name), name


def test_returned_indices_are_the_callers_own():
    layer = nn.MaxPool2d(2, return_indices=True)
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4)).astype(np.float32)
    out, indices = layer(x)
    expected = layer.backward(np.ones_like(out))
    indices[...] = 0
    np.testing.assert_array_equal(layer.backward(np.ones_like(out)), expected)
