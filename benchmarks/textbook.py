"""The textbook engine: a CNN from scratch in plain NumPy, as tutorials write it.

The yardstick of a typical from-scratch engine, timed next to minicnn in ``python -m
benchmarks``. It is deliberately ordinary, after "Deep Learning from Scratch" (Saito, 2016)
and CS231n's layers: im2col copies one strided slice of the zero-padded batch (``np.pad``)
per kernel offset (i, j), a convolution is one GEMM over those columns, col2im adds the
column gradients back slice by slice, and max pooling is an argmax over pooling columns.
Every layer has a ``forward`` and a ``backward``; float32 throughout.

Its layers take PyTorch's names and arguments (``Sequential``, ``Conv2d``, ``ReLU``,
``MaxPool2d``, ``Flatten``, ``Linear``, ``Dropout``), so a model builder written as
``build(lib)`` runs here as it runs in ``minicnn.nn`` and ``torch.nn``, and
``load_state_dict`` takes a minicnn or PyTorch state dict (keys "0.weight", "0.bias", ...):
all three engines start from the same weights. ``tests/test_benchmarks.py`` checks that it
computes what PyTorch computes.
"""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng(0)


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, pad: int) -> np.ndarray:
    """Columns of x (N, C, H, W): shape (N*Ho*Wo, C*kh*kw), one row per output position."""
    n, c, h, w = x.shape
    ho, wo = _out_size(h, kh, stride, pad), _out_size(w, kw, stride, pad)
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    col = np.zeros((n, c, kh, kw, ho, wo), x.dtype)
    for i in range(kh):
        for j in range(kw):
            col[:, :, i, j] = img[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * ho * wo, -1)


def col2im(col: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int, pad: int):
    """The adjoint of im2col: columns (N*Ho*Wo, C*kh*kw) summed back into (N, C, H, W)."""
    n, c, h, w = x_shape
    ho, wo = _out_size(h, kh, stride, pad), _out_size(w, kw, stride, pad)
    col = col.reshape(n, ho, wo, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad), col.dtype)
    for i in range(kh):
        for j in range(kw):
            img[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += col[:, :, i, j]
    return img[:, :, pad : h + pad, pad : w + pad]


class Parameter:
    """An array and its gradient (set, not accumulated, by the layer's backward)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.grad = np.zeros_like(data)


class Layer:
    """A layer: ``forward(x)`` keeps what ``backward(dout)`` needs; ``params`` by name."""

    def __init__(self) -> None:
        self.params: dict[str, Parameter] = {}
        self.training = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: p.data for name, p in self.params.items()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays (minicnn's or PyTorch's layouts are the same) into the parameters."""
        for name, p in self.params.items():
            p.data = np.array(state[name], dtype=np.float32)


class Conv2d(Layer):
    """Convolution as im2col + one GEMM; weight (out, in, k, k), input (N, in, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        fan_in = in_channels * kernel_size * kernel_size
        weight = _rng.standard_normal((out_channels, in_channels, kernel_size, kernel_size))
        self.params = {"weight": Parameter((weight * np.sqrt(2 / fan_in)).astype(np.float32)),
                       "bias": Parameter(np.zeros(out_channels, np.float32))}
        self.stride, self.pad = stride, padding

    def forward(self, x: np.ndarray) -> np.ndarray:
        weight, bias = self.params["weight"].data, self.params["bias"].data
        fn, _, kh, kw = weight.shape
        n, _, h, w = x.shape
        ho, wo = _out_size(h, kh, self.stride, self.pad), _out_size(w, kw, self.stride, self.pad)
        col = im2col(x, kh, kw, self.stride, self.pad)
        col_w = weight.reshape(fn, -1).T
        out = col @ col_w + bias
        self.cache = x.shape, col, col_w
        return out.reshape(n, ho, wo, fn).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x_shape, col, col_w = self.cache
        weight = self.params["weight"]
        fn, _, kh, kw = weight.data.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.params["bias"].grad = dout.sum(axis=0)
        weight.grad = (col.T @ dout).T.reshape(weight.data.shape)
        dcol = dout @ col_w.T
        return col2im(dcol, x_shape, kh, kw, self.stride, self.pad)


class MaxPool2d(Layer):
    """Max pooling as the argmax of each window's column; the gradient goes to the argmax."""

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.k, self.stride = kernel_size, stride or kernel_size

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        ho, wo = _out_size(h, self.k, self.stride, 0), _out_size(w, self.k, self.stride, 0)
        col = im2col(x, self.k, self.k, self.stride, 0).reshape(-1, self.k * self.k)
        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        self.cache = x.shape, arg_max
        return out.reshape(n, ho, wo, c).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x_shape, arg_max = self.cache
        dout = dout.transpose(0, 2, 3, 1)
        dmax = np.zeros((dout.size, self.k * self.k), dout.dtype)
        dmax[np.arange(arg_max.size), arg_max] = dout.flatten()
        dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2], -1)
        return col2im(dcol, x_shape, self.k, self.k, self.stride, 0)


class ReLU(Layer):
    """max(x, 0); the gradient passes where x > 0."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = dout.copy()
        dout[self.mask] = 0
        return dout


class Flatten(Layer):
    """(N, ...) -> (N, features)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self.shape)


class Linear(Layer):
    """y = x W^T + b, weight (out, in) as PyTorch keeps it."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        weight = _rng.standard_normal((out_features, in_features)) * np.sqrt(2 / in_features)
        self.params = {"weight": Parameter(weight.astype(np.float32)),
                       "bias": Parameter(np.zeros(out_features, np.float32))}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.params["weight"].data.T + self.params["bias"].data

    def backward(self, dout: np.ndarray) -> np.ndarray:
        weight = self.params["weight"]
        weight.grad = dout.T @ self.x
        self.params["bias"].grad = dout.sum(axis=0)
        return dout @ weight.data


class Dropout(Layer):
    """Inverted dropout: zero with probability p, scale the rest by 1/(1-p); eval: identity."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training:
            self.mask = None
            return x
        keep = _rng.random(x.shape, dtype=np.float32) >= self.p
        self.mask = keep.astype(np.float32) / np.float32(1 - self.p)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout if self.mask is None else dout * self.mask


class Sequential(Layer):
    """Layers in order; backward runs them in reverse. Keys "index.name" as PyTorch's."""

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.params.values()]

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"{index}.{name}": value for index, layer in enumerate(self.layers)
                for name, value in layer.state_dict().items()}

    def load_state_dict(self, state: dict) -> None:
        for index, layer in enumerate(self.layers):
            layer.load_state_dict({key.split(".", 1)[1]: value for key, value in state.items()
                                   if key.split(".", 1)[0] == str(index)})

    def train(self, mode: bool = True) -> Sequential:
        for layer in self.layers:
            layer.training = mode
        self.training = mode
        return self

    def eval(self) -> Sequential:
        return self.train(False)


class CrossEntropyLoss:
    """Softmax cross-entropy over logits (N, classes) and class indices (N,), mean over N."""

    def __call__(self, logits: np.ndarray, target: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.cache = log_probs, target
        return -log_probs[np.arange(len(target)), target].mean()

    def backward(self) -> np.ndarray:
        log_probs, target = self.cache
        dx = np.exp(log_probs)
        dx[np.arange(len(target)), target] -= 1
        return dx / len(target)


class SGD:
    """SGD with momentum, PyTorch's rule: v = momentum * v + grad (v = grad at first); p -= lr*v."""

    def __init__(self, params: list[Parameter], lr: float = 0.01, momentum: float = 0.0) -> None:
        self.params, self.lr, self.momentum = params, lr, momentum
        self.velocity: list[np.ndarray | None] = [None] * len(params)

    def step(self) -> None:
        for index, p in enumerate(self.params):
            v = self.velocity[index]
            if v is None:
                v = self.velocity[index] = p.grad.copy()
            else:
                v *= self.momentum
                v += p.grad
            p.data -= self.lr * v
