"""Optimizers compared: the same small CNN, from the same initial weights, on the same digits.

Seven ways to follow the gradient, each run for the same number of epochs (passes over the
data):

- full-batch gradient descent: one step per epoch, on the exact gradient of the whole set;
- SGD with batch size 1: one step per image, each on a very noisy gradient;
- mini-batch SGD (batch 32): the usual compromise;
- SGD with momentum 0.9: steps that keep part of their previous direction;
- AdaGrad, RMSProp and Adam: a step size per weight, from the gradients' history.

The three SGD runs share lr = 0.01, so the table shows what the batch size and momentum change:
batch 1 takes 32 times more steps per epoch than batch 32, and momentum makes each step longer.
Full-batch descent gets a larger lr (0.3), and still takes only one step per epoch.

The table prints the training loss (on all training images) after each epoch, side by side,
and the test accuracy at the end; with matplotlib installed, the curves are saved as a plot.

    python examples/optimizers.py [--epochs 8] [--train-size 1000] [--plot optimizers.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import minicnn as mc
from minicnn import nn, optim
from minicnn.data import Digits

# (name, batch size (None: the whole set), optimizer factory)
METHODS = [
    ("GD full-batch", None, lambda params: optim.SGD(params, lr=0.3)),
    ("SGD batch 1", 1, lambda params: optim.SGD(params, lr=0.01)),
    ("SGD batch 32", 32, lambda params: optim.SGD(params, lr=0.01)),
    ("SGD+momentum", 32, lambda params: optim.SGD(params, lr=0.01, momentum=0.9)),
    ("AdaGrad", 32, lambda params: optim.Adagrad(params, lr=0.05)),
    ("RMSProp", 32, lambda params: optim.RMSprop(params, lr=0.001)),
    ("Adam", 32, lambda params: optim.Adam(params, lr=0.002)),
]


def small_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 24 -> 12
        nn.Flatten(), nn.Linear(6 * 12 * 12, 10),
    )


def mean_loss(model, loss_fn, x, y) -> float:
    """The loss over the whole set, in chunks (the same measure for every method)."""
    total = sum(float(loss_fn(model(x[i : i + 500]), y[i : i + 500])) * len(y[i : i + 500])
                for i in range(0, len(x), 500))
    return total / len(x)


def train(make_optimizer, batch_size, x, y, args) -> tuple[list[float], nn.Sequential]:
    """Train from the seed's initial weights; return the training loss before and after each
    epoch."""
    mc.manual_seed(args.seed)  # the same initial weights for every method
    model, loss_fn = small_cnn(), nn.CrossEntropyLoss()
    optimizer = make_optimizer(model.parameters())
    rng = np.random.default_rng(args.seed)  # the same shuffles for the same batch size
    batch_size = batch_size or len(x)
    losses = [mean_loss(model, loss_fn, x, y)]
    for _ in range(args.epochs):
        order = rng.permutation(len(x))
        for first in range(0, len(x), batch_size):
            batch = order[first : first + batch_size]
            loss_fn(model(x[batch]), y[batch])
            optimizer.zero_grad()
            model.backward(loss_fn.backward())
            optimizer.step()
        losses.append(mean_loss(model, loss_fn, x, y))
    return losses, model


def save_plot(curves: dict, path: str) -> bool:
    """Save the loss curves to ``path`` if matplotlib is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, losses in curves.items():
        axes.plot(range(len(losses)), losses, marker="o", label=name)
    axes.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log",
             title="Seven optimizers, same CNN, same start, same data")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="optimizers.png", help="where to save the plot")
    parser.add_argument("--fast", action="store_true", help="a quick run: 2 epochs, 200 images")
    args = parser.parse_args()
    if args.fast:
        args.epochs, args.train_size = 2, 200

    x, y = Digits(train=True).arrays()
    keep = np.random.default_rng(args.seed).permutation(len(y))[: args.train_size]
    x, y = x[keep], y[keep]
    x_test, y_test = Digits(train=False).arrays()

    curves, accuracies, seconds = {}, {}, {}
    for name, batch_size, make_optimizer in METHODS:
        start = time.perf_counter()
        curves[name], model = train(make_optimizer, batch_size, x, y, args)
        seconds[name] = time.perf_counter() - start
        predicted = model(x_test).argmax(axis=1)
        accuracies[name] = (predicted == y_test).mean()

    names = list(curves)
    width = max(len(name) for name in names) + 1
    print(f"training loss on {len(y)} digits after each epoch (epoch 0: the initial weights)")
    print("epoch" + "".join(f"{name:>{width}}" for name in names))
    for epoch in range(args.epochs + 1):
        print(f"{epoch:>5}" + "".join(f"{curves[name][epoch]:>{width}.4f}" for name in names))
    print("test%" + "".join(f"{accuracies[name]:>{width}.1%}" for name in names))
    print("time " + "".join(f"{seconds[name]:>{width - 1}.1f}s" for name in names))
    if save_plot(curves, args.plot):
        print(f"plot saved to {args.plot}")
    else:
        print("(install matplotlib to save a plot of the curves: pip install minicnn[plot])")


if __name__ == "__main__":
    main()
