"""PyTorch's weight initialisation, drawn from minicnn's generator."""

from __future__ import annotations

import math

import numpy as np

from minicnn.backend import array_module
from minicnn.nn._checks import float_dtype
from minicnn.nn.parameter import Parameter
from minicnn.random import generator


def calculate_fan_in(shape: tuple) -> int:
    """Inputs feeding one output: in_features for Linear, C/groups * kh * kw for Conv2d."""
    fan_in = shape[1] if len(shape) > 1 else shape[0]
    for size in shape[2:]:
        fan_in *= size
    return fan_in


def uniform_(array, low: float, high: float):
    """Fill ``array`` in place with U(low, high) and return it."""
    values = generator().uniform(low, high, size=array.shape)
    array[...] = array_module(array).asarray(values, dtype=array.dtype)
    return array


def kaiming_uniform_(array, a: float = 0.0):
    """He-uniform for leaky ReLU slope ``a``: U(-b, b), b = sqrt(6 / ((1 + a^2) fan_in))."""
    bound = math.sqrt(6.0 / ((1 + a * a) * calculate_fan_in(array.shape)))
    return uniform_(array, -bound, bound)


def reset_weight_and_bias(weight, bias=None) -> None:
    """The default init of Linear and Conv2d: kaiming_uniform_(a=sqrt(5)) weights, which is
    U(+-1/sqrt(fan_in)), and biases U(+-1/sqrt(fan_in)) (0 when fan_in is 0)."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = calculate_fan_in(weight.shape)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)


def weight_and_bias(weight_shape: tuple, bias: bool, dtype, layer: str):
    """New (weight, bias or None) Parameters of ``dtype`` (float32 by default) with the default
    init of Linear and Conv2d; the bias has one entry per output (weight_shape[0])."""
    dtype = float_dtype(dtype, layer)
    weight = Parameter(np.empty(weight_shape, dtype=dtype))
    bias_param = Parameter(np.empty(weight_shape[0], dtype=dtype)) if bias else None
    reset_weight_and_bias(weight.data, None if bias_param is None else bias_param.data)
    return weight, bias_param
