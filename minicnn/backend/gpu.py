"""CUDA kernels for the GPU hot loops, with the signatures and results of their plain twins.

The plain twin in ``backend.plain`` is the reference: each kernel here returns what its twin
returns (bit for bit, but for the order of additions in the window mean and in max pooling's
backward) and is tested against it, on the CPU too: the tests compile this very CUDA source
with the host C++ compiler and a small header that stands in for CUDA's built-ins.

The source is text below: one templated ``__device__`` function per kernel, a grid-stride loop
over a flat output index, and ``extern "C"`` entry points generated from ``SIGNATURES`` for
float and double, with 32-bit indices (every array under ``INT32_LIMIT`` elements) or 64-bit
ones. Importing this module imports no CuPy and compiles nothing: CuPy compiles a kernel's
source (NVRTC) on its first call, and caches the binary on disk.

Every output element is written by exactly one thread, and its sum is taken in a fixed order,
so results do not depend on the launch, except ``max_pool2d_backward``: it adds with atomics,
in float64, whose order may vary; the sum is cast once, as the plain twin's bincount does.
Other dtypes (float16, integers) take the plain twins.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from minicnn.backend import plain
from minicnn.backend.devices import array_module, to_device

Pair = tuple[int, int]

# --- the CUDA source -------------------------------------------------------------------------

PRELUDE = r"""
// -inf without <cmath> (NVRTC has no standard headers): the bits of +inf, negated.
template <typename T> __device__ __forceinline__ T negative_infinity();
template <> __device__ __forceinline__ float negative_infinity<float>() {
    return -__int_as_float(0x7f800000);
}
template <> __device__ __forceinline__ double negative_infinity<double>() {
    return -__longlong_as_double(0x7ff0000000000000LL);
}

template <typename I> __device__ __forceinline__ I smaller(I a, I b) { return a < b ? a : b; }

// The first flat index of this thread and the distance to its next one: with the loop
// `for (e = first; e < total; e += step)`, the threads of any grid cover [0, total) once.
template <typename I> __device__ __forceinline__ I first_index() {
    return (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x;
}
template <typename I> __device__ __forceinline__ I index_step() {
    return (I)blockDim.x * (I)gridDim.x;
}
"""

TEMPLATES = {
    "im2col": r"""
// cols[(c*kh + i)*kw + j][n][oh*wo + ow] = x[n][c][ih][iw], ih = oh*sh - ph + i*dh and
// iw = ow*sw - pw + j*dw, or 0 where (ih, iw) lies in the zero border (read in place: no
// padded copy). One thread per (c, n, oh, ow), looping over the kernel offsets (i, j):
// neighbouring threads write neighbouring columns of each row.
template <typename T, typename I>
__device__ void im2col(const T* x, T* cols, I n_images, I channels, I h, I w, I kh, I kw,
                       I sh, I sw, I ph, I pw, I dh, I dw, I ho, I wo) {
    const I per_image = ho * wo, row_size = n_images * per_image;
    const I total = channels * row_size;
    for (I e = first_index<I>(); e < total; e += index_step<I>()) {
        const I p = e % per_image, n = e / per_image % n_images, c = e / row_size;
        const I oh = p / wo, ow = p % wo;
        const T* plane = x + (n * channels + c) * h * w;
        T* target = cols + c * kh * kw * row_size + n * per_image + p;
        for (I i = 0; i < kh; ++i) {
            const I ih = oh * sh - ph + i * dh;
            const bool row_inside = ih >= 0 && ih < h;
            for (I j = 0; j < kw; ++j) {
                const I iw = ow * sw - pw + j * dw;
                *target = row_inside && iw >= 0 && iw < w ? plane[ih * w + iw] : T(0);
                target += row_size;
            }
        }
    }
}
""",
    "col2im": r"""
// The adjoint of im2col as a gather: x[n][c][ih][iw] = the sum over kernel offsets (i, j), in
// that order, of cols[(c*kh + i)*kw + j][n][oh*wo + ow] for the window (oh, ow) that reads
// (ih, iw) at (i, j): oh*sh = ih + ph - i*dh and ow*sw = iw + pw - j*dw, 0 <= oh < ho,
// 0 <= ow < wo. One thread per input pixel: no atomics, the plain twin's order of additions.
template <typename T, typename I>
__device__ void col2im(const T* cols, T* x, I n_images, I channels, I h, I w, I kh, I kw,
                       I sh, I sw, I ph, I pw, I dh, I dw, I ho, I wo) {
    const I per_image = ho * wo, row_size = n_images * per_image;
    const I total = n_images * channels * h * w;
    for (I e = first_index<I>(); e < total; e += index_step<I>()) {
        const I iw = e % w, ih = e / w % h, c = e / (h * w) % channels;
        const I n = e / (channels * h * w);
        const T* rows = cols + c * kh * kw * row_size + n * per_image;
        T sum = T(0);
        for (I i = 0; i < kh; ++i) {
            const I top = ih + ph - i * dh;  // oh*sh; falls as i grows
            if (top < 0) break;
            if (top % sh != 0 || top / sh >= ho) continue;
            for (I j = 0; j < kw; ++j) {
                const I left = iw + pw - j * dw;  // ow*sw
                if (left < 0) break;
                if (left % sw != 0 || left / sw >= wo) continue;
                sum += rows[(i * kw + j) * row_size + top / sh * wo + left / sw];
            }
        }
        x[e] = sum;
    }
}
""",
    "max_pool2d": r"""
// out = the max over the window of x at (oh, ow) (rows oh*sh - ph + i*dh, columns
// ow*sw - pw + j*dw, positions outside the input count as -inf), and its flat index ih*w + iw:
// PyTorch's rule, the first maximum in window order, or the last NaN. A window with no
// maximum inside the input keeps the starting index: its first row and column >= 0.
template <typename T, typename I>
__device__ void max_pool2d(const T* x, T* out, long long* indices, I planes, I h, I w, I kh,
                           I kw, I sh, I sw, I ph, I pw, I dh, I dw, I ho, I wo) {
    const I total = planes * ho * wo;
    for (I e = first_index<I>(); e < total; e += index_step<I>()) {
        const I ow = e % wo, oh = e / wo % ho, plane = e / (ho * wo);
        I h_start = oh * sh - ph, w_start = ow * sw - pw;
        const I h_end = smaller(h_start + (kh - 1) * dh + 1, h);
        const I w_end = smaller(w_start + (kw - 1) * dw + 1, w);
        if (h_start < 0) h_start += (dh - 1 - h_start) / dh * dh;
        if (w_start < 0) w_start += (dw - 1 - w_start) / dw * dw;
        const T* values = x + plane * h * w;
        T best = negative_infinity<T>();
        I best_index = h_start * w + w_start;
        for (I ih = h_start; ih < h_end; ih += dh) {
            for (I iw = w_start; iw < w_end; iw += dw) {
                const T value = values[ih * w + iw];
                if (value > best || value != value) {  // a NaN stays, until the next NaN
                    best = value;
                    best_index = ih * w + iw;
                }
            }
        }
        out[e] = best;
        indices[e] = best_index;
    }
}
""",
    "max_pool2d_backward": r"""
// grad_in[plane][index] += grad_out[plane][k] for index = indices[plane][k] in [0, plane_size);
// other indices send nothing. Atomic adds into a float64 sum.
template <typename T, typename I>
__device__ void max_pool2d_backward(const T* grad_out, const long long* indices,
                                    double* grad_in, I planes, I per_plane, I plane_size) {
    const I total = planes * per_plane;
    for (I e = first_index<I>(); e < total; e += index_step<I>()) {
        const long long index = indices[e];
        if (index >= 0 && index < plane_size) {
            atomicAdd(grad_in + e / per_plane * plane_size + index, (double)grad_out[e]);
        }
    }
}
""",
    "relu_backward": r"""
// grad_x = 0 where out <= 0, else grad_out (a NaN output passes its gradient).
template <typename T, typename I>
__device__ void relu_backward(const T* grad_out, const T* out, T* grad_x, I size) {
    for (I e = first_index<I>(); e < size; e += index_step<I>()) {
        grad_x[e] = out[e] <= T(0) ? T(0) : grad_out[e];
    }
}
""",
    "window_mean": r"""
// out[plane][oh][ow] = (the sum of x[plane][ih][iw] over row_start[oh] <= ih < row_end[oh]
// and col_start[ow] <= iw < col_end[ow]) / divisor[oh][ow], summed row by row as the plain
// twin does. bounds = row_start (ho), row_end (ho), col_start (wo), col_end (wo).
template <typename T, typename I>
__device__ void window_mean(const T* x, T* out, const long long* bounds, const T* divisor,
                            I planes, I h, I w, I ho, I wo) {
    const long long *row_start = bounds, *row_end = bounds + ho;
    const long long *col_start = bounds + 2 * ho, *col_end = bounds + 2 * ho + wo;
    const I total = planes * ho * wo;
    for (I e = first_index<I>(); e < total; e += index_step<I>()) {
        const I ow = e % wo, oh = e / wo % ho, plane = e / (ho * wo);
        const T* values = x + plane * h * w;
        T sum = T(0);
        for (I ih = (I)row_start[oh]; ih < (I)row_end[oh]; ++ih) {
            T row = T(0);
            for (I iw = (I)col_start[ow]; iw < (I)col_end[ow]; ++iw) row += values[ih * w + iw];
            sum += row;
        }
        out[e] = sum / divisor[oh * wo + ow];
    }
}
""",
    "window_mean_backward": r"""
// The adjoint of window_mean as a gather: grad_in[plane][ih][iw] = the sum over the windows
// (oh, ow) that hold (ih, iw) of grad_out[plane][oh][ow] / divisor[oh][ow], over oh inside
// (a column of windows), then over ow: the plain twin's order of additions.
// windows[windows[ih]] .. windows[windows[ih + 1] - 1] are the oh holding row ih (ascending),
// windows[windows[h + 1 + iw]] .. windows[windows[h + 2 + iw] - 1] the ow holding column iw.
template <typename T, typename I>
__device__ void window_mean_backward(const T* grad_out, T* grad_in, const long long* windows,
                                     const T* divisor, I planes, I h, I w, I ho, I wo) {
    const long long *rows_of = windows, *cols_of = windows + h + 1;
    const I total = planes * h * w;
    for (I e = first_index<I>(); e < total; e += index_step<I>()) {
        const I iw = e % w, ih = e / w % h, plane = e / (h * w);
        const T* grad = grad_out + plane * ho * wo;
        T sum = T(0);
        for (long long b = cols_of[iw]; b < cols_of[iw + 1]; ++b) {
            const I ow = (I)windows[b];
            T column = T(0);
            for (long long a = rows_of[ih]; a < rows_of[ih + 1]; ++a) {
                const I at = (I)windows[a] * wo + ow;
                column += grad[at] / divisor[at];
            }
            sum += column;
        }
        grad_in[e] = sum;
    }
}
""",
    "cross_entropy_rows": r"""
// One thread per row i of (n, c) logits x and its class index t = target[i]: top = max_j x_ij
// (a NaN wins, as in a max reduction), log_sum = log sum_j exp(x_ij - top), and, unless t is
// ignore_index (then all 0 but top and log_sum), w = weight[t] (1 without weights) and
// loss = -w * ((x_it - top) - log_sum): the general path's log_softmax then pick.
template <typename T, typename I>
__device__ void cross_entropy_rows(const T* x, const long long* target, const T* weight,
                                   T* loss, T* row_weight, T* top, T* log_sum, I n, I c,
                                   I has_weight, I ignore_index) {
    for (I i = first_index<I>(); i < n; i += index_step<I>()) {
        const T* row = x + i * c;
        T m = row[0];
        for (I j = 1; j < c; ++j) {
            if (row[j] > m || row[j] != row[j]) m = row[j];
        }
        T sum = T(0);
        for (I j = 0; j < c; ++j) sum += exp(row[j] - m);
        const T ls = log(sum);
        const long long t = target[i];
        const bool counted = t != (long long)ignore_index;
        const T w = counted ? (has_weight ? weight[t] : T(1)) : T(0);
        loss[i] = counted ? -w * ((row[t] - m) - ls) : T(0);
        row_weight[i] = w;
        top[i] = m;
        log_sum[i] = ls;
    }
}
""",
    "cross_entropy_rows_backward": r"""
// One thread per logit (i, j): with v = -row_weight[i] * scale (scale[i] when scale_per_row,
// else scale[0]; v = 0 where target[i] is ignore_index) and p = exp((x_ij - top_i) -
// log_sum_i), the softmax, grad_ij = v [j == target[i]] - p v.
template <typename T, typename I>
__device__ void cross_entropy_rows_backward(const T* scale, const T* x, const long long* target,
                                            const T* row_weight, const T* top,
                                            const T* log_sum, T* grad, I n, I c,
                                            I scale_per_row, I ignore_index) {
    const I total = n * c;
    for (I e = first_index<I>(); e < total; e += index_step<I>()) {
        const I i = e / c, j = e % c;
        const long long t = target[i];
        const T v = t != (long long)ignore_index
            ? -row_weight[i] * scale[scale_per_row ? i : 0] : T(0);
        const T p = exp((x[e] - top[i]) - log_sum[i]);
        grad[e] = (j == t ? v : T(0)) - p * v;
    }
}
""",
}

# Each kernel's parameters, with T the float type and I the index type: the entry points are
# generated from these, and the tests read them to pass arguments of the right types.
SIGNATURES = {
    "im2col": "const T* x, T* cols, I n_images, I channels, I h, I w, I kh, I kw, I sh, I sw, "
              "I ph, I pw, I dh, I dw, I ho, I wo",
    "col2im": "const T* cols, T* x, I n_images, I channels, I h, I w, I kh, I kw, I sh, I sw, "
              "I ph, I pw, I dh, I dw, I ho, I wo",
    "max_pool2d": "const T* x, T* out, long long* indices, I planes, I h, I w, I kh, I kw, "
                  "I sh, I sw, I ph, I pw, I dh, I dw, I ho, I wo",
    "max_pool2d_backward": "const T* grad_out, const long long* indices, double* grad_in, "
                           "I planes, I per_plane, I plane_size",
    "relu_backward": "const T* grad_out, const T* out, T* grad_x, I size",
    "window_mean": "const T* x, T* out, const long long* bounds, const T* divisor, I planes, "
                   "I h, I w, I ho, I wo",
    "window_mean_backward": "const T* grad_out, T* grad_in, const long long* windows, "
                            "const T* divisor, I planes, I h, I w, I ho, I wo",
    "cross_entropy_rows": "const T* x, const long long* target, const T* weight, T* loss, "
                          "T* row_weight, T* top, T* log_sum, I n, I c, I has_weight, "
                          "I ignore_index",
    "cross_entropy_rows_backward": "const T* scale, const T* x, const long long* target, "
                                   "const T* row_weight, const T* top, const T* log_sum, "
                                   "T* grad, I n, I c, I scale_per_row, I ignore_index",
}

FLOAT_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
INDEX_TYPES = {"i32": "int", "i64": "long long"}
INT32_LIMIT = 2**30  # 32-bit indices below this many elements per array (room for the step)


def entry_name(kernel: str, float_type: str, index: str) -> str:
    """The ``extern "C"`` name of one instance, e.g. ``im2col_float_i32``."""
    return f"{kernel}_{float_type}_{index}"


def _entry_point(kernel: str, float_type: str, index: str) -> str:
    params = [p.strip() for p in SIGNATURES[kernel].split(",")]
    names = [p.split()[-1].lstrip("*") for p in params]
    declared = ", ".join(
        re.sub(r"\bI\b", INDEX_TYPES[index], re.sub(r"\bT\b", float_type, p)) for p in params
    )
    return (
        f'extern "C" __global__ void {entry_name(kernel, float_type, index)}({declared}) {{\n'
        f"    {kernel}<{float_type}, {INDEX_TYPES[index]}>({', '.join(names)});\n}}\n"
    )


def source(kernels: tuple[str, ...] = tuple(TEMPLATES)) -> str:
    """The complete CUDA source of ``kernels``: prelude, templates and their entry points (one
    per float type and index width)."""
    parts = [PRELUDE]
    for kernel in kernels:
        parts.append(TEMPLATES[kernel])
        for float_type in FLOAT_TYPES.values():
            for index in INDEX_TYPES:
                parts.append(_entry_point(kernel, float_type, index))
    return "\n".join(parts)


# --- compiling and launching -----------------------------------------------------------------

BLOCK = 256
MAX_BLOCKS = 65535  # enough to fill any GPU; the grid-stride loops cover the rest


@functools.cache
def _module(kernel: str):
    import cupy

    return cupy.RawModule(code=source((kernel,)))


@functools.cache
def _function(kernel: str, name: str):
    return _module(kernel).get_function(name)


def prepare(kernel: str, dtype, total: int, args: tuple) -> tuple[str, tuple]:
    """(entry name, arguments) of ``kernel`` for arrays of ``dtype``: the index width is 64-bit
    if ``total`` or any array argument reaches ``INT32_LIMIT``, and the integer arguments are
    made NumPy integers of that width (a plain Python int would be passed as a long long)."""
    # This runs before every launch: plain loops, no generators (a LeNet step launches ~20).
    wide = total >= INT32_LIMIT
    for a in args:
        if not isinstance(a, (int, np.integer)) and a.size >= INT32_LIMIT:
            wide = True
    integer = np.int64 if wide else np.int32
    args = tuple(integer(a) if isinstance(a, (int, np.integer)) else a for a in args)
    float_type = FLOAT_TYPES.get(dtype) or FLOAT_TYPES[np.dtype(dtype)]
    return entry_name(kernel, float_type, "i64" if wide else "i32"), args


def _launch(kernel: str, dtype, total: int, *args) -> None:
    """Run ``kernel`` over flat indices [0, total) on C-contiguous CuPy arrays."""
    if total == 0:
        return
    name, args = prepare(kernel, dtype, total, args)
    blocks = min(-(-total // BLOCK), MAX_BLOCKS)
    _function(kernel, name)((blocks,), (BLOCK,), args)


def _supported(*arrays) -> bool:
    return all(np.dtype(a.dtype) in FLOAT_TYPES for a in arrays)


def _target(xp, out, shape: tuple, dtype):
    """``out`` when the kernel can write it directly (C-contiguous, that shape and dtype), else
    a new array; ``_deliver`` then copies it into ``out``."""
    if out is not None and out.flags.c_contiguous and out.dtype == dtype:
        if tuple(out.shape) == tuple(shape):
            return out
    return xp.empty(shape, dtype=dtype)


def _deliver(result, out):
    if out is None or result is out:
        return result
    out[...] = result
    return out


# --- the kernels -----------------------------------------------------------------------------


def im2col(x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair,
           out=None):
    """CUDA twin of ``plain.im2col``: (N, C, H, W) -> (C*kh*kw, N, Ho*Wo), reading the zero
    border in place; ``out`` receives the columns if given."""
    if not _supported(x):
        return plain.im2col(x, kernel, stride, padding, dilation, out_size, out)
    xp = array_module(x)
    n, c, h, w = x.shape
    shape = (c * kernel[0] * kernel[1], n, out_size[0] * out_size[1])
    cols = _target(xp, out, shape, x.dtype)
    x = xp.ascontiguousarray(x)
    _launch("im2col", x.dtype, c * shape[1] * shape[2], x, cols, n, c, h, w, *kernel, *stride,
            *padding, *dilation, *out_size)
    return _deliver(cols, out)


def col2im(cols, shape: tuple, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
           out_size: Pair, out=None, overwrite_cols: bool = False):
    """CUDA twin of ``plain.col2im``: (C*kh*kw, N, Ho*Wo) -> (N, C, H, W) of ``shape``, each
    pixel gathering the column entries copied from it. ``cols`` is never changed (so
    ``overwrite_cols`` changes nothing here)."""
    if not _supported(cols):
        return plain.col2im(cols, shape, kernel, stride, padding, dilation, out_size, out)
    xp = array_module(cols)
    shape = tuple(shape)
    x = _target(xp, out, shape, cols.dtype)
    cols = xp.ascontiguousarray(cols)
    _launch("col2im", cols.dtype, x.size, cols, x, *shape, *kernel, *stride, *padding,
            *dilation, *out_size)
    return _deliver(x, out)


def max_pool2d_forward(
    x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair
):
    """CUDA twin of ``plain.max_pool2d_forward``: returns (out, int64 indices), PyTorch's
    choice among equal maxima and NaNs."""
    if not _supported(x):
        return plain.max_pool2d_forward(x, kernel, stride, padding, dilation, out_size)
    xp = array_module(x)
    n, c, h, w = x.shape
    out = xp.empty((n, c, *out_size), dtype=x.dtype)
    indices = xp.empty((n, c, *out_size), dtype=np.int64)
    x = xp.ascontiguousarray(x)
    _launch("max_pool2d", x.dtype, out.size, x, out, indices, n * c, h, w, *kernel, *stride,
            *padding, *dilation, *out_size)
    return out, indices


def max_pool2d_backward(grad_out, indices, in_size: Pair):
    """CUDA twin of ``plain.max_pool2d_backward``: each output gradient is added (atomically,
    in float64, cast once at the end) to the input position its maximum came from."""
    if not _supported(grad_out):
        return plain.max_pool2d_backward(grad_out, indices, in_size)
    xp = array_module(grad_out)
    n, c, ho, wo = grad_out.shape
    h, w = in_size
    grad_in = xp.zeros((n, c, h, w), dtype=np.float64)
    grad_out = xp.ascontiguousarray(grad_out)
    indices = xp.ascontiguousarray(indices, dtype=np.int64)
    _launch("max_pool2d_backward", grad_out.dtype, grad_out.size, grad_out, indices, grad_in,
            n * c, ho * wo, h * w)
    return grad_in.astype(grad_out.dtype, copy=False)


def relu_forward(x, out=None):
    """The plain twin: CuPy's maximum is one kernel already."""
    return plain.relu_forward(x, out)


def relu_backward(grad_out, out):
    """CUDA twin of ``plain.relu_backward``: grad_x = 0 where out <= 0, else grad_out, in one
    pass."""
    if not _supported(grad_out) or getattr(out, "dtype", None) != grad_out.dtype:
        return plain.relu_backward(grad_out, out)
    xp = array_module(grad_out)
    grad_x = xp.empty(grad_out.shape, dtype=grad_out.dtype)
    out = xp.ascontiguousarray(xp.broadcast_to(out, grad_out.shape))
    grad_out = xp.ascontiguousarray(grad_out)
    _launch("relu_backward", grad_out.dtype, grad_out.size, grad_out, out, grad_x, grad_out.size)
    return grad_x


def window_mean_forward(x, row_start, row_end, col_start, col_end, divisor):
    """CUDA twin of ``plain.window_mean_forward``: output (oh, ow) sums rows
    [row_start[oh], row_end[oh]) and columns [col_start[ow], col_end[ow]) of its plane, then
    divides by divisor[oh, ow]; one thread per output."""
    if not _supported(x):
        return plain.window_mean_forward(x, row_start, row_end, col_start, col_end, divisor)
    xp = array_module(x)
    n, c, h, w = x.shape
    ho, wo = divisor.shape
    bounds = np.concatenate([to_device(a, "cpu").astype(np.int64) for a in
                             (row_start, row_end, col_start, col_end)])
    out = xp.empty((n, c, ho, wo), dtype=x.dtype)
    x = xp.ascontiguousarray(x)
    divisor = xp.ascontiguousarray(xp.asarray(divisor, dtype=x.dtype))
    _launch("window_mean", x.dtype, out.size, x, out, xp.asarray(bounds), divisor, n * c, h, w,
            ho, wo)
    return out


def _windows_holding(start, end, size: int, first: int):
    """For each position k < size, the windows holding it (start <= k < end, ascending) as
    (pointers, window numbers): those of k are numbers[pointers[k] - first :
    pointers[k + 1] - first]."""
    positions = np.arange(size)[:, None]
    start, end = to_device(start, "cpu"), to_device(end, "cpu")  # window bounds: host arrays
    holds = (start[None, :] <= positions) & (positions < end[None, :])
    pointers = first + np.concatenate(([0], np.cumsum(holds.sum(axis=1))))
    return pointers, np.nonzero(holds)[1]


def window_mean_backward(grad_out, in_size: Pair, row_start, row_end, col_start, col_end,
                         divisor):
    """CUDA twin of ``plain.window_mean_backward``: each input pixel gathers grad / divisor
    from the windows that hold it, listed beforehand on the host for each row and column."""
    if not _supported(grad_out):
        return plain.window_mean_backward(grad_out, in_size, row_start, row_end, col_start,
                                          col_end, divisor)
    xp = array_module(grad_out)
    n, c, ho, wo = grad_out.shape
    h, w = in_size
    row_pointers, rows = _windows_holding(row_start, row_end, h, h + w + 2)
    col_pointers, cols = _windows_holding(col_start, col_end, w, h + w + 2 + len(rows))
    windows = np.concatenate([row_pointers, col_pointers, rows, cols]).astype(np.int64)
    grad_in = xp.empty((n, c, h, w), dtype=grad_out.dtype)
    grad_out = xp.ascontiguousarray(grad_out)
    divisor = xp.ascontiguousarray(xp.asarray(divisor, dtype=grad_out.dtype))
    _launch("window_mean_backward", grad_out.dtype, grad_in.size, grad_out, grad_in,
            xp.asarray(windows), divisor, n * c, h, w, ho, wo)
    return grad_in


# --- cross-entropy ---------------------------------------------------------------------------

INT32_RANGE = range(-(2**31), 2**31)


def cross_entropy_rows(logits, target, weight, ignore_index: int):
    """CUDA twin of ``plain.cross_entropy_rows``: one kernel, one thread per row."""
    fits = ignore_index in INT32_RANGE and (weight is None or weight.dtype == logits.dtype)
    if not (fits and _supported(logits)):
        return plain.cross_entropy_rows(logits, target, weight, ignore_index)
    xp = array_module(logits)
    logits = xp.ascontiguousarray(logits)
    target = xp.ascontiguousarray(target, dtype=np.int64)
    n, c = logits.shape
    loss, row_weight, top, log_sum = (xp.empty(n, dtype=logits.dtype) for _ in range(4))
    weights = logits if weight is None else xp.ascontiguousarray(weight)  # unread without
    _launch("cross_entropy_rows", logits.dtype, n, logits, target, weights, loss, row_weight,
            top, log_sum, n, c, int(weight is not None), int(ignore_index))
    return loss, row_weight, top, log_sum


def cross_entropy_rows_backward(scale, logits, target, row_weight, top, log_sum,
                                ignore_index: int):
    """CUDA twin of ``plain.cross_entropy_rows_backward``: one kernel, one thread per logit."""
    if not (ignore_index in INT32_RANGE and _supported(logits)):
        return plain.cross_entropy_rows_backward(scale, logits, target, row_weight, top,
                                                 log_sum, ignore_index)
    xp = array_module(logits)
    n, c = logits.shape
    scale = xp.ascontiguousarray(scale, dtype=logits.dtype).reshape(-1)
    grad = xp.empty((n, c), dtype=logits.dtype)
    arrays = [xp.ascontiguousarray(a) for a in (logits, target, row_weight, top, log_sum)]
    _launch("cross_entropy_rows_backward", logits.dtype, n * c, scale, *arrays, grad, n, c,
            int(scale.size > 1), int(ignore_index))
    return grad


# --- optimizer steps -------------------------------------------------------------------------

# One thread per parameter element does what the plain twin does in five array operations, in
# the same order and with the same roundings (--fmad=false: no fused multiply-adds).
SGD_MOMENTUM = r"""
const T b = first ? g : buffer * momentum + keep * g;
buffer = b;
weight = weight - lr * (nesterov ? g + momentum * b : b);
"""


@functools.cache
def _sgd_momentum_kernel():
    import cupy

    return cupy.ElementwiseKernel(
        "T g, T lr, T momentum, T keep, bool nesterov, bool first", "T weight, T buffer",
        SGD_MOMENTUM, "minicnn_sgd_momentum", options=("--fmad=false",),
    )


def sgd_momentum_step(weight, g, buffer, lr: float, momentum: float, dampening: float,
                      nesterov: bool):
    """Fused twin of ``plain.sgd_momentum_step``: one kernel updates b and w in place
    (keep = 1 - dampening); returns b."""
    same = g.dtype == weight.dtype and (buffer is None or buffer.dtype == weight.dtype)
    if not (same and _supported(weight)):
        return plain.sgd_momentum_step(weight, g, buffer, lr, momentum, dampening, nesterov)
    first = buffer is None
    if first:
        buffer = array_module(weight).empty_like(weight)
    scalar = weight.dtype.type
    _sgd_momentum_kernel()(g, scalar(lr), scalar(momentum), scalar(1 - dampening),
                           bool(nesterov), first, weight, buffer)
    return buffer
