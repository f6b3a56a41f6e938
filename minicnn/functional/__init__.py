"""The middle floor: pure forward/backward pairs with no state, for any array module.

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward(grad_out, cache)``
returns the gradients with respect to the forward's array inputs.
"""

from minicnn.functional.activation import (
    log_softmax_backward,
    log_softmax_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from minicnn.functional.class_loss import (
    cross_entropy_backward,
    cross_entropy_forward,
    focal_loss_backward,
    focal_loss_forward,
    nll_loss_backward,
    nll_loss_forward,
)
from minicnn.functional.conv import conv2d_backward, conv2d_forward, conv2d_output_size, conv2d_pads
from minicnn.functional.dropout import dropout_backward, dropout_forward
from minicnn.functional.linear import linear_backward, linear_forward
from minicnn.functional.loss import (
    bce_loss_backward,
    bce_loss_forward,
    bce_with_logits_backward,
    bce_with_logits_forward,
    mse_loss_backward,
    mse_loss_forward,
)
from minicnn.functional.padding import pad2d, pad2d_backward
from minicnn.functional.pooling import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    lp_pool2d_backward,
    lp_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    pool_output_shape,
)
from minicnn.functional.shape import flatten_backward, flatten_forward

__all__ = [
    "adaptive_avg_pool2d_backward", "adaptive_avg_pool2d_forward", "avg_pool2d_backward",
    "avg_pool2d_forward", "bce_loss_backward", "bce_loss_forward", "bce_with_logits_backward",
    "bce_with_logits_forward", "conv2d_backward", "conv2d_forward", "conv2d_output_size",
    "conv2d_pads", "cross_entropy_backward", "cross_entropy_forward", "dropout_backward",
    "dropout_forward", "flatten_backward", "flatten_forward", "focal_loss_backward",
    "focal_loss_forward", "linear_backward", "linear_forward", "log_softmax_backward",
    "log_softmax_forward", "lp_pool2d_backward", "lp_pool2d_forward", "max_pool2d_backward",
    "max_pool2d_forward", "mse_loss_backward", "mse_loss_forward", "nll_loss_backward",
    "nll_loss_forward", "pad2d", "pad2d_backward", "pool_output_shape", "relu_backward",
    "relu_forward", "sigmoid_backward", "sigmoid_forward", "softmax_backward", "softmax_forward",
    "tanh_backward", "tanh_forward",
]
