"""Numba kernels for the CPU hot loops, with the signatures of their plain twins in ``plain``.

Each public function allocates its output (or fills ``out``) and calls a compiled loop. The
loops are compiled on first use (``import minicnn`` never imports Numba) and cached on disk
(``cache=True``).

They are serial and release the GIL. A Numba parallel region next to OpenBLAS's own threads
made a LeNet-5 step 2.5x slower on a 2-core machine (the two thread pools fight for the
cores), and so did splitting im2col over two Python threads right after a GEMM: OpenBLAS's
idle workers keep spinning on the cores for a while. So the threads go to the GEMMs; the
loops write disjoint outputs per image or plane, ready to be split across threads (all but
the direct convolution's weight gradient, which sums over the images).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from minicnn.backend import plain

Pair = tuple[int, int]

_compile = njit(cache=True, nogil=True)
# Flat arrays indexed at unsigned offsets (every term unsigned: Numba types uint64 + int64 as
# int64) get no negative-index wrap-around check, which keeps short loops vectorized.
_unsigned = np.uint64


@_compile
def _inside(offset, size, count):
    """The output positions [first, stop) of ``count`` whose input position offset + o lies in
    [0, size): the rest of a window row or column hangs over the zero border."""
    first = min(count, max(0, -offset))
    stop = max(first, min(count, size - offset))
    return first, stop


@_compile
def _im2col(x, cols, kh, kw, ph, pw, dh, dw, ho, wo):
    """im2col at unit stride (``_im2col_phases`` takes the strided ones)."""
    n_images, channels, h, w = x.shape
    # With Wo == W, consecutive output rows read consecutive input rows: a whole
    # kernel offset is one contiguous run of the plane, shifted. Its entries that wrap around
    # a row's edge belong to the zero border and are zeroed after the copy.
    # (The loops index views from 0 with range() counters and make few views: Numba then
    # vectorizes them; each view costs a reference count, which matters at 10-wide rows.)
    as_run = wo == w
    for n in range(n_images):
        for c in range(channels):
            plane = x[n, c].reshape(h * w)
            for i in range(kh):
                top, row_stop = _inside(i * dh - ph, h, ho)
                for j in range(kw):
                    offset = j * dw - pw
                    left, right = _inside(offset, w, wo)
                    bottom = row_stop if left < right else top  # no column inside: no row
                    row = cols[(c * kh + i) * kw + j, n]
                    if top > 0 or bottom < ho or left > 0 or right < wo:
                        for t in range(ho * wo):
                            row[t] = 0
                    if as_run:
                        shift = (i * dh - ph) * w + offset
                        first = max(top * wo, -shift)
                        stop = max(first, min(bottom * wo, h * w - shift))
                        target, source = row[first:stop], plane[first + shift : stop + shift]
                        for t in range(stop - first):
                            target[t] = source[t]
                        for oh in range(top, bottom):
                            for ow in range(left):
                                row[oh * wo + ow] = 0
                            for ow in range(right, wo):
                                row[oh * wo + ow] = 0
                        continue
                    for oh in range(top, bottom):
                        target = row[oh * wo + left : oh * wo + right]
                        source = plane[(oh + i * dh - ph) * w + left + offset :]
                        for t in range(right - left):
                            target[t] = source[t]


@_compile
def _col2im(cols, x, kh, kw, ph, pw, dh, dw, ho, wo):
    """col2im at unit stride (``_col2im_phases`` takes the strided ones)."""
    n_images, channels, h, w = x.shape
    as_run = wo == w  # as in _im2col
    for n in range(n_images):
        for c in range(channels):
            plane = x[n, c].reshape(h * w)
            for i in range(kh):
                top, row_stop = _inside(i * dh - ph, h, ho)
                for j in range(kw):
                    offset = j * dw - pw
                    left, right = _inside(offset, w, wo)
                    bottom = row_stop if left < right else top
                    row = cols[(c * kh + i) * kw + j, n]
                    if as_run:  # drop the border's entries, which would wrap onto a neighbour
                        for oh in range(top, bottom):
                            for ow in range(left):
                                row[oh * wo + ow] = 0
                            for ow in range(right, wo):
                                row[oh * wo + ow] = 0
                        shift = (i * dh - ph) * w + offset
                        first = max(top * wo, -shift)
                        stop = max(first, min(bottom * wo, h * w - shift))
                        target, source = plane[first + shift : stop + shift], row[first:stop]
                        for t in range(stop - first):
                            target[t] += source[t]
                        continue
                    for oh in range(top, bottom):
                        target = plane[(oh + i * dh - ph) * w + left + offset :]
                        source = row[oh * wo + left : oh * wo + right]
                        for t in range(right - left):
                            target[t] += source[t]


# A strided window reads every sh-th row and sw-th column: a gather that does not vectorize,
# repeated for each kernel offset. So a strided im2col first splits each plane once into its
# sh*sw "phases", phase (a, b) holding the pixels (r*sh + a, q*sw + b), inside a zero border.
# Kernel offset (i, j) then reads ONE phase at unit stride, shifted by ((i*dh - ph) // sh,
# (j*dw - pw) // sw): a block copy of Ho rows of Wo contiguous entries. col2im adds the
# blocks into the phases and scatters them back once.


@_compile
def _phase_extent(size, kernel, step, pad, dilation, count):
    """(border, extent) of one axis of a plane's phases: the zero border before the plane's
    ceil(size / step) entries, and the length with the border around, so that every offset's
    ``count`` reads stay inside."""
    first_shift = (-pad) // step
    last_shift = ((kernel - 1) * dilation - pad) // step
    border = max(0, -first_shift)
    return border, max(border + (size + step - 1) // step, border + last_shift + count)


@_compile
def _split_phases(x, n, c, phases, rows, width, top, left, sh, sw):
    """The phases of plane x[n, c] into ``phases`` (sh*sw phases of ``rows`` x ``width``, flat),
    from row ``top`` and column ``left`` of each."""
    h, w = x.shape[2], x.shape[3]
    plane = x[n, c].reshape(-1)
    for r in range(h):
        for b in range(sw):
            target = _unsigned((((r % sh) * sw + b) * rows + top + r // sh) * width + left)
            source, step = _unsigned(r * w + b), _unsigned(sw)
            for q in range(_unsigned((w - b + sw - 1) // sw)):
                phases[target + q] = plane[source + q * step]


@_compile
def _merge_phases(phases, x, n, c, rows, width, top, left, sh, sw):
    """Adds ``phases`` (as ``_split_phases`` lays them out) back into plane x[n, c]."""
    h, w = x.shape[2], x.shape[3]
    plane = x[n, c].reshape(-1)
    for r in range(h):
        for b in range(sw):
            source = _unsigned((((r % sh) * sw + b) * rows + top + r // sh) * width + left)
            target, step = _unsigned(r * w + b), _unsigned(sw)
            for q in range(_unsigned((w - b + sw - 1) // sw)):
                plane[target + q * step] += phases[source + q]


@_compile
def _phase_start(i, kernel_step, pad, step, border):
    """(phase, first row) that kernel offset ``i`` reads along one axis: input position
    o*step + i*kernel_step - pad is entry o + (i*kernel_step - pad) // step of its phase."""
    offset = i * kernel_step - pad
    return offset % step, border + offset // step


@_compile
def _im2col_phases(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    """im2col at a stride above 1, over each plane's phases; ``cols`` C-contiguous."""
    n_images, channels = x.shape[0], x.shape[1]
    top, rows = _phase_extent(x.shape[2], kh, sh, ph, dh, ho)
    left, width = _phase_extent(x.shape[3], kw, sw, pw, dw, wo)
    phases = np.zeros(sh * sw * rows * width, dtype=cols.dtype)  # the borders stay zero
    flat, per_row = cols.reshape(-1), n_images * ho * wo
    for n in range(n_images):
        for c in range(channels):
            _split_phases(x, n, c, phases, rows, width, top, left, sh, sw)
            for i in range(kh):
                a, first_row = _phase_start(i, dh, ph, sh, top)
                for j in range(kw):
                    b, first_column = _phase_start(j, dw, pw, sw, left)
                    target = ((c * kh + i) * kw + j) * per_row + n * ho * wo
                    source = ((a * sw + b) * rows + first_row) * width + first_column
                    for oh in range(ho):
                        start, read = _unsigned(target + oh * wo), _unsigned(source + oh * width)
                        for t in range(_unsigned(wo)):
                            flat[start + t] = phases[read + t]


@_compile
def _col2im_phases(cols, x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    """col2im at a stride above 1, over each plane's phases; reads ``cols`` (C-contiguous)
    only."""
    n_images, channels = x.shape[0], x.shape[1]
    top, rows = _phase_extent(x.shape[2], kh, sh, ph, dh, ho)
    left, width = _phase_extent(x.shape[3], kw, sw, pw, dw, wo)
    phases = np.empty(sh * sw * rows * width, dtype=cols.dtype)
    flat, per_row = cols.reshape(-1), n_images * ho * wo
    for n in range(n_images):
        for c in range(channels):
            phases[:] = 0
            for i in range(kh):
                a, first_row = _phase_start(i, dh, ph, sh, top)
                for j in range(kw):
                    b, first_column = _phase_start(j, dw, pw, sw, left)
                    source = ((c * kh + i) * kw + j) * per_row + n * ho * wo
                    target = ((a * sw + b) * rows + first_row) * width + first_column
                    for oh in range(ho):
                        read, start = _unsigned(source + oh * wo), _unsigned(target + oh * width)
                        for t in range(_unsigned(wo)):
                            phases[start + t] += flat[read + t]
            _merge_phases(phases, x, n, c, rows, width, top, left, sh, sw)


def im2col(x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair,
           out=None):
    """Numba twin of ``plain.im2col``: (N, C, H, W) -> (C*kh*kw, N, Ho*Wo)."""
    n, c = x.shape[:2]
    if out is None:
        out = np.empty((c * kernel[0] * kernel[1], n, out_size[0] * out_size[1]), x.dtype)
    x = np.ascontiguousarray(x)
    if tuple(stride) == (1, 1):
        _im2col(x, out, *kernel, *padding, *dilation, *out_size)
    elif out.flags.c_contiguous:
        _im2col_phases(x, out, *kernel, *stride, *padding, *dilation, *out_size)
    else:  # the phase kernel writes a flat view
        out[...] = im2col(x, kernel, stride, padding, dilation, out_size)
    return out


def col2im(cols, shape: tuple, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
           out_size: Pair, out=None, overwrite_cols: bool = False):
    """Numba twin of ``plain.col2im``: (C*kh*kw, N, Ho*Wo) -> (N, C, H, W), summing overlaps.

    At unit stride the kernel zeroes the entries of ``cols`` that fall in the zero border before
    it adds whole runs: it works on a copy unless ``overwrite_cols`` says ``cols`` is scratch
    space. The strided kernel only reads ``cols``.
    """
    if out is None:
        out = np.zeros(shape, dtype=cols.dtype)
    else:
        out[...] = 0
    if tuple(stride) == (1, 1):
        cols = np.ascontiguousarray(cols) if overwrite_cols else np.array(cols, order="C")
        _col2im(cols, out, *kernel, *padding, *dilation, *out_size)
    else:
        _col2im_phases(np.ascontiguousarray(cols), out, *kernel, *stride, *padding, *dilation,
                       *out_size)
    return out


# The direct convolution (unit stride and dilation; meant for one input channel per group,
# where im2col's GEMMs would have K = kh*kw) runs over an input padded beforehand (H', W').
# Its planes are walked as flat runs: output position (oh, ow) sits at p = oh*W' + ow of a
# "wide" plane as wide as the input, and kernel offset (i, j) reads input position
# p + i*W' + j. So each offset is ONE contiguous multiply-add over the whole plane, which the
# compiler vectorizes; over row by row runs of Wo (28 for LeNet-5), too short for its
# unrolled vector loop, it ran 2-3x slower. The wide plane's extra columns ow >= Wo hold
# garbage in the forward (never copied out) and zeros in the backward (``_widen``), where
# they meet input entries wrapped around a row's edge: 0 * inf would be NaN, so a plane
# holding an inf or NaN takes its weight gradient row by row (PyTorch's numbers).


@_compile
def _wide_layout(in_shape, weight_shape, out_shape):
    """(outputs per group, the wide run's length (Ho-1)*W' + Wo) of a direct convolution."""
    groups = in_shape[1] // weight_shape[1]
    return weight_shape[0] // groups, (out_shape[2] - 1) * in_shape[3] + out_shape[3]


@_compile
def _direct_conv2d(padded, weight, bias, out):
    width, (out_channels, group_channels, kh, kw) = padded.shape[3], weight.shape
    ho, wo = out.shape[2], out.shape[3]
    per_group, run = _wide_layout(padded.shape, weight.shape, out.shape)
    wide = np.empty(run, dtype=out.dtype)
    for n in range(padded.shape[0]):
        for o in range(out_channels):
            first_channel = (o // per_group) * group_channels
            for p in range(run):
                wide[p] = bias[o]
            for c in range(group_channels):
                source = padded[n, first_channel + c].reshape(-1)
                for i in range(kh):
                    for j in range(kw):
                        value, shifted = weight[o, c, i, j], source[i * width + j :]
                        for p in range(run):
                            wide[p] += value * shifted[p]
            for oh in range(ho):
                row, wide_row = out[n, o, oh], wide[oh * width :]
                for ow in range(wo):
                    row[ow] = wide_row[ow]


@_compile
def _widen(grad_plane, wide, width):
    """grad_plane (Ho, Wo) into a wide plane ``width`` wide, zeros in the extra columns."""
    ho, wo = grad_plane.shape
    for oh in range(ho):
        row, grad_row = wide[oh * width :], grad_plane[oh]
        for ow in range(wo):
            row[ow] = grad_row[ow]
        if oh < ho - 1:
            for ow in range(wo, width):
                row[ow] = 0


# Its own flags: reassociation lets the compiler keep vector partial sums (only this and
# ``_all_finite`` may reorder float additions).
@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _dot(a, b, size):
    """sum of a[p] * b[p] for p < size, its additions reassociated into vector partial sums."""
    total = a.dtype.type(0)
    for p in range(size):
        total += a[p] * b[p]
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _all_finite(a, size) -> bool:
    """Whether a[:size] holds no inf or NaN: 0 * inf and NaN are NaN, and NaN stays in the sum
    (vector partial sums, as in ``_dot``)."""
    zero = a.dtype.type(0)  # typed: a bare 0 would make the sum float64
    probe = zero
    for p in range(size):
        probe += a[p] * zero
    return probe == 0


@_compile
def _direct_conv2d_weight_grad(padded, grad_out, grad_weight):
    channels, width = padded.shape[1], padded.shape[3]
    out_channels, group_channels, kh, kw = grad_weight.shape
    ho, wo = grad_out.shape[2], grad_out.shape[3]
    per_group, run = _wide_layout(padded.shape, grad_weight.shape, grad_out.shape)
    wide = np.empty(run, dtype=grad_out.dtype)
    finite = np.empty((padded.shape[0], channels), dtype=np.bool_)
    for n in range(padded.shape[0]):
        for c in range(channels):
            plane = padded[n, c].reshape(-1)
            finite[n, c] = _all_finite(plane, plane.size)
    grad_weight[...] = 0
    for n in range(padded.shape[0]):
        for o in range(out_channels):
            first_channel = (o // per_group) * group_channels
            _widen(grad_out[n, o], wide, width)
            for c in range(group_channels):
                source = padded[n, first_channel + c].reshape(-1)
                for i in range(kh):
                    for j in range(kw):
                        shifted = source[i * width + j :]
                        if finite[n, first_channel + c]:
                            grad_weight[o, c, i, j] += _dot(wide, shifted, run)
                            continue
                        for oh in range(ho):  # the valid columns only
                            start = oh * width
                            grad_weight[o, c, i, j] += _dot(wide[start:], shifted[start:], wo)


@_compile
def _direct_conv2d_input_grad(grad_out, weight, grad_padded):
    width, (out_channels, group_channels, kh, kw) = grad_padded.shape[3], weight.shape
    per_group, run = _wide_layout(grad_padded.shape, weight.shape, grad_out.shape)
    wide = np.empty(run, dtype=grad_out.dtype)
    for n in range(grad_out.shape[0]):
        for o in range(out_channels):
            first_channel = (o // per_group) * group_channels
            _widen(grad_out[n, o], wide, width)
            for c in range(group_channels):
                target = grad_padded[n, first_channel + c].reshape(-1)
                for i in range(kh):
                    for j in range(kw):  # the forward's run, sent back
                        value, shifted = weight[o, c, i, j], target[i * width + j :]
                        for p in range(run):
                            shifted[p] += value * wide[p]


def _padded(x, kernel: Pair, padding: Pair, out_size: Pair):
    widths = plain.window_padding(x.shape[2:], padding, kernel, (1, 1), (1, 1), out_size)
    return np.ascontiguousarray(np.pad(x, widths) if any(map(any, widths)) else x)


def direct_conv2d_forward(x, weight, bias, padding: Pair, out_size: Pair):
    """Numba twin of ``plain.direct_conv2d_forward``."""
    out = np.empty((x.shape[0], weight.shape[0], *out_size), dtype=x.dtype)
    bias = np.zeros(weight.shape[0], x.dtype) if bias is None else np.ascontiguousarray(bias)
    padded = _padded(x, weight.shape[2:], padding, out_size)
    _direct_conv2d(padded, np.ascontiguousarray(weight), bias, out)
    return out


def direct_conv2d_weight_grad(x, grad_out, weight_shape: tuple, padding: Pair):
    """Numba twin of ``plain.direct_conv2d_weight_grad``."""
    grad_weight = np.empty(weight_shape, dtype=grad_out.dtype)
    padded = _padded(x, weight_shape[2:], padding, grad_out.shape[2:])
    _direct_conv2d_weight_grad(padded, np.ascontiguousarray(grad_out), grad_weight)
    return grad_weight


def direct_conv2d_input_grad(grad_out, weight, in_shape: tuple, padding: Pair):
    """Numba twin of ``plain.direct_conv2d_input_grad``."""
    if not np.isfinite(weight).all():  # 0 * inf in the wide plane's extra columns: see above
        return plain.direct_conv2d_input_grad(grad_out, weight, in_shape, padding)
    _, _, height, width = plain.window_padding(
        in_shape[2:], padding, weight.shape[2:], (1, 1), (1, 1), grad_out.shape[2:])
    n, channels, h, w = in_shape
    grad_padded = np.zeros((n, channels, h + sum(height), w + sum(width)), grad_out.dtype)
    _direct_conv2d_input_grad(np.ascontiguousarray(grad_out), np.ascontiguousarray(weight),
                              grad_padded)
    return np.ascontiguousarray(
        grad_padded[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w])


# --- Winograd F(2x2, 3x3): the transforms of plain.py, one whole plane per loop ---------------
# Entry (k, m) of a transformed tile, L d R^T with L and R holding 0 and +-1, sums a few +-1
# multiples of the tile's entries. Entry (r, s) of every tile of a plane is read from one of
# four "parity planes" of it, q[r % 2][s % 2][i][j] = padded[2*i + r % 2][2*j + s % 2], laid
# out wide like the tiles (tw_n + 1 columns) and shifted by (r // 2, s // 2): so each
# transformed entry is ONE vectorized loop over a plane's tiles, reading contiguous runs.
# The loops over tiles index flat arrays at unsigned offsets (every term unsigned: Numba
# types uint64 + int64 as int64): Numba then adds no negative-index wrap-around, and they
# make no views (each view costs two atomic reference counts, which took more time than a
# 272-tile loop itself).


def _nonzero_terms(left, right) -> np.ndarray:
    """(16, 4, 3): for each entry (k, m) of left @ d @ right.T, its terms
    left[k, r] * right[m, s] * d[r, s] as (r, s, sign), the nonzero ones first; the rest have
    sign 0."""
    terms = np.zeros((16, 4, 3), dtype=np.int64)
    for k in range(4):
        for m in range(4):
            nonzero = [(r, s, left[k, r] * right[m, s]) for r in range(left.shape[1])
                       for s in range(right.shape[1]) if left[k, r] * right[m, s]]
            terms[4 * k + m, : len(nonzero)] = nonzero
    return terms


_INPUT_TERMS = _nonzero_terms(plain.WINOGRAD_BT, plain.WINOGRAD_BT)  # four terms each
_GRADIENT_TERMS = _nonzero_terms(plain.WINOGRAD_AT.T, plain.WINOGRAD_AT.T)  # one, two or four
# Row a of A^T M (and of (A^T M) A's transpose) sums three rows k of M with signs: (k, sign).
_OUTPUT_TERMS = np.array([[(k, sign) for k, sign in enumerate(row) if sign]
                          for row in plain.WINOGRAD_AT])


@_compile
def _parity_planes(x, n, c, q, rows, width, top, left):
    """q (2, 2, rows, width), flat <- plane x[n, c] at (top, left) in a zero border, split by
    the parity of the padded row and column; what lies past q's extent is dropped."""
    h, w = x.shape[2], x.shape[3]
    flat, plane = x.reshape(-1), ((n * x.shape[1] + c) * h) * w
    q[:] = 0
    for r in range(min(h, 2 * rows - top)):
        i, row_parity = (r + top) // 2, (r + top) % 2
        for column_parity in range(2):
            first = (column_parity - left) % 2  # the first column with that padded parity
            j = (first + left) // 2
            count = max(0, min((w - first + 1) // 2, width - j))
            target = _unsigned(((row_parity * 2 + column_parity) * rows + i) * width + j)
            source, step = _unsigned(plane + r * w + first), _unsigned(2)  # unsigned, all
            for t in range(_unsigned(count)):
                q[target + t] = flat[source + step * t]


@_compile
def _term_offsets(terms, rows, width):
    """Where each term (r, s, sign) reads in flat parity planes (rows x width each), and its
    sign in the planes' dtype: (16, 4) each."""
    offsets = np.empty((16, 4), dtype=np.uint64)
    for km in range(16):
        for t in range(4):
            r, s = terms[km, t, 0], terms[km, t, 1]
            offsets[km, t] = ((2 * (r % 2) + s % 2) * rows + r // 2) * width + s // 2
    return offsets, terms[:, :, 2]


@_compile
def _combine(target, start, planes, offsets, signs, count):
    """target[start + p] = the sum over four terms of signs[t] * planes[offsets[t] + p]."""
    a, b, c, d = offsets[0], offsets[1], offsets[2], offsets[3]
    sign = target.dtype.type  # typed: a float64 sign would make the sums float64
    sa, sb, sc, sd = sign(signs[0]), sign(signs[1]), sign(signs[2]), sign(signs[3])
    start = _unsigned(start)
    for p in range(_unsigned(count)):
        target[start + p] = sa * planes[a + p] + sb * planes[b + p] + sc * planes[c + p] + (
            sd * planes[d + p])


@_compile
def _winograd_tiles(x, out, top, left, th_n, tw_n, rows, terms):
    """out (16, C, N*th_n*(tw_n + 1)) <- the 16 sums of ``terms`` over every tile of x, each
    tile row's extra column zero; a parity plane holds ``rows`` rows of tw_n + 1."""
    n_images, channels = x.shape[0], x.shape[1]
    width = tw_n + 1
    per_image, tiles = th_n * width, out.shape[2]
    q = np.empty(4 * rows * width, dtype=x.dtype)
    offsets, signs = _term_offsets(terms, rows, width)
    flat = out.reshape(-1)
    for c in range(channels):  # image after image along each of the channel's rows of out
        for n in range(n_images):
            _parity_planes(x, n, c, q, rows, width, top, left)
            for km in range(16):
                start = (km * channels + c) * tiles + n * per_image
                _combine(flat, start, q, offsets[km], signs[km], per_image)
                for th in range(th_n):  # while the run is in the cache
                    flat[start + th * width + tw_n] = 0


@_compile
def _sum3(target, start, source, a, b, c, signs, shift, count):
    """target[start + p] = source at a + p, b + p and c + p times ``signs``, summed, plus
    shift."""
    sign = target.dtype.type  # typed, as in _combine
    sa, sb, sc = sign(signs[0]), sign(signs[1]), sign(signs[2])
    a, b, c, start = _unsigned(a), _unsigned(b), _unsigned(c), _unsigned(start)
    for p in range(_unsigned(count)):
        target[start + p] = sa * source[a + p] + sb * source[b + p] + sc * source[c + p] + shift


@_compile
def _interleave_tiles(blocks, tiles, first, width, out_flat, plane, ho, wo):
    """The Ho x Wo plane of the flat output at ``plane`` <- the 2x2 blocks of one image's
    tiles: entry (a, b) of tile (th, tw) at row 2a + b, column first + th*width + tw of
    ``blocks`` (4 rows of ``tiles``)."""
    step, one = _unsigned(2), _unsigned(1)
    for h in range(ho):
        target = _unsigned(plane + h * wo)
        even = _unsigned(2 * (h % 2) * tiles + first + (h // 2) * width)
        odd = even + _unsigned(tiles)
        for tw in range(_unsigned(wo // 2)):
            out_flat[target + step * tw] = blocks[even + tw]
            out_flat[target + step * tw + one] = blocks[odd + tw]
        if wo % 2:
            out_flat[target + _unsigned(wo - 1)] = blocks[even + _unsigned(wo // 2)]


@_compile
def _winograd_output(m, bias, out, terms):
    """out (N, O, Ho, Wo) <- A^T M A + bias of every tile of the wide m (16, O, tiles);
    whether every output is finite."""
    n_images, channels, ho, wo = out.shape
    width, tiles = (wo + 1) // 2 + 1, m.shape[2]
    per_image = (ho + 1) // 2 * width
    rows, signs = terms[:, :, 0], terms[:, :, 1]
    flat, out_flat = m.reshape(-1), out.reshape(-1)
    columns = np.empty(4 * tiles, dtype=m.dtype)  # a row a of A^T M: entry j at row j
    blocks = np.empty(4 * tiles, dtype=m.dtype)  # A^T M A: entry (a, b) at row 2a + b
    zero = m.dtype.type(0)
    finite = True
    for o in range(channels):  # all the images' tiles at once: long runs along m's rows
        for a in range(2):
            for j in range(4):
                k0 = ((4 * rows[a, 0] + j) * channels + o) * tiles
                k1 = ((4 * rows[a, 1] + j) * channels + o) * tiles
                k2 = ((4 * rows[a, 2] + j) * channels + o) * tiles
                _sum3(columns, j * tiles, flat, k0, k1, k2, signs[a], zero, tiles)
            for b in range(2):
                j0, j1, j2 = rows[b, 0] * tiles, rows[b, 1] * tiles, rows[b, 2] * tiles
                _sum3(blocks, (2 * a + b) * tiles, columns, j0, j1, j2, signs[b], bias[o],
                      tiles)
        for n in range(n_images):
            plane = (n * channels + o) * ho * wo
            _interleave_tiles(blocks, tiles, n * per_image, width, out_flat, plane, ho, wo)
            finite &= _all_finite(out_flat[plane:], ho * wo)
    return finite


def winograd_input_transform(x, padding: Pair, out_size: Pair, out):
    """Numba twin of ``plain.winograd_input_transform``."""
    th_n, tw_n = plain.winograd_tiles(out_size)
    # Each parity plane has a spare row: the extra columns' runs read one row past the tiles.
    _winograd_tiles(np.ascontiguousarray(x), out, padding[0], padding[1], th_n, tw_n,
                    th_n + 2, _INPUT_TERMS)
    return out


def winograd_output_transform(m, bias, out) -> bool:
    """Numba twin of ``plain.winograd_output_transform``."""
    bias = (np.zeros(out.shape[1], m.dtype) if bias is None
            else np.ascontiguousarray(bias, dtype=m.dtype))  # no float64 shift on float32 sums
    return _winograd_output(m, bias, out, _OUTPUT_TERMS)


def winograd_gradient_transform(grad_out, out):
    """Numba twin of ``plain.winograd_gradient_transform``."""
    th_n, tw_n = plain.winograd_tiles(grad_out.shape[2:])
    _winograd_tiles(np.ascontiguousarray(grad_out), out, 0, 0, th_n, tw_n, th_n,
                    _GRADIENT_TERMS)
    return out


@_compile
def _window_max(plane, h_start, h_end, dh, w_start, w_end, dw):
    """(max, flat index) over one window of a (H, W) plane, PyTorch's rule for ties (first
    in window order) and NaN (the last NaN wins)."""
    w = plane.shape[1]
    best = -np.inf
    best_index = h_start * w + w_start
    nan_seen = False
    for ih in range(h_start, h_end, dh):
        row = plane[ih]
        for iw in range(w_start, w_end, dw):
            value = row[iw]
            nan_seen |= value != value  # no branch: 2.5x faster than `or isnan`
            if value > best:
                best = value
                best_index = ih * w + iw
    if nan_seen:
        for ih in range(h_start, h_end, dh):
            for iw in range(w_start, w_end, dw):
                if np.isnan(plane[ih, iw]):
                    best = plane[ih, iw]
                    best_index = ih * w + iw
    return best, best_index


@_compile
def _max_pool2d(x, out, indices, kh, kw, sh, sw, ph, pw, dh, dw):
    n_images, channels, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    for plane_index in range(n_images * channels):
        n, c = plane_index // channels, plane_index % channels
        plane, out_plane, index_plane = x[n, c], out[n, c], indices[n, c]
        for oh in range(ho):
            h_start = oh * sh - ph
            h_end = min(h_start + (kh - 1) * dh + 1, h)
            while h_start < 0:
                h_start += dh
            for ow in range(wo):
                w_start = ow * sw - pw
                w_end = min(w_start + (kw - 1) * dw + 1, w)
                while w_start < 0:
                    w_start += dw
                # Unit steps as constants: once _window_max is inlined, its loops get fixed
                # steps the compiler can unroll and vectorize.
                if dh == 1 and dw == 1:
                    best, best_index = _window_max(plane, h_start, h_end, 1, w_start, w_end, 1)
                else:
                    best, best_index = _window_max(plane, h_start, h_end, dh, w_start, w_end, dw)
                out_plane[oh, ow] = best
                index_plane[oh, ow] = best_index


@_compile
def _max_pool2d_2x2(x, out, indices):
    """The common case, 2x2 windows at stride 2 wholly inside the input, unrolled: the same
    rules as ``_window_max`` (first maximum in window order; the last NaN wins)."""
    n_images, channels, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    for plane_index in range(n_images * channels):
        n, c = plane_index // channels, plane_index % channels
        plane, out_plane, index_plane = x[n, c], out[n, c], indices[n, c]
        for oh in range(ho):
            upper, lower = plane[2 * oh], plane[2 * oh + 1]
            out_row, index_row = out_plane[oh], index_plane[oh]
            for ow in range(wo):
                top_left, top_right = upper[2 * ow], upper[2 * ow + 1]
                bottom_left, bottom_right = lower[2 * ow], lower[2 * ow + 1]
                best, offset = top_left, 0
                if top_right > best:
                    best, offset = top_right, 1
                if bottom_left > best:
                    best, offset = bottom_left, w
                if bottom_right > best:
                    best, offset = bottom_right, w + 1
                window = ((top_left, 0), (top_right, 1), (bottom_left, w), (bottom_right, w + 1))
                if (top_left != top_left or top_right != top_right
                        or bottom_left != bottom_left or bottom_right != bottom_right):
                    for value, position in window:
                        if value != value:
                            best, offset = value, position
                out_row[ow] = best
                index_row[ow] = 2 * oh * w + 2 * ow + offset


@_compile
def _max_pool2d_backward(grad_out, indices, grad_in):
    n_images, channels, ho, wo = grad_out.shape
    h, w = grad_in.shape[2], grad_in.shape[3]
    for plane_index in range(n_images * channels):
        n, c = plane_index // channels, plane_index % channels
        plane = grad_in[n, c].reshape(h * w)
        for k in range(h * w):  # zeroed here, one plane at a time, while it is in the cache
            plane[k] = 0
        grad_plane, index_plane = grad_out[n, c], indices[n, c]
        for oh in range(ho):
            for ow in range(wo):
                index = index_plane[oh, ow]
                # A window that dilation makes skip the whole input points past its plane
                # (PyTorch's index); its output is -inf, a constant: no gradient to send.
                if 0 <= index < h * w:
                    plane[index] += grad_plane[oh, ow]


def max_pool2d_forward(
    x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair
):
    """Numba twin of ``plain.max_pool2d_forward``: returns (out, indices)."""
    n, c = x.shape[:2]
    out = np.empty((n, c, *out_size), dtype=x.dtype)
    indices = np.empty((n, c, *out_size), dtype=np.int64)
    x = np.ascontiguousarray(x)
    tiles = tuple(kernel) == tuple(stride) == (2, 2)
    tiles = tiles and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1)
    if tiles and 2 * out_size[0] <= x.shape[2] and 2 * out_size[1] <= x.shape[3]:
        _max_pool2d_2x2(x, out, indices)
    else:
        _max_pool2d(x, out, indices, *kernel, *stride, *padding, *dilation)
    return out, indices


def max_pool2d_backward(grad_out, indices, in_size: Pair):
    """Numba twin of ``plain.max_pool2d_backward``."""
    grad_in = np.empty((*grad_out.shape[:2], *in_size), dtype=grad_out.dtype)
    _max_pool2d_backward(np.ascontiguousarray(grad_out), np.ascontiguousarray(indices), grad_in)
    return grad_in


@_compile
def _relu(x, out):
    zero = x.dtype.type(0)  # typed: both branches stay in x's dtype
    for k in range(x.size):
        value = x[k]
        out[k] = zero if value < 0 else value  # NaN and -0.0 stay, as in torch.relu


def relu_forward(x, out=None):
    """Numba twin of ``plain.relu_forward``: NumPy's maximum against a scalar ran 2.4x slower
    than this one pass (9.2 vs 3.9 ms on 4M float32 values)."""
    contiguous = x.flags.c_contiguous and (out is None or out.flags.c_contiguous)
    if not contiguous or x.dtype not in (np.float32, np.float64):
        return plain.relu_forward(x, out)
    if out is None:
        out = np.empty(x.shape, dtype=x.dtype)
    _relu(x.reshape(-1), out.reshape(-1))
    return out


@_compile
def _relu_backward(grad_out, out, grad_x):
    zero = grad_x.dtype.type(0)  # typed, as in _relu
    for k in range(grad_out.size):
        grad_x[k] = zero if out[k] <= 0 else grad_out[k]


def relu_backward(grad_out, out):
    """Numba twin of ``plain.relu_backward``: one pass, no boolean mask."""
    grad_x = np.empty(grad_out.shape, dtype=grad_out.dtype)
    out = np.broadcast_to(out, grad_out.shape)  # as the plain twin's where() does
    flat_grad, flat_out = (np.ascontiguousarray(a).reshape(-1) for a in (grad_out, out))
    _relu_backward(flat_grad, flat_out, grad_x.reshape(-1))
    return grad_x


@_compile
def _window_mean(x, out, row_start, row_end, col_start, col_end, divisor):
    n_images, channels, w = x.shape[0], x.shape[1], x.shape[3]
    ho, wo = out.shape[2], out.shape[3]
    row_sums = np.empty(w, dtype=x.dtype)
    for plane in range(n_images * channels):
        n, c = plane // channels, plane % channels
        for oh in range(ho):
            # Whole input rows are summed first (contiguous, vectorized), then each window's
            # columns of that sum: the plain twin sums columns first, rows second.
            for iw in range(w):
                row_sums[iw] = 0
            for ih in range(row_start[oh], row_end[oh]):
                row = x[n, c, ih]
                for iw in range(w):
                    row_sums[iw] += row[iw]
            for ow in range(wo):
                total = x.dtype.type(0)
                for iw in range(col_start[ow], col_end[ow]):
                    total += row_sums[iw]
                out[n, c, oh, ow] = total / divisor[oh, ow]


@_compile
def _window_mean_backward(grad_out, grad_in, row_start, row_end, col_start, col_end, divisor):
    n_images, channels, ho, wo = grad_out.shape
    h, w = grad_in.shape[2], grad_in.shape[3]
    row_grad = np.empty(w, dtype=grad_in.dtype)
    for plane in range(n_images * channels):
        n, c = plane // channels, plane % channels
        grad_plane = grad_in[n, c]
        for ih in range(h):  # zeroed one plane at a time, while it is in the cache
            for iw in range(w):
                grad_plane[ih, iw] = 0
        for oh in range(ho):
            # One input row's gradient from this window row (what every row it spans gets),
            # then added to those whole rows at once.
            for iw in range(w):
                row_grad[iw] = 0
            for ow in range(wo):
                share = grad_out[n, c, oh, ow] / divisor[oh, ow]
                for iw in range(col_start[ow], col_end[ow]):
                    row_grad[iw] += share
            for ih in range(row_start[oh], row_end[oh]):
                row = grad_plane[ih]
                for iw in range(w):
                    row[iw] += row_grad[iw]


def window_mean_forward(x, row_start, row_end, col_start, col_end, divisor):
    """Numba twin of ``plain.window_mean_forward``."""
    out = np.empty((*x.shape[:2], *divisor.shape), dtype=x.dtype)
    divisor = np.ascontiguousarray(divisor, dtype=x.dtype)
    _window_mean(np.ascontiguousarray(x), out, row_start, row_end, col_start, col_end, divisor)
    return out


def window_mean_backward(grad_out, in_size: Pair, row_start, row_end, col_start, col_end, divisor):
    """Numba twin of ``plain.window_mean_backward``."""
    grad_in = np.empty((*grad_out.shape[:2], *in_size), dtype=grad_out.dtype)
    divisor = np.ascontiguousarray(divisor, dtype=grad_out.dtype)
    _window_mean_backward(
        np.ascontiguousarray(grad_out), grad_in, row_start, row_end, col_start, col_end, divisor
    )
    return grad_in


# NumPy's array operations already make one pass each here: no Numba twins.
sgd_momentum_step = plain.sgd_momentum_step
cross_entropy_rows = plain.cross_entropy_rows
cross_entropy_rows_backward = plain.cross_entropy_rows_backward
