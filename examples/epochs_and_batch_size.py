"""Epochs, steps and batch size: the same CNN trained with batches of 1, 16, 128 and all images.

Two words that every training loop uses:

- a step is one update of the weights: forward a batch, compute the loss, backward, and move
  every weight against its gradient (here w <- w - lr * dloss/dw, plain SGD);
- an epoch is one pass over the training data: every image is used once, so an epoch takes
  ceil(n / batch_size) steps (the last batch holds what is left over).

The batch size decides how many images each step averages its gradient over:

- batch 1 (stochastic gradient descent): n noisy steps per epoch. Many updates, so the loss
  falls most per epoch, but each step does little work, so an epoch is slow in wall time;
- mini-batches (16, 128): fewer, smoother steps; each step processes many images at once with
  matrix products, so an epoch is much faster;
- the full batch (gradient descent): one exact step per epoch. Cheapest epoch, but with the same
  learning rate it needs many more epochs to get anywhere.

Every run starts from the same initial weights and uses the same learning rate, so the tables
show only what the batch size changes: steps per epoch, the training loss after each epoch (on
all training images), and the wall time per epoch.

    python examples/epochs_and_batch_size.py [--epochs 5] [--train-size 2000] [--plot bs.png]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import minicnn as mc
from minicnn import nn, optim
from minicnn.data import DataLoader, Digits, TensorDataset

BATCH_SIZES = [1, 16, 128, None]  # None: the whole training set in one batch


def small_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 24 -> 12
        nn.Flatten(), nn.Linear(6 * 12 * 12, 10),
    )


def mean_loss(model, loss_fn, x, y) -> float:
    """The loss over the whole set, in chunks of 500 (the same yardstick for every run)."""
    total = sum(float(loss_fn(model(x[i : i + 500]), y[i : i + 500])) * len(y[i : i + 500])
                for i in range(0, len(x), 500))
    return total / len(x)


def train(batch_size: int, x, y, args) -> dict:
    """Train a fresh model (the seed's initial weights) for ``args.epochs`` epochs; return the
    steps per epoch, the loss before and after each epoch and the seconds each epoch took."""
    mc.manual_seed(args.seed)  # the same initial weights for every batch size
    model, loss_fn = small_cnn(), nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=args.seed)
    run = {"steps": [], "loss": [mean_loss(model, loss_fn, x, y)], "seconds": []}
    for _ in range(args.epochs):
        start, steps = time.perf_counter(), 0
        for x_batch, y_batch in loader:  # one epoch: every image once, batch after batch
            loss_fn(model(x_batch), y_batch)  # forward
            optimizer.zero_grad()
            model.backward(loss_fn.backward())  # backward: fills every Parameter.grad
            optimizer.step()  # one step: one update of the weights
            steps += 1
        run["seconds"].append(time.perf_counter() - start)
        run["steps"].append(steps)
        run["loss"].append(mean_loss(model, loss_fn, x, y))
    return run


def save_plot(runs: dict, path: str) -> bool:
    """Loss against epochs and against seconds; False if matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    figure = Figure(figsize=(10, 4))
    by_epoch, by_time = figure.subplots(1, 2)
    for name, run in runs.items():
        by_epoch.plot(range(len(run["loss"])), run["loss"], marker="o", label=name)
        by_time.plot(np.cumsum([0.0, *run["seconds"]]), run["loss"], marker="o", label=name)
    by_epoch.set(xlabel="epoch (passes over the data)", ylabel="training loss", yscale="log",
                 title="per epoch: small batches take more steps")
    by_time.set(xlabel="training time (s)", ylabel="training loss", yscale="log",
                title="per second: batching pays")
    by_epoch.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.05, help="the same for every batch size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PATH", help="save the loss curves (PNG)")
    parser.add_argument("--fast", action="store_true", help="a quick run: 2 epochs, 200 images")
    args = parser.parse_args(argv)
    if args.fast:
        args.epochs, args.train_size = 2, 200

    x, y = Digits(train=True).arrays()
    keep = np.random.default_rng(args.seed).permutation(len(y))[: args.train_size]
    x, y = x[keep], y[keep]
    n = len(y)
    runs = {}
    for batch_size in BATCH_SIZES:
        name = "full" if batch_size is None else f"batch {batch_size}"
        runs[name] = train(batch_size or n, x, y, args)

    print(f"{n} training images, {args.epochs} epochs, SGD lr={args.lr:g} for every batch size")
    print("an epoch = one pass over the data = ceil(n / batch size) steps; a step = one batch, "
          "one update")
    header = (f"{'batch size':>10} {'steps/epoch':>11} {'ceil(n/b)':>9} {'total steps':>11} "
              f"{'s/epoch':>8} {'ms/step':>8} {'images/s':>9}")
    print(header)
    print("-" * len(header))
    for run, batch_size in zip(runs.values(), BATCH_SIZES, strict=True):
        seconds = float(np.mean(run["seconds"]))
        steps = run["steps"][0]
        size = batch_size or n
        print(f"{size:>10} {steps:>11} {math.ceil(n / size):>9} {sum(run['steps']):>11} "
              f"{seconds:>8.3f} {1000 * seconds / steps:>8.2f} {n / seconds:>9.0f}")

    names = list(runs)
    print(f"\ntraining loss on the {n} images after each epoch (epoch 0: the initial weights)")
    print("epoch" + "".join(f"{name:>11}" for name in names))
    for epoch in range(args.epochs + 1):
        print(f"{epoch:>5}" + "".join(f"{runs[name]['loss'][epoch]:>11.4f}" for name in names))
    print("Smaller batches: more steps per epoch, so a lower loss after the same epochs, but "
          "slower epochs;\nthe full batch takes one step per epoch and barely moves.")
    if args.plot:
        if save_plot(runs, args.plot):
            print(f"plot saved to {args.plot}")
        else:
            print("(install matplotlib to save the plot: pip install minicnn[plot])")


if __name__ == "__main__":
    main()
