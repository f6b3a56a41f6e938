"""The CUDA kernels of backend.gpu against their plain twins in backend.plain, in three layers.

1. Anywhere a host C++ compiler is: the very CUDA source, compiled for the CPU through
   ``cuda_host_shim.h`` (CUDA's built-ins as plain C++), run by gpu.py's own wrappers on NumPy
   arrays, the launch replaced by a serial loop over the threads of a small grid. This checks
   the index arithmetic, the grid-stride loops and the arguments each wrapper passes.
2. Where nvcc is: each kernel's source compiles as CUDA, with the entry points CuPy looks up.
3. On a GPU (CuPy): the wrappers on CuPy arrays against the plain twins on the same arrays and
   against PyTorch (unfold, fold, max_pool2d, avg_pool2d, adaptive_avg_pool2d) on the CPU.

A kernel whose additions follow the plain twin's order (col2im, the window mean's backward) or
that adds nothing (im2col, max pooling, ReLU) must equal its twin exactly.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from gpu_support import host, requires_gpu
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kernels import (
    draw_pool_input,
    layouts,
    make_array,
    max_pool_geometry,
    pair_of,
    scatter_cases,
    scatter_reference,
    torch_max_pool,
    unfold_cases,
    window_cases,
    window_mean_backward_reference,
    window_mean_reference,
)
from torch_reference import DTYPES, assert_close

from minicnn.backend import gpu, kernels, plain, plain_kernels
from minicnn.functional.pooling import pool_output_shape

SHIM = Path(__file__).with_name("cuda_host_shim.h")
GRIDS = st.sampled_from([(1, 1), (1, 5), (3, 2), (4, 7)])  # (blocks, threads per block)


def entry(kernel: str, dtype, wide: bool) -> str:
    return gpu.entry_name(kernel, gpu.FLOAT_TYPES[np.dtype(dtype)], "i64" if wide else "i32")


@st.composite
def window_geometry(draw):
    """``unfold_cases``, and half of the time an output up to two positions longer on each
    axis: the last windows then hang past the zero border, as ceil_mode lets pooling's do."""
    shape, kernel, stride, padding, dilation, out_size = draw(unfold_cases())
    if draw(st.booleans()):
        out_size = tuple(o + draw(st.integers(0, 2)) for o in out_size)
    return shape, kernel, stride, padding, dilation, out_size


def strided_like(shape, dtype, xp=np):
    """A non-contiguous array of ``shape`` filled with NaN: every other element of its rows."""
    spread = xp.full((*shape[:-1], 2 * shape[-1]), np.nan, dtype)
    return spread[..., ::2]


# --- 1. the CUDA source on the CPU -----------------------------------------------------------


@pytest.fixture(scope="module")
def host_library(tmp_path_factory):
    """gpu.source() compiled by the host C++ compiler through the shim, loaded with ctypes."""
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("needs a host C++ compiler (g++) to run the CUDA source on the CPU")
    folder = tmp_path_factory.mktemp("cuda_on_host")
    source, library = folder / "kernels.cpp", folder / "kernels.so"
    source.write_text(gpu.source())
    command = [compiler, "-std=c++17", "-O2", "-ffp-contract=off", "-Wall", "-Wextra",
               "-shared", "-fPIC", "-include", str(SHIM), str(source), "-o", str(library)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"the CUDA source does not compile on the host:\n{result.stderr}")
    return ctypes.CDLL(str(library))


POINTEE_DTYPES = {"long long": np.dtype(np.int64), "double": np.dtype(np.float64)}
GUARD = 0x5A  # the byte that fills the guard zones around each array


class Guarded:
    """A copy of a C-contiguous array between two guard zones as long as the array (64 bytes
    at least), for a kernel to run on: ``check`` fails if the kernel wrote outside the array
    (or into a const one), then copies what it wrote back into the array."""

    def __init__(self, array: np.ndarray, const: bool, what: str):
        self.array, self.const, self.what = array, const, what
        self.guard = max(64, -(-array.nbytes // 64) * 64)
        self.bytes = np.full(array.nbytes + 2 * self.guard, GUARD, np.uint8)
        self.inside = self.bytes[self.guard : self.guard + array.nbytes]
        self.inside[...] = array.reshape(-1).view(np.uint8)
        self.pointer = ctypes.c_void_p(self.bytes.ctypes.data + self.guard)

    def check(self) -> None:
        outside = np.concatenate([self.bytes[: self.guard], self.bytes[-self.guard :]])
        assert (outside == GUARD).all(), f"{self.what}: written outside the array"
        original = self.array.reshape(-1).view(np.uint8)
        if self.const:
            np.testing.assert_array_equal(self.inside, original, err_msg=f"{self.what} changed")
        else:
            original[...] = self.inside


def host_arguments(kernel: str, name: str, dtype, args) -> tuple[list, list]:
    """(ctypes arguments, guarded arrays) for entry ``name``, checking each argument against
    ``gpu.SIGNATURES``: arrays C-contiguous, of the pointee's dtype, writable where the kernel
    writes; integers of the entry's index width."""
    params = [p.strip() for p in gpu.SIGNATURES[kernel].split(",")]
    assert len(params) == len(args), f"{name}: {len(args)} arguments for {len(params)} params"
    wide = name.endswith("_i64")
    converted, guarded = [], []
    for param, arg in zip(params, args, strict=True):
        declared = param.rsplit(" ", 1)[0]
        what = f"{name} {param}"
        if declared.endswith("*"):
            pointee = declared.removeprefix("const ").removesuffix("*")
            expected = np.dtype(dtype) if pointee == "T" else POINTEE_DTYPES[pointee]
            assert isinstance(arg, np.ndarray), f"{what}: got {type(arg).__name__}"
            assert arg.dtype == expected, f"{what}: dtype {arg.dtype}, not {expected}"
            assert arg.flags.c_contiguous, f"{what}: not C-contiguous"
            const = declared.startswith("const")
            assert const or arg.flags.writeable, f"{what}: read-only"
            guarded.append(Guarded(arg, const, what))
            converted.append(guarded[-1].pointer)
        else:
            assert declared == "I", param
            assert arg.dtype == (np.int64 if wide else np.int32), f"{what}: {arg.dtype}"
            converted.append((ctypes.c_int64 if wide else ctypes.c_int32)(int(arg)))
    return converted, guarded


@contextmanager
def on_host(library, grid=(1, 1), wide=False):
    """Inside the block, gpu.py's wrappers launch their kernels from ``library`` on NumPy
    arrays (each inside guard zones), one simulated thread of ``grid`` after another; ``wide``
    forces 64-bit indices. Yields the list of entry points launched."""
    launched = []

    def launch(kernel, dtype, total, *args):
        if total == 0:
            return
        name, args = gpu.prepare(kernel, dtype, total, args)
        launched.append(name)
        arguments, guarded = host_arguments(kernel, name, dtype, args)
        function = getattr(library, name)
        function.restype = None
        blocks, threads = grid
        for block in range(blocks):
            for thread in range(threads):
                library.minicnn_set_thread(block, thread, blocks, threads)
                function(*arguments)
        for array in guarded:
            array.check()

    limit = 0 if wide else gpu.INT32_LIMIT
    with mock.patch.object(gpu, "_launch", launch), mock.patch.object(gpu, "INT32_LIMIT", limit):
        yield launched


@given(case=window_geometry(), layout=layouts(), grid=GRIDS, wide=st.booleans(),
       seed=st.integers(0, 2**16))
@DTYPES
def test_im2col_source_on_host_equals_plain(host_library, case, layout, grid, wide, seed,
                                            dtype):
    shape, kernel, stride, padding, dilation, out_size = case
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x = make_array(values, layout)
    expected = plain.im2col(values, kernel, stride, padding, dilation, out_size)
    workspace = np.full(expected.size + 3, np.nan, dtype)[: expected.size].reshape(expected.shape)
    strided = strided_like(expected.shape, dtype)
    with on_host(host_library, grid, wide) as launched:
        cols = gpu.im2col(x, kernel, stride, padding, dilation, out_size)
        filled = gpu.im2col(x, kernel, stride, padding, dilation, out_size, out=workspace)
        into_strided = gpu.im2col(x, kernel, stride, padding, dilation, out_size, out=strided)
    assert launched == [entry("im2col", dtype, wide)] * 3
    assert cols.dtype == dtype and cols.shape == expected.shape
    np.testing.assert_array_equal(cols, expected)
    assert filled is workspace and into_strided is strided
    np.testing.assert_array_equal(workspace, expected)
    np.testing.assert_array_equal(strided, expected)
    np.testing.assert_array_equal(x, values)


@given(case=window_geometry(), layout=layouts(), grid=GRIDS, wide=st.booleans(),
       seed=st.integers(0, 2**16))
@DTYPES
def test_col2im_source_on_host_equals_plain(host_library, case, layout, grid, wide, seed,
                                            dtype):
    """A gather in the plain twin's order of additions: equal to it exactly."""
    shape, kernel, stride, padding, dilation, out_size = case
    n, c = shape[:2]
    rows, per_image = c * kernel[0] * kernel[1], out_size[0] * out_size[1]
    values = np.random.default_rng(seed).standard_normal((rows, n, per_image)).astype(dtype)
    expected = plain.col2im(values, shape, kernel, stride, padding, dilation, out_size)
    cols = make_array(values, layout)
    read_only = values.copy()
    read_only.setflags(write=False)
    out, strided = np.full(shape, np.nan, dtype), strided_like(shape, dtype)
    geometry = (kernel, stride, padding, dilation, out_size)
    with on_host(host_library, grid, wide) as launched:
        result = gpu.col2im(cols, shape, *geometry)
        from_read_only = gpu.col2im(read_only, shape, *geometry)
        filled = gpu.col2im(cols, shape, *geometry, out=out, overwrite_cols=True)
        into_strided = gpu.col2im(cols, shape, *geometry, out=strided)
    assert launched == [entry("col2im", dtype, wide)] * 4
    assert result.dtype == dtype and result.shape == shape
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(from_read_only, expected)
    assert filled is out and into_strided is strided
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(strided, expected)
    np.testing.assert_array_equal(cols, values)  # never changed, even with overwrite_cols


@given(case=max_pool_geometry(), layout=layouts(), grid=GRIDS, wide=st.booleans(),
       data=st.data())
@DTYPES
def test_max_pool2d_forward_source_on_host_equals_plain(host_library, case, layout, grid, wide,
                                                        data, dtype):
    """Ties, NaN, -inf and windows that miss the input: the same maxima and indices."""
    shape, kernel, stride, padding, dilation, ceil_mode = case
    values = draw_pool_input(data.draw, shape, dtype)
    out_size = pool_output_shape(shape[2:], kernel, stride, padding, dilation, ceil_mode)
    expected, expected_indices = plain.max_pool2d_forward(values, kernel, stride, padding,
                                                          dilation, out_size)
    x = make_array(values, layout)
    with on_host(host_library, grid, wide) as launched:
        out, indices = gpu.max_pool2d_forward(x, kernel, stride, padding, dilation, out_size)
    assert launched == [entry("max_pool2d", dtype, wide)]
    assert out.dtype == dtype and indices.dtype == np.int64
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(x, values)


@given(case=scatter_cases(), layout=layouts(), grid=GRIDS, wide=st.booleans(),
       negative=st.booleans())
@DTYPES
def test_max_pool2d_backward_source_on_host_matches_plain(host_library, case, layout, grid,
                                                          wide, negative, dtype):
    """Repeated indices add up; indices outside [0, H*W), negative ones too, send nothing."""
    indices, in_size, seed = case
    if negative:
        indices = indices - in_size[0] * in_size[1] // 2
    values = np.random.default_rng(seed).standard_normal(indices.shape).astype(dtype)
    expected = plain.max_pool2d_backward(values, indices, in_size)
    with on_host(host_library, grid, wide) as launched:
        result = gpu.max_pool2d_backward(make_array(values, layout), make_array(indices, layout),
                                         in_size)
    assert launched == [entry("max_pool2d_backward", dtype, wide)]
    assert_close(result, expected, dtype, "max_pool2d_backward against plain")
    assert_close(result, scatter_reference(values, indices, in_size), dtype,
                 "max_pool2d_backward against a float64 scatter")


@given(case=window_cases(), layout=layouts(), grid=GRIDS, wide=st.booleans(),
       seed=st.integers(0, 2**16))
@DTYPES
def test_window_mean_forward_source_on_host_matches_plain(host_library, case, layout, grid,
                                                          wide, seed, dtype):
    shape, bounds, divisor = case
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x = make_array(values, layout)
    with on_host(host_library, grid, wide) as launched:
        result = gpu.window_mean_forward(x, *bounds, divisor)
    assert launched == [entry("window_mean", dtype, wide)]
    assert_close(result, plain.window_mean_forward(values, *bounds, divisor), dtype,
                 "window_mean_forward against plain")
    assert_close(result, window_mean_reference(values, *bounds, divisor), dtype,
                 "window_mean_forward against a float64 loop")
    np.testing.assert_array_equal(x, values)


@given(case=window_cases(), layout=layouts(), grid=GRIDS, wide=st.booleans(),
       seed=st.integers(0, 2**16))
@DTYPES
def test_window_mean_backward_source_on_host_equals_plain(host_library, case, layout, grid,
                                                          wide, seed, dtype):
    """Overlapping, unordered windows; a gather in the plain twin's order: equal exactly."""
    shape, bounds, divisor = case
    values = np.random.default_rng(seed).standard_normal((*shape[:2], *divisor.shape))
    values = values.astype(dtype)
    grad_out = make_array(values, layout)
    with on_host(host_library, grid, wide) as launched:
        result = gpu.window_mean_backward(grad_out, shape[2:], *bounds, divisor)
    assert launched == [entry("window_mean_backward", dtype, wide)]
    assert result.dtype == dtype
    np.testing.assert_array_equal(
        result, plain.window_mean_backward(values, shape[2:], *bounds, divisor)
    )
    assert_close(result, window_mean_backward_reference(values, shape[2:], *bounds, divisor),
                 dtype, "window_mean_backward against a float64 loop")
    np.testing.assert_array_equal(grad_out, values)


def relu_case(rng, shape, dtype):
    """(grad_out, x, out = relu(x)): inputs with zeros of both signs, NaN and infinities."""
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0], dtype)
    x = np.where(rng.random(shape) < 0.3, rng.choice(special, shape), rng.standard_normal(shape))
    x = x.astype(dtype)
    return rng.standard_normal(shape).astype(dtype), x, np.maximum(x, 0)


@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple),
    layout=layouts(), grid=GRIDS, wide=st.booleans(), seed=st.integers(0, 2**16),
)
@DTYPES
def test_relu_backward_source_on_host_equals_plain(host_library, shape, layout, grid, wide,
                                                   seed, dtype):
    grad, _, out = relu_case(np.random.default_rng(seed), shape, dtype)
    with on_host(host_library, grid, wide) as launched:
        result = gpu.relu_backward(make_array(grad, layout), make_array(out, layout))
    assert launched == ([entry("relu_backward", dtype, wide)] if grad.size else [])
    assert result.dtype == dtype and result.shape == shape
    np.testing.assert_array_equal(result, plain.relu_backward(grad, out))


def test_relu_backward_source_on_host_broadcasts_the_output(host_library):
    grad = np.arange(6.0).reshape(2, 3)
    out = np.array([[1.0, -1.0, 0.5]])
    with on_host(host_library, (2, 2)):
        result = gpu.relu_backward(grad, out)
    np.testing.assert_array_equal(result, np.array([[0.0, 0.0, 2.0], [3.0, 0.0, 5.0]]))


def test_other_dtypes_take_the_plain_twins(host_library):
    """float16 (and integer) arrays launch nothing: the plain twins compute them."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float16)
    geometry = ((2, 3), (1, 2), (1, 0), (1, 1), (4, 1))
    with on_host(host_library) as launched:
        cols = gpu.im2col(x, *geometry)
        folded = gpu.col2im(cols, x.shape, *geometry)
        pooled, indices = gpu.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), (2, 2))
        grad = gpu.max_pool2d_backward(pooled, indices, (5, 4))
        relu = gpu.relu_backward(x, x.astype(np.float32))
    assert launched == []
    np.testing.assert_array_equal(cols, plain.im2col(x, *geometry))
    np.testing.assert_array_equal(folded, plain.col2im(cols, x.shape, *geometry))
    np.testing.assert_array_equal(grad, plain.max_pool2d_backward(pooled, indices, (5, 4)))
    np.testing.assert_array_equal(relu, plain.relu_backward(x, x.astype(np.float32)))
    assert cols.dtype == folded.dtype == pooled.dtype == grad.dtype == np.float16


def test_index_width_follows_the_largest_array():
    """32-bit indices below INT32_LIMIT elements in every array and the thread count, else
    64-bit, with the integer arguments cast to match."""
    small = np.zeros(10, np.float32)
    name, args = gpu.prepare("relu_backward", np.float32, 10, (small, small, small, 10))
    assert name == "relu_backward_float_i32" and args[3].dtype == np.int32
    huge = np.broadcast_to(np.zeros(1, np.float64), (gpu.INT32_LIMIT,))  # no memory behind it
    name, args = gpu.prepare("relu_backward", np.float64, 10, (small, huge, small, 10))
    assert name == "relu_backward_double_i64" and args[3].dtype == np.int64
    name, _ = gpu.prepare("max_pool2d_backward", np.float32, gpu.INT32_LIMIT, (small, 1))
    assert name == "max_pool2d_backward_float_i64"


def test_importing_the_gpu_kernels_imports_no_cupy():
    """The sources are plain text: ``import minicnn.backend.gpu`` neither imports CuPy nor
    compiles anything; nor does ``import minicnn``."""
    code = ("import sys, minicnn, minicnn.backend.gpu as gpu; "
            "assert 'cupy' not in sys.modules, 'cupy imported'; "
            "assert gpu._module.cache_info().currsize == 0")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numpy_arrays_keep_the_numba_kernels():
    from minicnn.backend import cpu

    x = np.zeros((1, 1, 2, 2))
    assert kernels(x) is cpu
    with plain_kernels():
        assert kernels(x) is plain


# --- 2. the CUDA source through nvcc ---------------------------------------------------------


@pytest.mark.skipif(shutil.which("nvcc") is None,
                    reason="needs nvcc (the CUDA compiler) to check the kernels compile as CUDA")
@pytest.mark.parametrize("kernel", list(gpu.TEMPLATES))
def test_each_kernel_compiles_as_cuda(kernel, tmp_path):
    """The source CuPy compiles for ``kernel`` builds without a warning (sm_75, the oldest
    architecture current CUDA supports; double atomicAdd needs sm_60) and exports the
    ``extern "C"`` entry points gpu.py looks up."""
    source, ptx = tmp_path / f"{kernel}.cu", tmp_path / f"{kernel}.ptx"
    source.write_text(gpu.source((kernel,)))
    command = ["nvcc", "-arch=sm_75", "--ptx", "-Werror", "all-warnings", str(source),
               "-o", str(ptx)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    exported = re.findall(r"\.entry\s+(\w+)\s*\(", ptx.read_text())
    expected = [gpu.entry_name(kernel, float_type, index)
                for float_type in gpu.FLOAT_TYPES.values() for index in gpu.INDEX_TYPES]
    assert sorted(exported) == sorted(expected)


# --- 3. on a GPU -----------------------------------------------------------------------------


GPU_EXAMPLES = settings(max_examples=40)


def on_gpu(values: np.ndarray, layout: str):
    """``values`` on the GPU as a C-contiguous array, a strided view or a Fortran-ordered copy."""
    import cupy

    if layout == "strided":
        spread = cupy.zeros((*values.shape[:-1], 2 * values.shape[-1]), values.dtype)
        spread[..., ::2] = cupy.asarray(values)
        return spread[..., ::2]
    if layout == "fortran":
        return cupy.asfortranarray(cupy.asarray(values))
    return cupy.asarray(values)


@contextmanager
def gpu_launches(wide=False):
    """Records the kernels gpu.py launches on the GPU; ``wide`` forces 64-bit indices."""
    launched, launch = [], gpu._launch

    def recording(kernel, dtype, total, *args):
        launched.append(kernel)
        launch(kernel, dtype, total, *args)

    limit = 0 if wide else gpu.INT32_LIMIT
    with mock.patch.object(gpu, "_launch", recording), mock.patch.object(gpu, "INT32_LIMIT", limit):
        yield launched


@requires_gpu
def test_cupy_arrays_get_the_cuda_kernels():
    import cupy

    x = cupy.zeros((1, 1, 2, 2))
    assert kernels(x) is gpu
    with plain_kernels():
        assert kernels(x) is plain


@requires_gpu
@GPU_EXAMPLES
@given(case=unfold_cases(), layout=layouts(), wide=st.booleans(), seed=st.integers(0, 2**16))
@DTYPES
def test_gpu_im2col_matches_torch_unfold_and_plain(case, layout, wide, seed, dtype):
    import cupy

    shape, kernel, stride, padding, dilation, out_size = case
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    expected = torch.nn.functional.unfold(
        torch.from_numpy(values), kernel, dilation, padding, stride
    ).numpy().transpose(1, 0, 2)
    x = on_gpu(values, layout)
    geometry = (kernel, stride, padding, dilation, out_size)
    workspace = cupy.full(expected.size + 5, np.nan, dtype)  # as conv2d_forward passes it
    view = workspace[: expected.size].reshape(expected.shape)
    with gpu_launches(wide) as launched:
        cols = gpu.im2col(x, *geometry)
        filled = gpu.im2col(x, *geometry, out=view)
    assert launched == ["im2col"] * 2
    assert isinstance(cols, cupy.ndarray) and cols.dtype == dtype
    np.testing.assert_array_equal(host(cols), expected)
    np.testing.assert_array_equal(host(cols), host(plain.im2col(x, *geometry)))
    assert filled is view
    np.testing.assert_array_equal(host(view), expected)
    assert np.isnan(host(workspace[expected.size :])).all()
    np.testing.assert_array_equal(host(x), values)


@requires_gpu
@GPU_EXAMPLES
@given(case=window_geometry(), layout=layouts(), wide=st.booleans(), seed=st.integers(0, 2**16))
@DTYPES
def test_gpu_col2im_matches_torch_fold_and_plain(case, layout, wide, seed, dtype):
    import cupy

    shape, kernel, stride, padding, dilation, out_size = case
    n, c = shape[:2]
    rows, per_image = c * kernel[0] * kernel[1], out_size[0] * out_size[1]
    values = np.random.default_rng(seed).standard_normal((rows, n, per_image)).astype(dtype)
    geometry = (kernel, stride, padding, dilation, out_size)
    cols = on_gpu(values, layout)
    batch = cupy.full((n + 2, *shape[1:]), np.nan, dtype)  # conv2d_backward's grad_source
    chunk = batch[1 : n + 1]
    with gpu_launches(wide) as launched:
        result = gpu.col2im(cols, shape, *geometry)
        filled = gpu.col2im(cols, shape, *geometry, out=chunk, overwrite_cols=True)
    assert launched == ["col2im"] * 2
    assert isinstance(result, cupy.ndarray) and result.dtype == dtype
    np.testing.assert_array_equal(host(result), host(plain.col2im(cols, shape, *geometry)))
    assert filled is chunk
    np.testing.assert_array_equal(host(chunk), host(result))
    assert np.isnan(host(batch[0])).all() and np.isnan(host(batch[n + 1])).all()
    np.testing.assert_array_equal(host(cols), values)
    if out_size == unfold_cases_output(shape, kernel, stride, padding, dilation):
        folded = torch.nn.functional.fold(
            torch.from_numpy(values.transpose(1, 0, 2).copy()), shape[2:], kernel, dilation,
            padding, stride,
        ).numpy()
        assert_close(host(result), folded, dtype, "col2im against torch fold")


def unfold_cases_output(shape, kernel, stride, padding, dilation) -> tuple:
    """The output size torch's unfold and fold take for this geometry."""
    return tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation, strict=True)
    )


@requires_gpu
@GPU_EXAMPLES
@given(case=max_pool_geometry(), layout=layouts(), wide=st.booleans(), data=st.data())
@DTYPES
def test_gpu_max_pool2d_forward_matches_torch_and_plain(case, layout, wide, data, dtype):
    shape, kernel, stride, padding, dilation, ceil_mode = case
    values = draw_pool_input(data.draw, shape, dtype)
    out_torch, indices_torch = torch_max_pool(values, kernel, stride, padding, dilation, ceil_mode)
    x = on_gpu(values, layout)
    geometry = (kernel, stride, padding, dilation, out_torch.shape[2:])
    with gpu_launches(wide) as launched:
        out, indices = gpu.max_pool2d_forward(x, *geometry)
    assert launched == ["max_pool2d"]
    assert out.dtype == dtype and indices.dtype == np.int64
    np.testing.assert_array_equal(host(out), out_torch)
    np.testing.assert_array_equal(host(indices), indices_torch)
    plain_out, plain_indices = plain.max_pool2d_forward(x, *geometry)
    np.testing.assert_array_equal(host(out), host(plain_out))
    np.testing.assert_array_equal(host(indices), host(plain_indices))


@requires_gpu
@GPU_EXAMPLES
@given(case=scatter_cases(), layout=layouts(), wide=st.booleans())
@DTYPES
def test_gpu_max_pool2d_backward_scatters_and_adds(case, layout, wide, dtype):
    indices, in_size, seed = case
    values = np.random.default_rng(seed).standard_normal(indices.shape).astype(dtype)
    grad_out, on_device_indices = on_gpu(values, layout), on_gpu(indices, layout)
    with gpu_launches(wide) as launched:
        result = gpu.max_pool2d_backward(grad_out, on_device_indices, in_size)
    assert launched == ["max_pool2d_backward"]
    assert_close(host(result), scatter_reference(values, indices, in_size), dtype,
                 "max_pool2d_backward against a float64 scatter")
    assert_close(host(result), host(plain.max_pool2d_backward(grad_out, on_device_indices,
                                                              in_size)),
                 dtype, "max_pool2d_backward against plain")


@requires_gpu
@GPU_EXAMPLES
@given(case=window_cases(), layout=layouts(), wide=st.booleans(), seed=st.integers(0, 2**16))
@DTYPES
def test_gpu_window_mean_forward_and_backward_match_plain(case, layout, wide, seed, dtype):
    shape, bounds, divisor = case
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(dtype)
    grads = rng.standard_normal((*shape[:2], *divisor.shape)).astype(dtype)
    x, grad_out = on_gpu(values, layout), on_gpu(grads, layout)
    with gpu_launches(wide) as launched:
        out = gpu.window_mean_forward(x, *bounds, divisor)
        grad_in = gpu.window_mean_backward(grad_out, shape[2:], *bounds, divisor)
    assert launched == ["window_mean", "window_mean_backward"]
    assert_close(host(out), window_mean_reference(values, *bounds, divisor), dtype,
                 "window_mean_forward against a float64 loop")
    assert_close(host(out), host(plain.window_mean_forward(x, *bounds, divisor)), dtype,
                 "window_mean_forward against plain")
    assert_close(host(grad_in), window_mean_backward_reference(grads, shape[2:], *bounds,
                                                               divisor),
                 dtype, "window_mean_backward against a float64 loop")
    np.testing.assert_array_equal(
        host(grad_in), host(plain.window_mean_backward(grad_out, shape[2:], *bounds, divisor))
    )


@st.composite
def avg_pool_options(draw):
    """avg_pool2d options PyTorch accepts, and an input that gives an output of at least 1x1."""
    kernel = draw(pair_of(1, 4))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(max(1, k - 2 * p) + draw(st.integers(0, 5))
                 for k, p in zip(kernel, padding, strict=True))
    options = dict(kernel=kernel, stride=draw(pair_of(1, 3)), padding=padding,
                   ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
                   divisor_override=draw(st.one_of(st.none(), st.integers(1, 7))))
    return options, (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *size)


@requires_gpu
@GPU_EXAMPLES
@given(case=avg_pool_options(), adaptive=pair_of(1, 9), seed=st.integers(0, 2**16))
@DTYPES
def test_gpu_average_pools_match_torch(case, adaptive, seed, dtype):
    """functional.avg_pool2d and adaptive_avg_pool2d on CuPy arrays (so through kernels(x),
    the CUDA window means) against torch, forward and backward."""
    from minicnn.functional import pooling

    options, shape = case
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(dtype)
    x = on_gpu(values, "contiguous")
    x_torch = torch.from_numpy(values.copy()).requires_grad_(True)
    runs = [
        (pooling.avg_pool2d_forward(x, **options),
         torch.nn.functional.avg_pool2d(x_torch, options["kernel"], options["stride"],
                                        options["padding"], options["ceil_mode"],
                                        options["count_include_pad"],
                                        options["divisor_override"])),
        (pooling.adaptive_avg_pool2d_forward(x, adaptive),
         torch.nn.functional.adaptive_avg_pool2d(x_torch, adaptive)),
    ]
    for (out, cache), out_torch in runs:
        assert_close(host(out), out_torch.detach().numpy(), dtype, "average pool forward")
        grads = rng.standard_normal(out.shape).astype(dtype)
        x_torch.grad = None
        out_torch.backward(torch.from_numpy(grads))
        grad_in = pooling.window_mean_backward(on_gpu(grads, "contiguous"), cache)
        assert_close(host(grad_in), x_torch.grad.numpy(), dtype, "average pool backward",
                     scale_floor=float(np.abs(grads).max()))


@requires_gpu
@GPU_EXAMPLES
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple),
    layout=layouts(), wide=st.booleans(), seed=st.integers(0, 2**16),
)
@DTYPES
def test_gpu_relu_backward_matches_torch(shape, layout, wide, seed, dtype):
    grad, x, out = relu_case(np.random.default_rng(seed), shape, dtype)
    x_torch = torch.from_numpy(x.copy()).requires_grad_(True)
    torch.relu(x_torch).backward(torch.from_numpy(grad))
    with gpu_launches(wide):
        result = gpu.relu_backward(on_gpu(grad, layout), on_gpu(out, layout))
    assert result.dtype == dtype and result.shape == shape
    np.testing.assert_array_equal(host(result), x_torch.grad.numpy())


# --- cross-entropy rows ------------------------------------------------------------------------


@st.composite
def cross_entropy_rows_cases(draw):
    """(logits, targets, class weights or None, ignore_index), with ignored rows, ties, +-1e4
    logits, -inf logits and a NaN now and then."""
    n, c = draw(st.integers(0, 6)), draw(st.integers(1, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    logits = rng.standard_normal((n, c)) * draw(st.sampled_from([1.0, 30.0, 1e4]))
    if n and draw(st.booleans()):
        logits[rng.integers(n), rng.integers(c)] = draw(st.sampled_from([-np.inf, np.nan]))
    ignore_index = draw(st.sampled_from([-100, 0, 2]))
    targets = rng.integers(0, c, n)
    targets[rng.random(n) < 0.3] = ignore_index
    weight = rng.uniform(0.1, 2.0, c) if draw(st.booleans()) else None
    return logits, targets, weight, ignore_index


def rows_inputs(case, dtype):
    logits, targets, weight, ignore_index = case
    weight = None if weight is None else weight.astype(dtype)
    return logits.astype(dtype), targets, weight, ignore_index


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@given(case=cross_entropy_rows_cases(), grid=GRIDS, wide=st.booleans(),
       per_row=st.booleans())
@DTYPES
def test_cross_entropy_rows_source_on_host_matches_plain(host_library, case, grid, wide,
                                                        per_row, dtype):
    logits, targets, weight, ignore_index = rows_inputs(case, dtype)
    expected = plain.cross_entropy_rows(logits, targets, weight, ignore_index)
    scale = (np.random.default_rng(1).uniform(0.5, 2, len(targets)) if per_row
             else np.array(0.7)).astype(dtype)
    grad_expected = plain.cross_entropy_rows_backward(scale, logits, targets, *expected[1:],
                                                      ignore_index)
    with on_host(host_library, grid, wide) as launched:
        got = gpu.cross_entropy_rows(logits, targets, weight, ignore_index)
        grad = gpu.cross_entropy_rows_backward(scale, logits, targets, *got[1:], ignore_index)
    if len(targets):
        assert launched == [entry("cross_entropy_rows", dtype, wide),
                            entry("cross_entropy_rows_backward", dtype, wide)]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for name, a, b in zip(("loss", "weight", "top", "log_sum"), got, expected, strict=True):
        assert a.dtype == dtype and a.shape == b.shape, name
        assert_close(a, b, dtype, name, scale_floor=1.0, tol=tol)
    assert grad.dtype == dtype and grad.shape == logits.shape
    assert_close(grad, grad_expected, dtype, "grad", scale_floor=1.0, tol=tol)


@requires_gpu
@GPU_EXAMPLES
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@given(case=cross_entropy_rows_cases(), per_row=st.booleans())
@DTYPES
def test_gpu_cross_entropy_rows_match_plain(case, per_row, dtype):
    import cupy

    logits, targets, weight, ignore_index = rows_inputs(case, dtype)
    on_gpu = [cupy.asarray(a) for a in (logits, targets)]
    gpu_weight = None if weight is None else cupy.asarray(weight)
    scale = cupy.asarray((np.random.default_rng(1).uniform(0.5, 2, len(targets)) if per_row
                          else np.array(0.7)).astype(dtype))
    with gpu_launches() as launched:
        got = gpu.cross_entropy_rows(*on_gpu, gpu_weight, ignore_index)
        grad = gpu.cross_entropy_rows_backward(scale, *on_gpu, *got[1:], ignore_index)
    if len(targets):
        assert launched == ["cross_entropy_rows", "cross_entropy_rows_backward"]
    expected = plain.cross_entropy_rows(*on_gpu, gpu_weight, ignore_index)
    grad_expected = plain.cross_entropy_rows_backward(scale, *on_gpu, *expected[1:],
                                                      ignore_index)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for name, a, b in zip(("loss", "weight", "top", "log_sum"), got, expected, strict=True):
        assert isinstance(a, cupy.ndarray), name
        assert_close(host(a), host(b), dtype, name, scale_floor=1.0, tol=tol)
    assert_close(host(grad), host(grad_expected), dtype, "grad", scale_floor=1.0, tol=tol)
