"""Activations: what ReLU, Sigmoid, Tanh, Softmax and LogSoftmax compute, and their gradients.

An activation is the non-linear step between two linear layers (without it, a stack of
convolutions and Linear layers would collapse into one linear map). Each one here is a
``minicnn.nn`` module with a ``forward`` and a ``backward``; for an element-wise activation,
``backward(ones)`` returns its derivative at every input, so the script reads the slopes off
the layers themselves:

- ReLU: max(x, 0), slope 1 for x > 0 and 0 below (0 at x = 0, as PyTorch);
- Sigmoid: 1 / (1 + exp(-x)), in (0, 1), slope y (1 - y), at most 0.25, and tiny for |x| large;
- Tanh: in (-1, 1), slope 1 - y^2, at most 1, also tiny for |x| large.

Stacking layers multiplies slopes (the chain rule), so a gradient through ten sigmoids is at
most 0.25^10 ~ 1e-6: the vanishing gradient that made deep sigmoid networks hard to train, and
that ReLU avoids on its active side.

Softmax turns a row of scores (logits) into probabilities that sum to 1; LogSoftmax returns
their logs. Computed as written, exp(1000) overflows to inf and inf / inf is nan; the stable
forms subtract the row's maximum first, so every exp is at most 1.

    python examples/activations.py [--depth 10] [--plot activations.png]
"""

from __future__ import annotations

import argparse

import numpy as np

import minicnn as mc
from minicnn import nn

INPUTS = np.array([-10.0, -5.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 5.0, 10.0])


def value_and_slope(module, x):
    """The module's output at x and its derivative, read from backward(ones)."""
    y = module(x)
    return y, module.backward(np.ones_like(y))


def show(array) -> str:
    return np.array2string(np.asarray(array), precision=4, suppress_small=False)


def naive_softmax(z):
    """exp(z) / sum(exp(z)) as written: exp overflows for large z, underflows for very
    negative z."""
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def elementwise_table(x) -> None:
    print("element-wise activations: value y and slope dy/dx = backward(ones)")
    print(f"{'x':>7} | {'ReLU':>8} {'slope':>8} | {'Sigmoid':>8} {'slope':>8} | "
          f"{'Tanh':>8} {'slope':>8}")
    columns = [value_and_slope(layer, x) for layer in (nn.ReLU(), nn.Sigmoid(), nn.Tanh())]
    for i, xi in enumerate(x):
        cells = " | ".join(f"{y[i]:>8.4f} {slope[i]:>8.2e}" for y, slope in columns)
        print(f"{xi:>7.1f} | {cells}")
    print()


def vanishing_gradient(depth: int) -> None:
    """The slope at the input of `depth` stacked activations (chain rule: slopes multiply)."""
    print(f"the gradient through {depth} stacked activations (backward of 1 from the top)")
    print(f"{'x':>7} {'Sigmoid x' + str(depth):>14} {'Tanh x' + str(depth):>14} "
          f"{'ReLU x' + str(depth):>14}")
    x = np.array([0.5, 1.0, 2.0, 5.0])
    row = {}
    for name, layer in (("Sigmoid", nn.Sigmoid), ("Tanh", nn.Tanh), ("ReLU", nn.ReLU)):
        stack = nn.Sequential(*[layer() for _ in range(depth)])
        stack(x)
        row[name] = stack.backward(np.ones_like(x))
    for i, xi in enumerate(x):
        print(f"{xi:>7.1f} {row['Sigmoid'][i]:>14.3e} {row['Tanh'][i]:>14.3e} "
              f"{row['ReLU'][i]:>14.3e}")
    print(f"(sigmoid's slope is at most 0.25, so {depth} of them give at most "
          f"0.25^{depth} = {0.25**depth:.3e}; ReLU passes 1 wherever it is active)")
    print()


def softmax_shapes() -> None:
    mc.manual_seed(0)
    logits = mc.random.generator().normal(size=(3, 4))  # N = 3 samples, C = 4 classes
    softmax, log_softmax = nn.Softmax(dim=1), nn.LogSoftmax(dim=1)
    probs, log_probs = softmax(logits), log_softmax(logits)
    print("Softmax(dim=1) on logits of shape (N, C) = (3, 4): one distribution per row")
    print(f"logits {logits.shape}:\n{show(logits)}")
    print(f"softmax {probs.shape}:\n{show(probs)}")
    print(f"row sums: {show(probs.sum(axis=1))}")
    print(f"LogSoftmax: exp(log_softmax) equals softmax: {np.allclose(np.exp(log_probs), probs)}")
    # The row sums are always 1, so their gradient with respect to the logits is 0.
    grad = softmax.backward(np.ones_like(probs))
    print(f"Softmax.backward(ones) (gradient of the row sums): max |value| = "
          f"{np.abs(grad).max():.1e}")
    # d log p_k / d z = onehot(k) - p: the gradient cross-entropy sends back to the logits.
    pick = np.zeros_like(log_probs)
    pick[:, 0] = 1.0
    grad = log_softmax.backward(pick)
    print(f"LogSoftmax.backward(onehot of class 0) = onehot - softmax: "
          f"{np.allclose(grad, pick - probs)}")
    print()


def overflow() -> None:
    print("overflow: naive formulas vs minicnn's stable ones (float64)")
    cases = [np.array([[1000.0, 1001.0, 1002.0]]), np.array([[-1000.0, -1001.0, -1002.0]]),
             np.array([[0.0, -1000.0]])]
    for z in cases:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            naive = naive_softmax(z)
            naive_log = np.log(naive_softmax(z))
        print(f"logits {show(z[0])}")
        print(f"  naive softmax     {show(naive[0])}")
        print(f"  nn.Softmax        {show(nn.Softmax(dim=1)(z)[0])}")
        print(f"  naive log-softmax {show(naive_log[0])}")
        print(f"  nn.LogSoftmax     {show(nn.LogSoftmax(dim=1)(z)[0])}")
    print("(the stable forms subtract the row's max first: softmax(z) = softmax(z - max z))")
    print()


def save_plot(path: str) -> None:
    """Values and slopes of ReLU, Sigmoid and Tanh over [-6, 6], from the modules."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(install matplotlib to save a plot: pip install minicnn[plot])")
        return
    x = np.linspace(-6, 6, 241)
    figure = Figure(figsize=(9, 3.8))
    values, slopes = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for name, layer in (("ReLU", nn.ReLU()), ("Sigmoid", nn.Sigmoid()), ("Tanh", nn.Tanh())):
        y, slope = value_and_slope(layer, x)
        values.plot(x, y, label=name)
        slopes.plot(x, slope, label=name)
    values.set(title="value y = f(x)", xlabel="x", ylim=(-1.5, 3))
    slopes.set(title="slope dy/dx (backward of ones)", xlabel="x")
    for axes in (values, slopes):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"plot saved to {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=10, help="stacked layers for the gradient")
    parser.add_argument("--plot", metavar="PATH", help="save a figure of values and slopes")
    args = parser.parse_args(argv)

    elementwise_table(INPUTS)
    vanishing_gradient(args.depth)
    softmax_shapes()
    overflow()
    if args.plot:
        save_plot(args.plot)


if __name__ == "__main__":
    main()
