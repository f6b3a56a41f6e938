"""Each Numba kernel in backend.cpu against its plain twin in backend.plain, and both against
PyTorch (unfold, fold, max_pool2d) or a loop over every element, over random geometry."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_reference import DTYPES, assert_close

from minicnn.backend import cpu, plain


def pair_of(low: int, high: int):
    return st.tuples(st.integers(low, high), st.integers(low, high))


def make_array(values: np.ndarray, layout: str) -> np.ndarray:
    """``values`` as a C-contiguous array, a strided view, or a Fortran-ordered copy: the
    kernels must read any of them."""
    if layout == "strided":
        spread = np.zeros((*values.shape[:-1], 2 * values.shape[-1]), values.dtype)
        spread[..., ::2] = values
        return spread[..., ::2]
    if layout == "fortran":
        return np.asfortranarray(values)
    return values.copy()


def layouts():
    return st.sampled_from(["contiguous", "strided", "fortran"])


@st.composite
def unfold_cases(draw):
    """(N, C, H, W), kernel, stride, zero padding, dilation and the output size, which may leave
    input rows and columns unread at the end; some windows lie wholly in the padding."""
    kernel, stride, dilation = draw(pair_of(1, 4)), draw(pair_of(1, 3)), draw(pair_of(1, 3))
    padding = draw(pair_of(0, 4))
    size = tuple(
        max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 5))
        for k, d, p in zip(kernel, dilation, padding, strict=True)
    )
    out_size = tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(size, kernel, stride, padding, dilation, strict=True)
    )
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *size)
    return shape, kernel, stride, padding, dilation, out_size


# --- im2col / col2im -------------------------------------------------------------------------


@given(case=unfold_cases(), layout=layouts(), seed=st.integers(0, 2**16))
@DTYPES
def test_im2col_twins_match_torch_unfold(case, layout, seed, dtype):
    shape, kernel, stride, padding, dilation, out_size = case
    x = make_array(np.random.default_rng(seed).standard_normal(shape).astype(dtype), layout)
    x_before = x.copy()
    expected = torch.nn.functional.unfold(
        torch.from_numpy(np.ascontiguousarray(x)), kernel, dilation, padding, stride
    ).numpy().transpose(1, 0, 2)  # (N, C*kh*kw, Ho*Wo) -> (C*kh*kw, N, Ho*Wo)
    for kernels in (cpu, plain):
        cols = kernels.im2col(x, kernel, stride, padding, dilation, out_size)
        assert cols.dtype == dtype, kernels.__name__
        np.testing.assert_array_equal(cols, expected, err_msg=kernels.__name__)
        for workspace in (np.full(expected.shape, np.nan, dtype),
                          make_array(np.full(expected.shape, np.nan, dtype), "strided")):
            filled = kernels.im2col(x, kernel, stride, padding, dilation, out_size,
                                    out=workspace)
            assert filled is workspace, kernels.__name__
            np.testing.assert_array_equal(workspace, expected, err_msg=kernels.__name__)
    np.testing.assert_array_equal(x, x_before)


@given(case=unfold_cases(), layout=layouts(), seed=st.integers(0, 2**16))
@DTYPES
def test_col2im_twins_match_torch_fold(case, layout, seed, dtype):
    shape, kernel, stride, padding, dilation, out_size = case
    n, c = shape[:2]
    rows, per_image = c * kernel[0] * kernel[1], out_size[0] * out_size[1]
    values = np.random.default_rng(seed).standard_normal((rows, n, per_image)).astype(dtype)
    folded = torch.nn.functional.fold(
        torch.from_numpy(values.transpose(1, 0, 2).copy()), shape[2:], kernel, dilation,
        padding, stride,
    ).numpy()
    results = {}
    read_only = values.copy()
    read_only.setflags(write=False)
    for kernels in (cpu, plain):
        cols = make_array(values, layout)
        results[kernels] = kernels.col2im(cols, shape, kernel, stride, padding, dilation,
                                          out_size)
        assert_close(results[kernels], folded, dtype, f"{kernels.__name__}.col2im")
        np.testing.assert_array_equal(cols, values)  # left alone unless overwrite_cols
        from_read_only = kernels.col2im(read_only, shape, kernel, stride, padding, dilation,
                                        out_size)
        assert_close(from_read_only, folded, dtype, f"{kernels.__name__}.col2im(read-only)")
        out = np.full(shape, np.nan, dtype)
        filled = kernels.col2im(make_array(values, layout), shape, kernel, stride, padding,
                                dilation, out_size, out=out, overwrite_cols=True)
        assert filled is out, kernels.__name__
        assert_close(out, folded, dtype, f"{kernels.__name__}.col2im(out=, overwrite_cols)")
    assert_close(results[cpu], results[plain], dtype, "col2im: cpu against plain")


# --- direct convolution ----------------------------------------------------------------------


@st.composite
def direct_conv_cases(draw):
    """Unit-stride convolutions with 1-2 input channels per group and zero padding up to past
    the kernel (whole windows in the border), the bottom and right one wider by 0 or 1 (as
    'same' pads an even kernel), as (x shape, weight shape, (top, left) padding, out size)."""
    groups, group_channels = draw(st.integers(1, 3)), draw(st.sampled_from([1, 1, 2]))
    kernel, padding, extra = draw(pair_of(1, 5)), draw(pair_of(0, 5)), draw(pair_of(0, 1))
    size = tuple(max(1, k - 2 * p - e) + draw(st.integers(0, 6))
                 for k, p, e in zip(kernel, padding, extra, strict=True))
    out_size = tuple(n + 2 * p + e - k + 1
                     for n, k, p, e in zip(size, kernel, padding, extra, strict=True))
    shape = (draw(st.integers(0, 3)), groups * group_channels, *size)
    weight_shape = (groups * draw(st.integers(1, 3)), group_channels, *kernel)
    return shape, weight_shape, padding, out_size


@given(case=direct_conv_cases(), layout=layouts(), seed=st.integers(0, 2**16),
       bias=st.booleans(), planted=st.sampled_from([None, None, np.inf, -np.inf, np.nan]),
       planted_in=st.sampled_from(["x", "weight", "grad_out"]))
@DTYPES
def test_direct_conv2d_twins_match_torch(case, layout, seed, bias, planted, planted_in, dtype):
    """Forward and both gradients of the direct convolution, cpu and plain, against torch;
    an inf or NaN planted in one of the arrays must spread as in torch, no further."""
    shape, weight_shape, padding, out_size = case
    rng = np.random.default_rng(seed)
    arrays = {name: rng.standard_normal(s).astype(dtype) for name, s in
              (("x", shape), ("weight", weight_shape),
               ("grad_out", (shape[0], weight_shape[0], *out_size)))}
    if planted is not None and arrays[planted_in].size:
        arrays[planted_in].reshape(-1)[rng.integers(arrays[planted_in].size)] = planted
    x, weight, grad_out = arrays["x"], arrays["weight"], arrays["grad_out"]
    b = rng.standard_normal(weight_shape[0]).astype(dtype) if bias else None
    groups = shape[1] // weight_shape[1]
    x_torch, w_torch = (torch.from_numpy(a).requires_grad_() for a in (x, weight))
    padded = torch.nn.functional.pad(x_torch, (padding[1], out_size[1] + weight_shape[3] - 1
                                               - shape[3] - padding[1], padding[0],
                                               out_size[0] + weight_shape[2] - 1 - shape[2]
                                               - padding[0]))
    out_torch = torch.nn.functional.conv2d(
        padded, w_torch, None if b is None else torch.from_numpy(b), groups=groups)
    out_torch.backward(torch.from_numpy(grad_out))
    results = {}
    for kernels in (cpu, plain):
        x_in, w_in, grad_in = (make_array(a, layout) for a in (x, weight, grad_out))
        b_in = None if b is None else make_array(b, layout)
        with np.errstate(invalid="ignore"):  # inf * 0 = NaN, planted on purpose
            results[kernels] = (
                kernels.direct_conv2d_forward(x_in, w_in, b_in, padding, out_size),
                kernels.direct_conv2d_weight_grad(x_in, grad_in, weight_shape, padding),
                kernels.direct_conv2d_input_grad(grad_in, w_in, shape, padding),
            )
        for result, expected, what in zip(
                results[kernels], (out_torch.detach(), w_torch.grad, x_torch.grad),
                ("forward", "weight_grad", "input_grad"), strict=True):
            assert_close(result, expected.numpy(), dtype, f"{kernels.__name__}.direct {what}")
    for ours, twin in zip(results[cpu], results[plain], strict=True):
        assert_close(ours, twin, dtype, "direct convolution: cpu against plain")


# --- Winograd transforms --------------------------------------------------------------------


@st.composite
def winograd_tile_cases(draw):
    """(x shape, (top, left) zero border, output size): tiles over any output of at least
    1x1, the input possibly past the last tile or short of it (zeros read there)."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *draw(pair_of(1, 9)))
    return shape, draw(pair_of(0, 2)), draw(pair_of(1, 9))


@given(case=winograd_tile_cases(), layout=layouts(), seed=st.integers(0, 2**16),
       bias=st.booleans(), planted=st.sampled_from([None, None, np.inf, -np.inf, np.nan]))
@DTYPES
def test_winograd_transforms_twins(case, layout, seed, bias, planted, dtype):
    """The three transforms, cpu against plain, over the whole wide layout (each tile row's
    extra column zero); the output transform's flag says whether every output is finite. (An
    inf planted in M spreads differently: the plain twin's matrix products multiply it by
    the zeros of A^T too.)"""
    shape, padding, out_size = case
    rng = np.random.default_rng(seed)
    th_n, tw_n = plain.winograd_tiles(out_size)
    tiles = shape[0] * th_n * (tw_n + 1)
    x = rng.standard_normal(shape).astype(dtype)
    grad_out = rng.standard_normal((shape[0], shape[1], *out_size)).astype(dtype)
    m = rng.standard_normal((16, shape[1], tiles)).astype(dtype)
    if planted is not None:
        m.reshape(-1)[rng.integers(m.size)] = planted
    b = rng.standard_normal(shape[1]).astype(dtype) if bias else None
    results = {}
    for kernels in (cpu, plain):
        x_in, grad_in = make_array(x, layout), make_array(grad_out, layout)
        out = np.empty((shape[0], shape[1], *out_size), dtype)
        with np.errstate(invalid="ignore"):
            finite = kernels.winograd_output_transform(m, b, out)
        results[kernels] = (
            kernels.winograd_input_transform(x_in, padding, out_size,
                                             np.full((16, shape[1], tiles), np.nan, dtype)),
            kernels.winograd_gradient_transform(grad_in,
                                                np.full((16, shape[1], tiles), np.nan, dtype)),
            out,
        )
        assert finite == bool(np.isfinite(out).all()), kernels.__name__
    for ours, twin, what in zip(results[cpu], results[plain], ("input", "gradient", "output"),
                                strict=True):
        if what == "output" and planted is not None:
            continue  # the inf spreads differently, as said above
        assert_close(ours, twin, dtype, f"winograd {what} transform: cpu against plain")
    for wide in results[cpu][:2]:  # every entry written (the arrays started as NaN)
        assert np.isfinite(wide).all(), "an entry of the wide layout is not written"
        extra = wide.reshape(16, shape[1], shape[0], th_n, tw_n + 1)[..., tw_n]
        assert not extra.any(), "the extra tile column is not zero"


# --- max pooling -----------------------------------------------------------------------------


@st.composite
def max_pool_geometry(draw):
    """Geometry PyTorch accepts, with an output of at least 1x1; the input may be smaller than
    the dilation, so that a window can step over the whole input."""
    kernel, stride, dilation = draw(pair_of(1, 4)), draw(pair_of(1, 3)), draw(pair_of(1, 3))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(
        max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
        for k, d, p in zip(kernel, dilation, padding, strict=True)
    )
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *size)
    ceil_mode = draw(st.booleans())
    return shape, kernel, stride, padding, dilation, ceil_mode


def draw_pool_input(draw, shape, dtype):
    """Normal values, small integers (ties), or a mix with NaN and -inf."""
    kind = draw(st.sampled_from(["normal", "ties", "special"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "normal":
        return rng.standard_normal(shape).astype(dtype)
    if kind == "ties":
        return rng.integers(0, 3, size=shape).astype(dtype)
    values = [-np.inf, np.nan, 0.0, 1.0]
    return rng.choice(values, size=shape, p=[0.4, 0.1, 0.25, 0.25]).astype(dtype)


def torch_max_pool(x, kernel, stride, padding, dilation, ceil_mode):
    out, indices = torch.nn.functional.max_pool2d(
        torch.from_numpy(np.ascontiguousarray(x)), kernel, stride, padding, dilation,
        ceil_mode=ceil_mode, return_indices=True,
    )
    return out.numpy(), indices.numpy()


@given(case=max_pool_geometry(), layout=layouts(), data=st.data())
@DTYPES
def test_max_pool2d_forward_twins_match_torch(case, layout, data, dtype):
    """Outputs and indices equal PyTorch's exactly: first maximum in window order, last NaN,
    PyTorch's starting index for windows of -inf or windows that miss the input."""
    shape, kernel, stride, padding, dilation, ceil_mode = case
    values = draw_pool_input(data.draw, shape, dtype)
    x = make_array(values, layout)
    out_torch, indices_torch = torch_max_pool(values, kernel, stride, padding, dilation, ceil_mode)
    for kernels in (cpu, plain):
        out, indices = kernels.max_pool2d_forward(
            x, kernel, stride, padding, dilation, out_torch.shape[2:]
        )
        assert out.dtype == dtype and indices.dtype == np.int64, kernels.__name__
        np.testing.assert_array_equal(out, out_torch, err_msg=kernels.__name__)
        np.testing.assert_array_equal(indices, indices_torch, err_msg=kernels.__name__)
    np.testing.assert_array_equal(x, values)


@given(
    size=pair_of(2, 9), batch=st.integers(1, 3), ceil_mode=st.booleans(), layout=layouts(),
    data=st.data(),
)
@DTYPES
def test_max_pool2d_2x2_fast_path_matches_torch(size, batch, ceil_mode, layout, data, dtype):
    """MaxPool2d(2), which the Numba twin runs through an unrolled kernel when every window
    lies inside the input (odd sizes leave a row or column out; ceil_mode then takes the
    general kernel): ties, NaN and -inf as PyTorch, including the last NaN of a window."""
    shape = (batch, 2, *size)
    values = draw_pool_input(data.draw, shape, dtype)
    x = make_array(values, layout)
    out_torch, indices_torch = torch_max_pool(values, (2, 2), (2, 2), (0, 0), (1, 1), ceil_mode)
    for kernels in (cpu, plain):
        out, indices = kernels.max_pool2d_forward(
            x, (2, 2), (2, 2), (0, 0), (1, 1), out_torch.shape[2:]
        )
        np.testing.assert_array_equal(out, out_torch, err_msg=kernels.__name__)
        np.testing.assert_array_equal(indices, indices_torch, err_msg=kernels.__name__)


def scatter_reference(grad_out, indices, in_size):
    """grad_in[n, c].flat[indices[n, c, i]] += grad_out[n, c, i] in float64; indices outside
    the plane are dropped."""
    n, c = grad_out.shape[:2]
    plane = in_size[0] * in_size[1]
    grad_in = np.zeros((n * c, plane))
    flat_indices = indices.reshape(n * c, -1)
    flat_grad = grad_out.reshape(n * c, -1).astype(np.float64)
    for row in range(n * c):
        inside = (flat_indices[row] >= 0) & (flat_indices[row] < plane)
        np.add.at(grad_in[row], flat_indices[row][inside], flat_grad[row][inside])
    return grad_in.reshape(n, c, *in_size)


@st.composite
def scatter_cases(draw):
    """Indices from a real max pool, or arbitrary ones: repeated, and some past the plane."""
    shape, kernel, stride, padding, dilation, ceil_mode = draw(max_pool_geometry())
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    _, indices = torch_max_pool(
        rng.standard_normal(shape), kernel, stride, padding, dilation, ceil_mode
    )
    if draw(st.booleans()):
        plane = shape[2] * shape[3]
        indices = rng.integers(0, plane + plane // 2 + 1, size=indices.shape)
    return indices, shape[2:], seed


@given(case=scatter_cases(), layout=layouts())
@DTYPES
def test_max_pool2d_backward_twins_scatter_and_add(case, layout, dtype):
    indices, in_size, seed = case
    values = np.random.default_rng(seed).standard_normal(indices.shape).astype(dtype)
    grad_out = make_array(values, layout)
    expected = scatter_reference(values, indices, in_size)
    results = {}
    for kernels in (cpu, plain):
        results[kernels] = kernels.max_pool2d_backward(grad_out, make_array(indices, layout),
                                                       in_size)
        assert_close(results[kernels], expected, dtype, f"{kernels.__name__}.max_pool2d_backward")
    assert_close(results[cpu], results[plain], dtype, "max_pool2d_backward: cpu against plain")
    np.testing.assert_array_equal(grad_out, values)


# --- window means (average and adaptive average pooling) -------------------------------------


@st.composite
def window_cases(draw):
    """Arbitrary non-empty windows [start, end) on each axis, possibly overlapping, with a
    positive integer divisor for each output."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *draw(pair_of(1, 7)))
    out_size = draw(pair_of(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    bounds = []
    for size, out in zip(shape[2:], out_size, strict=True):
        start = rng.integers(0, size, size=out)
        end = start + 1 + rng.integers(0, size - start)
        bounds += [start.astype(np.int64), end.astype(np.int64)]
    divisor = rng.integers(1, 10, size=out_size)
    return shape, bounds, divisor


def window_mean_reference(x, row_start, row_end, col_start, col_end, divisor):
    x = x.astype(np.float64)
    out = np.empty((*x.shape[:2], *divisor.shape))
    for oh, ow in np.ndindex(divisor.shape):
        window = x[:, :, row_start[oh] : row_end[oh], col_start[ow] : col_end[ow]]
        out[:, :, oh, ow] = window.sum(axis=(2, 3)) / divisor[oh, ow]
    return out


def window_mean_backward_reference(grad_out, in_size, row_start, row_end, col_start, col_end,
                                   divisor):
    grad_out = grad_out.astype(np.float64)
    grad_in = np.zeros((*grad_out.shape[:2], *in_size))
    for oh, ow in np.ndindex(divisor.shape):
        share = grad_out[:, :, oh, ow, None, None] / divisor[oh, ow]
        grad_in[:, :, row_start[oh] : row_end[oh], col_start[ow] : col_end[ow]] += share
    return grad_in


@given(case=window_cases(), layout=layouts(), seed=st.integers(0, 2**16))
@DTYPES
def test_window_mean_forward_twins(case, layout, seed, dtype):
    shape, bounds, divisor = case
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x = make_array(values, layout)
    expected = window_mean_reference(values, *bounds, divisor)
    results = {}
    for kernels in (cpu, plain):
        results[kernels] = kernels.window_mean_forward(x, *bounds, divisor)
        assert_close(results[kernels], expected, dtype, f"{kernels.__name__}.window_mean_forward")
    assert_close(results[cpu], results[plain], dtype, "window_mean_forward: cpu against plain")
    np.testing.assert_array_equal(x, values)


@given(case=window_cases(), layout=layouts(), seed=st.integers(0, 2**16))
@DTYPES
def test_window_mean_backward_twins(case, layout, seed, dtype):
    shape, bounds, divisor = case
    out_shape = (*shape[:2], *divisor.shape)
    values = np.random.default_rng(seed).standard_normal(out_shape).astype(dtype)
    grad_out = make_array(values, layout)
    expected = window_mean_backward_reference(values, shape[2:], *bounds, divisor)
    results = {}
    for kernels in (cpu, plain):
        results[kernels] = kernels.window_mean_backward(grad_out, shape[2:], *bounds, divisor)
        assert_close(results[kernels], expected, dtype, f"{kernels.__name__}.window_mean_backward")
    assert_close(results[cpu], results[plain], dtype, "window_mean_backward: cpu against plain")
    np.testing.assert_array_equal(grad_out, values)


# --- ReLU ------------------------------------------------------------------------------------


@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple),
    layout=layouts(),
    seed=st.integers(0, 2**16),
    in_place=st.booleans(),
)
@DTYPES
def test_relu_forward_twins_match_torch(shape, layout, seed, in_place, dtype):
    """Zeros of both signs, NaN and infinities among the inputs: y = max(x, 0), NaN staying
    NaN, into a new array or, given ``out=x``, into the input."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0], dtype)
    values = np.where(rng.random(shape) < 0.3, rng.choice(special, shape),
                      rng.standard_normal(shape)).astype(dtype)
    expected = torch.relu(torch.from_numpy(values)).numpy()
    for kernels in (cpu, plain):
        x = make_array(values, layout)
        result = kernels.relu_forward(x, out=x if in_place else None)
        assert result.dtype == dtype and result.shape == shape, kernels.__name__
        np.testing.assert_array_equal(result, expected, err_msg=kernels.__name__)
        np.testing.assert_array_equal(x, expected if in_place else values,
                                      err_msg=kernels.__name__)


# --- ReLU backward ---------------------------------------------------------------------------


@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple),
    layout=layouts(),
    seed=st.integers(0, 2**16),
)
@DTYPES
def test_relu_backward_twins_match_torch(shape, layout, seed, dtype):
    """Outputs with zeros of both signs, NaN and infinities: the gradient passes where y > 0
    or y is NaN (torch's threshold_backward), and nowhere else."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0], dtype)
    x = np.where(rng.random(shape) < 0.3, rng.choice(special, shape), rng.standard_normal(shape))
    x = x.astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    x_torch = torch.from_numpy(x.copy()).requires_grad_(True)
    torch.relu(x_torch).backward(torch.from_numpy(grad))
    expected = x_torch.grad.numpy()
    out = np.maximum(x, 0)
    for kernels in (cpu, plain):
        result = kernels.relu_backward(make_array(grad, layout), make_array(out, layout))
        assert result.dtype == dtype and result.shape == shape, kernels.__name__
        np.testing.assert_array_equal(result, expected, err_msg=kernels.__name__)


def test_relu_backward_twins_broadcast_the_output_alike():
    grad = np.arange(6.0).reshape(2, 3)
    out = np.array([[1.0, -1.0, 0.5]])
    expected = np.array([[0.0, 0.0, 2.0], [3.0, 0.0, 5.0]])
    for kernels in (cpu, plain):
        np.testing.assert_array_equal(kernels.relu_backward(grad, out), expected,
                                      err_msg=kernels.__name__)
