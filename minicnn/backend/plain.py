"""Plain array versions of the hot loops: slices and reshapes, no Numba.

Each function here is the reference its Numba twin in ``backend.cpu`` is tested against, the
version that runs on CuPy arrays, and the one to read first. They take any array module.

Shapes: ``x`` is (N, C, H, W); a window of kernel (kh, kw), stride (sh, sw), padding
(ph, pw) and dilation (dh, dw) at output position (oh, ow) reads rows ``oh*sh - ph + i*dh``
and columns ``ow*sw - pw + j*dw`` for i < kh, j < kw; positions outside the input read the
padding value (zero for im2col, -inf for max pooling).
"""

from __future__ import annotations

import numpy as np

from minicnn.backend.devices import array_module

Pair = tuple[int, int]


def _window_slices(i: int, j: int, stride: Pair, dilation: Pair, out_size: Pair):
    """The (rows, cols) slices that kernel offset (i, j) reads for every output position."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_size
    rows = slice(i * dh, i * dh + (ho - 1) * sh + 1, sh)
    cols = slice(j * dw, j * dw + (wo - 1) * sw + 1, sw)
    return rows, cols


def sliding_windows(x, kernel: Pair, stride: Pair, dilation: Pair, out_size: Pair):
    """Every window of ``x``: (N, C, H, W) -> (N, C, kh, kw, Ho, Wo)."""
    xp = array_module(x)
    n, c = x.shape[:2]
    windows = xp.empty((n, c, *kernel, *out_size), dtype=x.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows, cols = _window_slices(i, j, stride, dilation, out_size)
            windows[:, :, i, j] = x[:, :, rows, cols]
    return windows


def fold_windows(windows, shape: tuple, stride: Pair, dilation: Pair):
    """The adjoint of ``sliding_windows``: add each window element back where it was read.

    (N, C, kh, kw, Ho, Wo) -> an array of ``shape`` (N, C, H, W); overlapping windows add up.
    """
    xp = array_module(windows)
    kh, kw, ho, wo = windows.shape[2:]
    x = xp.zeros(shape, dtype=windows.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, cols = _window_slices(i, j, stride, dilation, (ho, wo))
            x[:, :, rows, cols] += windows[:, :, i, j]
    return x


def window_padding(size: Pair, padding: Pair, kernel: Pair, stride: Pair, dilation: Pair,
                   out_size: Pair) -> tuple:
    """numpy.pad widths that put ``padding`` (top, left) before the last two axes and enough
    after them for the last window (which may end before the input does, or past it)."""
    widths = []
    for n, p, k, s, d, o in zip(size, padding, kernel, stride, dilation, out_size, strict=True):
        widths.append((p, max(0, (o - 1) * s + (k - 1) * d + 1 - n - p)))
    return ((0, 0), (0, 0), *widths)


def im2col(x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair,
           out=None):
    """Unfold (N, C, H, W) into columns (C*kh*kw, N, Ho*Wo).

    Row ``(c*kh + i)*kw + j`` holds input channel c at kernel offset (i, j); entry [n, oh*Wo +
    ow] of that row is what the window at output position (oh, ow) of image n reads there.
    ``padding`` (top, left) shifts the windows up and left over a zero border. Viewed as
    (C*kh*kw, N*Ho*Wo), one GEMM with the weights (O, C*kh*kw) computes the convolution.
    ``out`` receives the columns if given.
    """
    n, c = x.shape[:2]
    widths = window_padding(x.shape[2:], padding, kernel, stride, dilation, out_size)
    padded = array_module(x).pad(x, widths)
    windows = sliding_windows(padded, kernel, stride, dilation, out_size)
    columns = windows.transpose(1, 2, 3, 0, 4, 5)  # (C, kh, kw, N, Ho, Wo)
    columns = columns.reshape(c * kernel[0] * kernel[1], n, out_size[0] * out_size[1])
    if out is None:
        return columns
    out[...] = columns
    return out


def col2im(cols, shape: tuple, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
           out_size: Pair, out=None, overwrite_cols: bool = False):
    """The adjoint of ``im2col``: (C*kh*kw, N, Ho*Wo) -> (N, C, H, W) of ``shape``.

    Each column entry is added back to the input pixel it was copied from (overlapping windows
    add up); entries copied from the zero border are dropped. ``out`` receives the result if
    given. ``overwrite_cols`` lets the Numba twin use ``cols`` as scratch space; this one never
    changes it.
    """
    n, c, h, w = shape
    widths = window_padding((h, w), padding, kernel, stride, dilation, out_size)
    padded_shape = (n, c, h + sum(widths[2]), w + sum(widths[3]))
    windows = cols.reshape(c, *kernel, n, *out_size).transpose(3, 0, 1, 2, 4, 5)
    folded = fold_windows(windows, padded_shape, stride, dilation)
    result = folded[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w]
    if out is None:
        return result
    out[...] = result
    return out


_UNIT = (1, 1)


def _grouped(x_shape: tuple, weight_shape: tuple, padding: Pair, out_size: Pair):
    """(numpy.pad widths, (g, O/g, C/g, kh, kw)) of a grouped convolution with unit stride and
    dilation. Input channel c of group k is channel k*C/g + c, so ``x[:, c::C/g]`` holds
    channel c of every group, in group order."""
    widths = window_padding(x_shape[2:], padding, weight_shape[2:], _UNIT, _UNIT, out_size)
    groups = x_shape[1] // weight_shape[1]
    return widths, (groups, weight_shape[0] // groups, *weight_shape[1:])


def direct_conv2d_forward(x, weight, bias, padding: Pair, out_size: Pair):
    """A convolution without columns, unit stride and dilation: (N, C, H, W) -> (N, O, Ho, Wo);
    ``bias`` (O,) or None.

    out[n, o] = bias[o] + the sum over kernel offsets (c, i, j) of weight[o, c, i, j] times
    the windows' entries at offset (i, j) of input channel c of o's group, ``padding`` (top,
    left) being a zero border: one multiply-add of a shifted plane per offset. The kernel for
    one input channel per group, where im2col's GEMMs would have K = kh*kw.
    """
    xp = array_module(x)
    widths, grouped_shape = _grouped(x.shape, weight.shape, padding, out_size)
    groups, per_group, group_channels, kh, kw = grouped_shape
    padded, grouped_weight = xp.pad(x, widths), weight.reshape(grouped_shape)
    out = xp.zeros((x.shape[0], groups, per_group, *out_size), dtype=x.dtype)
    if bias is not None:
        out += bias.reshape(groups, per_group, 1, 1)
    for c in range(group_channels):
        channel = padded[:, c::group_channels, None]  # (N, g, 1, Hp, Wp)
        for i in range(kh):
            for j in range(kw):
                rows, cols = _window_slices(i, j, _UNIT, _UNIT, out_size)
                out += grouped_weight[:, :, c, i, j, None, None] * channel[..., rows, cols]
    return out.reshape(x.shape[0], weight.shape[0], *out_size)


def direct_conv2d_weight_grad(x, grad_out, weight_shape: tuple, padding: Pair):
    """d loss / d weight of ``direct_conv2d_forward``, of ``weight_shape`` (O, C/g, kh, kw):
    grad_weight[o, c, i, j] = the sum over n, oh, ow of grad_out[n, o, oh, ow] times the
    input entry that offset (c, i, j) multiplied at (oh, ow)."""
    xp = array_module(x)
    out_size = grad_out.shape[2:]
    widths, grouped_shape = _grouped(x.shape, weight_shape, padding, out_size)
    groups, per_group, group_channels, kh, kw = grouped_shape
    padded = xp.pad(x, widths)
    grad_rows = grad_out.reshape(grad_out.shape[0], groups, per_group, *out_size)
    grad_weight = xp.empty(grouped_shape, dtype=grad_out.dtype)
    for c in range(group_channels):
        channel = padded[:, c::group_channels, None]
        for i in range(kh):
            for j in range(kw):
                rows, cols = _window_slices(i, j, _UNIT, _UNIT, out_size)
                products = grad_rows * channel[..., rows, cols]
                grad_weight[:, :, c, i, j] = products.sum(axis=(0, 3, 4))
    return grad_weight.reshape(weight_shape)


def direct_conv2d_input_grad(grad_out, weight, in_shape: tuple, padding: Pair):
    """d loss / d x of ``direct_conv2d_forward``, of ``in_shape`` (N, C, H, W): each output's
    gradient times weight[o, c, i, j] goes back to the entry that offset read; entries of the
    zero border are dropped."""
    xp = array_module(grad_out)
    n, _, h, w = in_shape
    out_size = grad_out.shape[2:]
    widths, grouped_shape = _grouped(in_shape, weight.shape, padding, out_size)
    groups, per_group, group_channels, kh, kw = grouped_shape
    grouped_weight = weight.reshape(grouped_shape)
    grad_rows = grad_out.reshape(n, groups, per_group, *out_size)
    grad_padded = xp.zeros((n, in_shape[1], h + sum(widths[2]), w + sum(widths[3])),
                           dtype=grad_out.dtype)
    for c in range(group_channels):
        channel = grad_padded[:, c::group_channels]  # a view: (N, g, Hp, Wp)
        for i in range(kh):
            for j in range(kw):
                rows, cols = _window_slices(i, j, _UNIT, _UNIT, out_size)
                products = grouped_weight[:, :, c, i, j, None, None] * grad_rows
                channel[..., rows, cols] += products.sum(axis=2)  # over the group's outputs
    return grad_padded[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w]


# --- Winograd F(2x2, 3x3) -------------------------------------------------------------------
# A 3x3 convolution at unit stride computes each 2x2 block of its output (a "tile") from the
# 4x4 input patch d under it, as out_tile = A^T [(G g G^T) * (B^T d B)] A: g is the 3x3
# kernel, * elementwise. Summed over the input channels, the 16 entries of the transformed
# patch become 16 matrix products (O, C) @ (C, tiles), with 16 multiplies a tile and channel
# pair where the plain sum has 36. The transforms only add and subtract (B and A hold 0 and
# +-1) or halve (G).
#
# Transformed tiles lie "wide": the 16 entries of tile (th, tw) of image n at column
# (n*th_n + th)*(tw_n + 1) + tw of a (16, channels, N*th_n*(tw_n + 1)) array, entry (k, m) of
# the 4x4 at row 4*k + m. Column tw_n of each tile row is an extra zero: the Numba twins run
# their loops across whole planes, row boundaries included.
WINOGRAD_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
WINOGRAD_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])


def winograd_tiles(out_size: Pair) -> Pair:
    """(rows, columns) of the 2x2 tiles covering an output of ``out_size``."""
    return (out_size[0] + 1) // 2, (out_size[1] + 1) // 2


def _to_wide(tiles, out):
    """(N, C, th_n, tw_n, 4, 4) tiles into ``out``, the wide (16, C, N*th_n*(tw_n + 1))."""
    n, channels, th_n, tw_n = tiles.shape[:4]
    wide = out.reshape(16, channels, n, th_n, tw_n + 1)
    wide[..., tw_n] = 0
    wide[..., :tw_n] = tiles.transpose(4, 5, 1, 0, 2, 3).reshape(16, channels, n, th_n, tw_n)
    return out


def winograd_input_transform(x, padding: Pair, out_size: Pair, out):
    """(N, C, H, W) -> ``out`` (16, C, N*th_n*(tw_n + 1)): each tile's patch d as B^T d B.

    The patch of tile (th, tw) holds rows 2*th - top ... + 3 and columns 2*tw - left ... + 3
    of x, zero outside it; ``padding`` is (top, left), ``out_size`` the convolution's
    (Ho, Wo). Input past the last tile is not read.
    """
    xp = array_module(x)
    n, channels, h, w = x.shape
    th_n, tw_n = winograd_tiles(out_size)
    top, left = padding
    rows, cols = min(h, 2 * th_n + 2 - top), min(w, 2 * tw_n + 2 - left)
    padded = xp.zeros((n, channels, 2 * th_n + 2, 2 * tw_n + 2), dtype=x.dtype)
    padded[:, :, top : top + rows, left : left + cols] = x[:, :, :rows, :cols]
    patches = xp.empty((n, channels, th_n, tw_n, 4, 4), dtype=x.dtype)
    for r in range(4):
        for s in range(4):
            patches[..., r, s] = padded[:, :, r : r + 2 * th_n : 2, s : s + 2 * tw_n : 2]
    bt = xp.asarray(WINOGRAD_BT, dtype=x.dtype)
    return _to_wide(bt @ patches @ bt.T, out)


def winograd_output_transform(m, bias, out) -> bool:
    """Wide (16, O, N*th_n*(tw_n + 1)) -> ``out`` (N, O, Ho, Wo): each tile's 2x2 outputs
    A^T M A, plus ``bias`` (O,) unless None. Returns whether every output is finite."""
    xp = array_module(m)
    n, channels, ho, wo = out.shape
    th_n, tw_n = winograd_tiles((ho, wo))
    tiles = m.reshape(4, 4, channels, n, th_n, tw_n + 1)[..., :tw_n].transpose(3, 2, 4, 5, 0, 1)
    at = xp.asarray(WINOGRAD_AT, dtype=m.dtype)
    blocks = (at @ tiles @ at.T).transpose(0, 1, 2, 4, 3, 5)  # (N, O, th_n, 2, tw_n, 2)
    out[...] = blocks.reshape(n, channels, 2 * th_n, 2 * tw_n)[:, :, :ho, :wo]
    if bias is not None:
        out += bias.reshape(-1, 1, 1)
    return bool(xp.isfinite(out).all())


def winograd_gradient_transform(grad_out, out):
    """(N, O, Ho, Wo) -> ``out`` (16, O, N*th_n*(tw_n + 1)): each tile's 2x2 gradient y as
    A y A^T (zero past Ho and Wo), the adjoint of the output transform."""
    xp = array_module(grad_out)
    n, channels, ho, wo = grad_out.shape
    th_n, tw_n = winograd_tiles((ho, wo))
    padded = xp.zeros((n, channels, 2 * th_n, 2 * tw_n), dtype=grad_out.dtype)
    padded[:, :, :ho, :wo] = grad_out
    blocks = padded.reshape(n, channels, th_n, 2, tw_n, 2).transpose(0, 1, 2, 4, 3, 5)
    a = xp.asarray(WINOGRAD_AT.T, dtype=grad_out.dtype)
    return _to_wide(a @ blocks @ a.T, out)


def max_pool2d_forward(
    x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair
):
    """Max over each window of (N, C, H, W), padded with -inf: returns (out, indices).

    ``indices`` holds the flat position h*W + w of each maximum in its (H, W) plane, PyTorch's
    choice among equals: the first maximum in window order, or the last NaN if there is one.
    A window that dilation makes step over the whole input gives -inf and PyTorch's index,
    which then lies past the input (sometimes past the plane); backward drops those.
    """
    xp = array_module(x)
    n, c, h, w = x.shape
    kh, kw = kernel
    # Pad enough for the last window (ceil_mode may let it hang past the padding).
    pad_widths = window_padding((h, w), padding, kernel, stride, dilation, out_size)
    padded = xp.pad(x, pad_widths, mode="constant", constant_values=-xp.inf)
    inside = xp.pad(xp.ones((1, 1, h, w), dtype=bool), pad_widths, mode="constant")
    windows = sliding_windows(padded, kernel, stride, dilation, out_size)
    windows = windows.reshape(n, c, kh * kw, *out_size)
    valid = sliding_windows(inside, kernel, stride, dilation, out_size).reshape(kh * kw, *out_size)

    out = windows.max(axis=2)  # NaN propagates
    is_max = (windows == out[:, :, None]) & valid
    first_max = xp.argmax(is_max, axis=2)
    is_nan = xp.isnan(windows)
    last_nan = kh * kw - 1 - xp.argmax(is_nan[:, :, ::-1], axis=2)
    offset = xp.where(is_nan.any(axis=2), last_nan, first_max)
    # A window with no maximum inside the input (all -inf, or one that dilation makes skip the
    # input) keeps PyTorch's starting guess: the first offset at a non-negative row and column.
    first_row = -(-xp.maximum(padding[0] - xp.arange(out_size[0]) * stride[0], 0) // dilation[0])
    first_col = -(-xp.maximum(padding[1] - xp.arange(out_size[1]) * stride[1], 0) // dilation[1])
    first_inside = first_row.reshape(-1, 1) * kw + first_col
    offset = xp.where(is_max.any(axis=2) | is_nan.any(axis=2), offset, first_inside)

    i, j = offset // kw, offset % kw
    rows = xp.arange(out_size[0]).reshape(-1, 1) * stride[0] - padding[0] + i * dilation[0]
    cols = xp.arange(out_size[1]) * stride[1] - padding[1] + j * dilation[1]
    return out, (rows * w + cols).astype(xp.int64)


def max_pool2d_backward(grad_out, indices, in_size: Pair):
    """Send each output gradient to the input position its maximum came from (adding up)."""
    xp = array_module(grad_out)
    n, c = grad_out.shape[:2]
    h, w = in_size
    indices = indices.reshape(n * c, grad_out.shape[2] * grad_out.shape[3])
    # An index past its plane (a window that dilation makes skip the input; its output is a
    # constant -inf) sends no gradient: it is redirected to position 0 with weight 0.
    inside = (indices >= 0) & (indices < h * w)
    planes = xp.arange(n * c).reshape(-1, 1) * (h * w)
    targets = (planes + xp.where(inside, indices, 0)).ravel()
    weights = xp.where(inside, grad_out.reshape(indices.shape), 0).ravel()
    # bincount sums in float64 on both NumPy and CuPy; the result is cast back once.
    grad_in = xp.bincount(targets, weights=weights, minlength=n * c * h * w)
    grad_in = grad_in.astype(grad_out.dtype, copy=False)
    return grad_in.reshape(n, c, h, w)


def relu_forward(x, out=None):
    """y = max(x, 0), NaN staying NaN; ``out`` receives y if given (it may be ``x``)."""
    return array_module(x).maximum(x, 0, out=out)


def relu_backward(grad_out, out):
    """grad_x = grad_out where y > 0, else 0 (PyTorch's rule: zero exactly where y <= 0, so a
    NaN output passes its gradient)."""
    xp = array_module(grad_out)
    return xp.where(out <= 0, xp.zeros((), dtype=grad_out.dtype), grad_out)


def window_mean_forward(x, row_start, row_end, col_start, col_end, divisor):
    """Sum each rectangular window of (N, C, H, W) and divide: the average pools' one loop.

    Output (oh, ow) sums rows ``row_start[oh]:row_end[oh]`` and columns
    ``col_start[ow]:col_end[ow]``, then divides by ``divisor[oh, ow]``. Sums over columns first,
    then over rows: (N, C, H, W) -> (N, C, H, Wo) -> (N, C, Ho, Wo).
    """
    xp = array_module(x)
    n, c, h = x.shape[:3]
    ho, wo = divisor.shape
    col_sums = xp.empty((n, c, h, wo), dtype=x.dtype)
    for ow in range(wo):
        col_sums[..., ow] = x[..., int(col_start[ow]) : int(col_end[ow])].sum(axis=-1)
    out = xp.empty((n, c, ho, wo), dtype=x.dtype)
    for oh in range(ho):
        out[:, :, oh] = col_sums[:, :, int(row_start[oh]) : int(row_end[oh])].sum(axis=2)
    return out / xp.asarray(divisor, dtype=x.dtype)


def window_mean_backward(grad_out, in_size: Pair, row_start, row_end, col_start, col_end, divisor):
    """The adjoint of ``window_mean_forward``: each window element gets grad / divisor."""
    xp = array_module(grad_out)
    n, c, ho, wo = grad_out.shape
    h, w = in_size
    scaled = grad_out / xp.asarray(divisor, dtype=grad_out.dtype)
    row_grad = xp.zeros((n, c, h, wo), dtype=grad_out.dtype)
    for oh in range(ho):
        row_grad[:, :, int(row_start[oh]) : int(row_end[oh])] += scaled[:, :, oh : oh + 1]
    grad_in = xp.zeros((n, c, h, w), dtype=grad_out.dtype)
    for ow in range(wo):
        grad_in[..., int(col_start[ow]) : int(col_end[ow])] += row_grad[..., ow : ow + 1]
    return grad_in


def sgd_momentum_step(weight, g, buffer, lr: float, momentum: float, dampening: float,
                      nesterov: bool):
    """One step of SGD with momentum, in place; returns the momentum buffer b:

        b <- g on the first step (``buffer`` None), else momentum * b + (1 - dampening) * g
        w <- w - lr * (g + momentum * b if nesterov else b)
    """
    if buffer is None:
        buffer = array_module(weight).array(g, copy=True)
    else:
        buffer *= momentum
        buffer += (1 - dampening) * g
    step = g + momentum * buffer if nesterov else buffer
    weight -= lr * step
    return buffer


def cross_entropy_rows(logits, target, weight, ignore_index: int):
    """Cross-entropy of each row of (N, C) logits against its int64 class index, as the general
    path computes it (log_softmax, then pick): returns four (N,) arrays

        top_i     = max_c x_ic,   log_sum_i = log sum_c exp(x_ic - top_i)
        weight_i  = w[t_i] (1 without class weights), 0 where t_i == ignore_index
        loss_i    = -weight_i * ((x_it - top_i) - log_sum_i), 0 where t_i == ignore_index
    """
    xp = array_module(logits)
    zero = xp.zeros((), logits.dtype)
    top = logits.max(axis=1)
    log_sum = xp.log(xp.exp(logits - top[:, None]).sum(axis=1))
    counted = target != ignore_index
    safe = xp.where(counted, target, 0)
    picked = xp.take_along_axis(logits, safe[:, None], axis=1)[:, 0]
    if weight is None:
        row_weight = counted.astype(logits.dtype)
    else:
        row_weight = xp.where(counted, weight[safe], zero)
    with np.errstate(invalid="ignore"):  # 0 * -inf in ignored rows: replaced by 0
        loss = xp.where(counted, -row_weight * ((picked - top) - log_sum), zero)
    return loss, row_weight, top, log_sum


def cross_entropy_rows_backward(scale, logits, target, row_weight, top, log_sum,
                                ignore_index: int):
    """d loss / d logits for ``cross_entropy_rows``, with ``scale`` = d reduced / d loss_i (a
    0-d array or (N,)): with v_i = -weight_i * scale_i (0 where ignored) and p the softmax,

        grad_ic = v_i [c == t_i] - p_ic v_i,   p_ic = exp((x_ic - top_i) - log_sum_i)
    """
    xp = array_module(logits)
    counted = target != ignore_index
    with np.errstate(invalid="ignore"):  # 0 * inf where nothing counts: those stay 0
        v = xp.where(counted, -row_weight * scale, xp.zeros((), logits.dtype))
    one_hot = xp.arange(logits.shape[1]) == target[:, None]
    picked = xp.where(one_hot, v[:, None], xp.zeros((), logits.dtype))
    p = xp.exp((logits - top[:, None]) - log_sum[:, None])
    return picked - p * v[:, None]
