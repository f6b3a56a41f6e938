"""Conv2d against torch.nn.Conv2d: every option, both dtypes, plus gradcheck and bad input."""

from __future__ import annotations

from contextlib import nullcontext
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_reference import DEVICE, DTYPES, compare_with_torch, torch_dtype

import minicnn as mc
from minicnn import nn
from minicnn.backend import plain_kernels
from minicnn.functional import conv as conv_functional


def columns_budget(size: int):
    """Unfold at most ``size`` bytes of columns at a time, on the CPU and on the GPU."""
    return mock.patch.multiple(
        conv_functional, COLUMNS_BUDGET_BYTES=size, GPU_COLUMNS_BUDGET_BYTES=size
    )


@st.composite
def conv_cases(draw):
    """A valid Conv2d configuration and an input shape it accepts."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    depthwise = groups > 1 and draw(st.booleans())
    in_channels = groups * (1 if depthwise else draw(st.integers(1, 3)))
    out_channels = groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding_mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.sampled_from(["pair", "int", "same", "valid"]))
    stride = (1, 1) if padding == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if padding == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    elif padding == "int":
        padding = draw(st.integers(0, 3))
    pads = mc.functional.conv2d_pads(
        padding if isinstance(padding, (str, tuple)) else (padding, padding), kernel, dilation
    )
    size = []
    for axis in range(2):
        pad = max(pads[2 * axis], pads[2 * axis + 1])
        span = dilation[axis] * (kernel[axis] - 1) + 1
        needed = max(1, span - pads[2 * axis] - pads[2 * axis + 1])
        if padding_mode == "reflect":
            needed = max(needed, pad + 1)
        elif padding_mode == "circular":
            needed = max(needed, pad)
        size.append(needed + draw(st.integers(0, 5)))
    options = dict(
        stride=stride, padding=padding, dilation=dilation, groups=groups,
        bias=draw(st.booleans()), padding_mode=padding_mode,
    )
    batch = draw(st.sampled_from([None, 1, 2, 3]))  # None: an unbatched (C, H, W) input
    shape = (in_channels, *size) if batch is None else (batch, in_channels, *size)
    return in_channels, out_channels, kernel, options, shape


@given(case=conv_cases(), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("kernels", ["numba", "numba, one image per chunk", "plain"])
@DTYPES
def test_conv2d_matches_torch(case, seed, dtype, kernels):
    """With the Numba kernels, with the batch unfolded one image at a time (as large batches
    are), and with the plain array kernels that CuPy arrays run."""
    in_channels, out_channels, kernel, options, shape = case
    mc.manual_seed(seed)
    ours = nn.Conv2d(in_channels, out_channels, kernel, dtype=dtype, **options)
    theirs = torch.nn.Conv2d(in_channels, out_channels, kernel, dtype=torch_dtype(dtype), **options)
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if kernels == "plain":
        context = plain_kernels()
    elif kernels == "numba":
        context = nullcontext()
    else:
        context = columns_budget(1)
    with context:
        compare_with_torch(ours, theirs, x, seed=seed)


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(stride=2, padding=1, bias=False),
        dict(padding="same", dilation=2, padding_mode="reflect"),
        dict(padding="same"),  # the (3, 2) kernel pads 1 column: all of it on the right
        dict(padding=(2, 1), padding_mode="circular", groups=2),
        dict(padding=1, padding_mode="replicate", stride=(1, 2)),
    ],
)
def test_conv2d_gradcheck(options):
    layer = nn.Conv2d(2, 4, (3, 2), dtype=np.float64, **options)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 6))
    assert mc.gradcheck(layer, x)


def test_conv2d_repr_matches_torch():
    for options in [dict(), dict(stride=2, padding=1, bias=False, padding_mode="reflect"),
                    dict(padding="same", dilation=2, groups=3)]:
        assert repr(nn.Conv2d(3, 6, 3, **options)) == repr(torch.nn.Conv2d(3, 6, 3, **options))


def test_conv2d_default_init_follows_torch_bounds():
    mc.manual_seed(0)
    layer = nn.Conv2d(4, 8, 3, groups=2)
    bound = 1 / np.sqrt(2 * 3 * 3)
    for param in (layer.weight.data, layer.bias.data):
        assert param.dtype == np.float32
        assert np.abs(param).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.8 * bound


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), ValueError,
         "in_channels must be divisible by groups"),
        (dict(in_channels=4, out_channels=3, kernel_size=3, groups=2), ValueError,
         "out_channels must be divisible by groups"),
        (dict(in_channels=1, out_channels=1, kernel_size=3, stride=0), ValueError,
         "stride must be positive"),
        (dict(in_channels=1, out_channels=1, kernel_size=0), ValueError,
         "kernel_size must be positive"),
        (dict(in_channels=1, out_channels=1, kernel_size=3, padding=-1), ValueError,
         "padding must be non-negative"),
        (dict(in_channels=1, out_channels=1, kernel_size=3, stride=2, padding="same"), ValueError,
         "'same' is not supported for strided convolutions"),
        (dict(in_channels=1, out_channels=1, kernel_size=3, padding="full"), ValueError,
         "'same' or 'valid'"),
        (dict(in_channels=1, out_channels=1, kernel_size=3, padding_mode="mirror"), ValueError,
         "padding_mode must be one of"),
        (dict(in_channels=1, out_channels=1, kernel_size=3, dtype=np.float16), TypeError,
         "float32 or float64"),
        (dict(in_channels=1, out_channels=1, kernel_size=2.5), TypeError, "kernel_size"),
    ],
)
def test_conv2d_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        nn.Conv2d(**kwargs)


@pytest.mark.parametrize(
    ("layer", "x", "error", "match"),
    [
        (nn.Conv2d(3, 16, 3), np.zeros((8, 1, 28, 28), np.float32), ValueError,
         r"Conv2d\(3, 16, kernel_size=\(3, 3\).*expected input with 3 channels.*\(8, 1, 28, 28\)"),
        (nn.Conv2d(1, 1, 3), np.zeros((2, 2), np.float32), ValueError,
         r"expected 3-D or 4-D input.*got shape \(2, 2\)"),
        (nn.Conv2d(1, 1, 3), np.zeros((1, 1, 1, 2, 2), np.float32), ValueError, "got shape"),
        (nn.Conv2d(1, 1, 3), np.zeros((1, 1, 2, 2), np.float32), ValueError,
         "smaller than the \\(dilated\\) kernel size 3x3"),
        (nn.Conv2d(1, 1, 3, dilation=2, padding=1), np.zeros((1, 1, 2, 2), np.float32),
         ValueError, "kernel size 5x5"),
        (nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect"), np.zeros((1, 1, 3, 3), np.float32),
         ValueError, "reflect"),
        (nn.Conv2d(1, 1, 3, padding=4, padding_mode="circular"),
         np.zeros((1, 1, 3, 3), np.float32), ValueError, "circular"),
        (nn.Conv2d(1, 1, 3), np.zeros((1, 1, 5, 5), np.float64), TypeError,
         "float64.*float32"),
        (nn.Conv2d(1, 1, 3), np.zeros((1, 1, 5, 5), np.int64), TypeError, "int64"),
        (nn.Conv2d(1, 1, 3), np.zeros((1, 1, 5, 5), np.float16), TypeError, "float16"),
        (nn.Conv2d(1, 1, 3), [[[[0.0] * 5] * 5]], TypeError, "list"),
    ],
)
def test_conv2d_rejects_bad_input(layer, x, error, match):
    with pytest.raises(error, match=match):
        layer(x)


def test_conv2d_backward_checks():
    layer = nn.Conv2d(1, 2, 3)
    with pytest.raises(RuntimeError, match=r"Conv2d\(1, 2.*backward\(\) called before forward"):
        layer.backward(np.zeros((1, 2, 3, 3), np.float32))
    out = layer(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 3\), got \(1, 2, 3, 4\)"):
        layer.backward(np.zeros((1, 2, 3, 4), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        layer.backward(np.zeros(out.shape, np.float64))


def test_conv2d_gradients_accumulate_until_zero_grad():
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((2, 2, 6, 6))
    grad = np.random.default_rng(2).standard_normal((2, 3, 6, 6))
    layer(x)
    layer.backward(grad)
    once = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer(x)
    layer.backward(grad)
    np.testing.assert_allclose(layer.weight.grad, 2 * once[0], rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, 2 * once[1], rtol=1e-12)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


@pytest.mark.parametrize("budget", [None, 1], ids=["columns kept", "columns recomputed"])
def test_conv2d_backward_twice_after_one_forward_gives_the_same_gradients(budget):
    """A batch whose columns fit in one chunk keeps them from the forward; a second backward
    of the same forward must find them intact (and a chunked batch must recompute them)."""
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((3, 2, 6, 6))
    grad = np.random.default_rng(2).standard_normal((3, 3, 6, 6))
    context = (nullcontext() if budget is None
               else columns_budget(budget))
    with context:
        layer(x)
        first = layer.backward(grad), layer.weight.grad.copy()
        second = layer.backward(grad), layer.weight.grad - first[1]
    np.testing.assert_allclose(second[0], first[0], rtol=1e-12)
    np.testing.assert_allclose(second[1], first[1], rtol=1e-12)


def test_conv2d_uneven_chunks_and_an_empty_batch_match_torch():
    """Five images in chunks of two (the last one shorter), and a batch of none."""
    mc.manual_seed(3)
    ours = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    theirs = torch.nn.Conv2d(2, 3, 3, padding=1, dtype=torch.float64)
    x = np.random.default_rng(3).standard_normal((5, 2, 6, 6))
    two_images = 2 * 2 * 9 * 36 * 8  # bytes of two images' columns
    with columns_budget(two_images):
        compare_with_torch(ours, theirs, x, seed=3)
    empty = np.zeros((0, 2, 6, 6))
    ours.zero_grad()
    out = ours(empty)
    grad_x = ours.backward(np.zeros(out.shape))
    assert out.shape == (0, 3, 6, 6) and grad_x.shape == empty.shape
    np.testing.assert_array_equal(ours.weight.grad, np.zeros(ours.weight.shape))
    np.testing.assert_array_equal(ours.bias.grad, np.zeros(3))


def test_conv2d_kept_columns_take_their_gradient_a_few_images_at_a_time():
    """Columns kept from the forward get their gradient in a quarter of the budget: here one
    image at a time (the budget holds the five images' columns, a quarter less than two)."""
    mc.manual_seed(4)
    ours = nn.Conv2d(4, 6, 3, padding=1, groups=2, dtype=np.float64)
    theirs = torch.nn.Conv2d(4, 6, 3, padding=1, groups=2, dtype=torch.float64)
    x = np.random.default_rng(4).standard_normal((5, 4, 6, 6))
    five_images = 5 * 4 * 9 * 36 * 8  # bytes of the batch's columns
    with (columns_budget(five_images),
          mock.patch.object(conv_functional, "_fold_columns_gradient",
                            wraps=conv_functional._fold_columns_gradient) as fold):
        compare_with_torch(ours, theirs, x, seed=4)
    assert [len(call.args[2]) for call in fold.call_args_list] == [1] * 5


def test_conv2d_keeps_the_columns_only_within_the_budget():
    """One image whose columns exceed the budget is unfolded again in backward rather than
    kept: the memory between forward and backward stays bounded."""
    x = np.random.default_rng(4).standard_normal((1, 2, 6, 6))
    weight = np.random.default_rng(5).standard_normal((3, 2, 3, 3))
    pads = (1, 1, 1, 1)
    _, kept = mc.functional.conv2d_forward(x, weight, None, (1, 1), pads)
    assert kept.columns is not None
    with columns_budget(1):
        _, recomputed = mc.functional.conv2d_forward(x, weight, None, (1, 1), pads)
    assert recomputed.columns is None
    grad = np.ones((1, 3, 6, 6))
    for got, expected in zip(mc.functional.conv2d_backward(grad, recomputed),
                             mc.functional.conv2d_backward(grad, kept), strict=True):
        if expected is not None:
            np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "layer, direct",
    [
        (dict(in_channels=1, out_channels=6, kernel_size=5, padding=2), True),
        (dict(in_channels=4, out_channels=8, kernel_size=3, groups=4, padding="same"), True),
        (dict(in_channels=1, out_channels=6, kernel_size=5, padding=2, padding_mode="reflect"),
         True),
        (dict(in_channels=2, out_channels=6, kernel_size=3), False),  # 2 channels per group
        (dict(in_channels=1, out_channels=6, kernel_size=3, stride=2), False),
        (dict(in_channels=1, out_channels=6, kernel_size=3, dilation=2), False),
    ],
)
@DTYPES
def test_conv2d_runs_one_channel_per_group_direct_on_the_cpu(layer, direct, dtype):
    """One input channel per group at unit stride and dilation runs the direct kernels (no
    im2col, no col2im), everything else im2col; both give PyTorch's numbers."""
    from minicnn.backend import cpu

    ours = nn.Conv2d(**layer, dtype=dtype)
    theirs = torch.nn.Conv2d(**layer, dtype=torch_dtype(dtype))
    theirs.weight.data, theirs.bias.data = (torch.from_numpy(p.data.copy())
                                            for p in (ours.weight, ours.bias))
    x = np.random.default_rng(6).standard_normal((3, layer["in_channels"], 9, 8)).astype(dtype)
    x_torch = torch.from_numpy(x).requires_grad_()
    with (mock.patch.object(cpu, "im2col", wraps=cpu.im2col) as im2col,
          mock.patch.object(cpu, "direct_conv2d_forward",
                            wraps=cpu.direct_conv2d_forward) as forward):
        out = ours(x)
        grad_x = ours.backward(np.ones_like(out))
    assert (forward.call_count, im2col.call_count > 0) == ((1, False) if direct else (0, True))
    out_torch = theirs(x_torch)
    out_torch.sum().backward()
    for got, expected in ((out, out_torch), (grad_x, x_torch.grad),
                          (ours.weight.grad, theirs.weight.grad),
                          (ours.bias.grad, theirs.bias.grad)):
        np.testing.assert_allclose(got, expected.detach().numpy(),
                                   rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5)


@pytest.mark.parametrize(
    "layer, winograd",
    [
        (dict(in_channels=32, out_channels=32, kernel_size=3, padding=1), True),
        (dict(in_channels=32, out_channels=40, kernel_size=3, padding="same",
              padding_mode="circular"), True),
        (dict(in_channels=33, out_channels=32, kernel_size=3, padding=(2, 0), bias=False), True),
        (dict(in_channels=31, out_channels=32, kernel_size=3, padding=1), False),
        (dict(in_channels=32, out_channels=31, kernel_size=3, padding=1), False),
        (dict(in_channels=32, out_channels=32, kernel_size=3, padding=3), False),
        (dict(in_channels=32, out_channels=32, kernel_size=3, stride=2), False),
        (dict(in_channels=32, out_channels=32, kernel_size=3, dilation=2), False),
        (dict(in_channels=64, out_channels=64, kernel_size=3, groups=2), False),
        (dict(in_channels=32, out_channels=32, kernel_size=(3, 5)), False),
    ],
)
@DTYPES
def test_conv2d_runs_3x3_over_many_channels_as_winograd_on_the_cpu(layer, winograd, dtype):
    """A 3x3 kernel at unit stride and dilation, one group, >= 32 channels in and out and a
    zero border of at most 2 runs Winograd's F(2x2, 3x3) (no im2col), in chunks as small as
    one image; everything else im2col (and so does every layer on the GPU). Both give
    PyTorch's numbers."""
    ours = nn.Conv2d(**layer, dtype=dtype)
    theirs = torch.nn.Conv2d(**layer, dtype=torch_dtype(dtype))
    x = np.random.default_rng(7).standard_normal((3, layer["in_channels"], 9, 8)).astype(dtype)
    with (columns_budget(1), mock.patch.object(conv_functional, "_column_chunks",
                                               wraps=conv_functional._column_chunks) as im2col):
        compare_with_torch(ours, theirs, x, seed=7)
    assert (im2col.call_count == 0) == (winograd and DEVICE == "cpu")


@pytest.mark.parametrize("planted_in", ["x", "grad_out"])
@pytest.mark.parametrize("planted", [np.inf, -np.inf, np.nan])
def test_conv2d_winograd_leaves_inf_and_nan_to_im2col(planted_in, planted):
    """An inf spreads through Winograd's whole tile (inf - inf = NaN): with one in the input
    or the output gradient, Conv2d computes that pass over im2col and gives PyTorch's
    infinities and NaNs where PyTorch has them."""
    layer = dict(in_channels=32, out_channels=32, kernel_size=3, padding=1)
    ours, theirs = nn.Conv2d(**layer, dtype=np.float64), torch.nn.Conv2d(**layer).double()
    theirs.weight.data, theirs.bias.data = (torch.from_numpy(p.data.copy())
                                            for p in (ours.weight, ours.bias))
    rng = np.random.default_rng(8)
    x, grad = rng.standard_normal((2, 32, 6, 6)), rng.standard_normal((2, 32, 6, 6))
    (x if planted_in == "x" else grad)[1, 3, 2, 4] = planted
    x_torch = torch.from_numpy(x).requires_grad_()
    out_torch = theirs(x_torch)
    out_torch.backward(torch.from_numpy(grad))
    with (np.errstate(invalid="ignore"),
          mock.patch.object(conv_functional, "_column_chunks",
                            wraps=conv_functional._column_chunks) as im2col):
        out = ours(x)
        grad_x = ours.backward(grad)
    assert im2col.call_count == (2 if planted_in == "x" else 1)  # forward and/or backward
    for got, expected in ((out, out_torch), (grad_x, x_torch.grad),
                          (ours.weight.grad, theirs.weight.grad),
                          (ours.bias.grad, theirs.bias.grad)):
        np.testing.assert_allclose(got, expected.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("failing", ["winograd_conv2d_weight_grad", "winograd_conv2d_input_grad"])
@pytest.mark.parametrize("input_grad", [True, False])
def test_conv2d_winograd_backward_falls_back_whole(failing, input_grad):
    """When either Winograd gradient comes back None (an inf, a NaN or an overflow on the
    way), the whole backward runs over im2col; without the input gradient, only the weight
    gradient is computed. Both give PyTorch's numbers."""
    weight = np.random.default_rng(9).standard_normal((32, 32, 3, 3))
    x, grad = (np.random.default_rng(seed).standard_normal((2, 32, 5, 6)) for seed in (10, 11))
    x_torch, w_torch = torch.from_numpy(x).requires_grad_(), torch.from_numpy(weight)
    w_torch.requires_grad_()
    torch.nn.functional.conv2d(x_torch, w_torch, padding=1).backward(torch.from_numpy(grad))
    _, cache = mc.functional.conv2d_forward(x, weight, None, (1, 1), (1, 1, 1, 1))
    assert cache.method == "winograd"
    with (mock.patch.object(conv_functional, failing, return_value=None),
          mock.patch.object(conv_functional, "_column_chunks",
                            wraps=conv_functional._column_chunks) as im2col):
        grad_x, grad_weight, grad_bias = mc.functional.conv2d_backward(grad, cache, input_grad)
    falls_back = input_grad or failing == "winograd_conv2d_weight_grad"
    assert (im2col.call_count == 1) == falls_back and grad_bias is None
    assert (grad_x is None) == (not input_grad)
    np.testing.assert_allclose(grad_weight, w_torch.grad.numpy(), rtol=1e-10, atol=1e-10)
    if input_grad:
        np.testing.assert_allclose(grad_x, x_torch.grad.numpy(), rtol=1e-10, atol=1e-10)
