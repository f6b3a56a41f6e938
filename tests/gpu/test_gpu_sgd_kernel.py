"""The fused SGD momentum kernel against its plain twin, on the GPU: the same roundings in the
same order, so float64 agrees to the last bits and float32 to one rounding."""

from __future__ import annotations

import numpy as np
import pytest
from gpu_support import host, requires_gpu

from minicnn.backend import gpu, plain

pytestmark = requires_gpu


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nesterov, dampening", [(False, 0.0), (False, 0.3), (True, 0.0)])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5, 2)])
def test_sgd_momentum_step_matches_its_plain_twin(dtype, nesterov, dampening, shape):
    import cupy

    rng = np.random.default_rng(0)
    start = rng.standard_normal(shape).astype(dtype)
    weights = [cupy.asarray(start), cupy.asarray(start)]
    buffers = [None, None]
    for _ in range(5):
        g = cupy.asarray(rng.standard_normal(shape).astype(dtype))
        for k, module in enumerate((gpu, plain)):
            buffers[k] = module.sgd_momentum_step(weights[k], g, buffers[k], 0.05, 0.9,
                                                  dampening, nesterov)
    tol = 1e-14 if dtype == np.float64 else 1e-6
    for got, want in ((weights[0], weights[1]), (buffers[0], buffers[1])):
        assert got.dtype == dtype and isinstance(got, cupy.ndarray)
        np.testing.assert_allclose(host(got), host(want), rtol=tol, atol=tol)


def test_sgd_momentum_step_takes_the_plain_path_for_other_dtypes():
    import cupy

    weight = cupy.ones(4, dtype=np.float16)
    buffer = gpu.sgd_momentum_step(weight, cupy.ones(4, dtype=np.float16), None, 0.5, 0.9, 0.0,
                                   False)
    np.testing.assert_array_equal(host(weight), np.full(4, 0.5, np.float16))
    np.testing.assert_array_equal(host(buffer), np.ones(4, np.float16))
