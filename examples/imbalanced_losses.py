"""Class imbalance: what plain cross-entropy, class-balanced cross-entropy and focal loss change.

The same small CNN, from the same initial weights and with the same batches, is trained on a
deliberately long-tailed split of the embedded digits (800 images of digit 0, fewer of each
next digit, a handful of digit 9) with three losses, then tested on the balanced test set.
The table shows each digit's recall (the share of its test images classified correctly):

- cross-entropy learns the frequent digits and neglects the rare ones;
- class-balanced cross-entropy (``CrossEntropyLoss(weight=nn.class_weights(...))``) gives each
  class the same total weight, trading some accuracy on frequent digits for the rare ones;
- focal loss (``FocalLoss(gamma=2)``) down-weights the examples the model already gets right,
  whichever class they belong to. It targets hard examples rather than rare classes, and on
  this data it changes little; ``FocalLoss(alpha=nn.class_weights(...))`` adds the balance.

    python examples/imbalanced_losses.py [--epochs 15] [--seed 0] [--fast]
"""

from __future__ import annotations

import argparse

import numpy as np

import minicnn as mc
from minicnn import nn
from minicnn.data import Digits


def long_tailed_indices(labels: np.ndarray, head: int, ratio: float, rng) -> np.ndarray:
    """Keep head * ratio^c images of digit c (at least 5): a long tail from digit 0 to 9."""
    keep = []
    for digit in range(10):
        count = max(round(head * ratio**digit), 5)
        keep.append(rng.permutation(np.flatnonzero(labels == digit))[:count])
    return np.sort(np.concatenate(keep))


def small_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 24 -> 12
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # 12 -> 8 -> 4
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),  # logits: the losses apply the softmax
    )


def train(loss_fn, x, y, args) -> nn.Sequential:
    """Mini-batch SGD with momentum 0.9, written out; the same seed gives the same initial
    weights and the same batches for every loss."""
    mc.manual_seed(args.seed)
    model = small_cnn()
    rng = np.random.default_rng(args.seed)
    velocities = {id(param): np.zeros_like(param.data) for param in model.parameters()}
    for _ in range(args.epochs):
        order = rng.permutation(len(x))
        for first in range(0, len(order), args.batch_size):
            batch = order[first : first + args.batch_size]
            loss_fn(model(x[batch]), y[batch])  # forward: logits, then the loss
            model.zero_grad()
            model.backward(loss_fn.backward())  # d loss / d logits, through the model
            for param in model.parameters():
                velocity = velocities[id(param)]
                velocity *= 0.9
                velocity += param.grad
                param.data -= args.lr * velocity
    return model


def recall_per_class(model, x, y) -> np.ndarray:
    model.eval()
    batches = range(0, len(x), 500)
    predicted = np.concatenate([model(x[i : i + 500]).argmax(axis=1) for i in batches])
    return np.array([(predicted[y == digit] == digit).mean() for digit in range(10)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--head", type=int, default=800, help="images of digit 0")
    parser.add_argument("--ratio", type=float, default=0.55, help="digit c keeps head * ratio^c")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="a quick run: 2 epochs, 670 images")
    parser.add_argument("--plot", help="save a bar chart of the recalls to this image file")
    args = parser.parse_args()
    if args.fast:
        args.epochs, args.head = 2, 300

    x_all, y_all = Digits(train=True).arrays()
    keep = long_tailed_indices(y_all, args.head, args.ratio, np.random.default_rng(args.seed))
    x_train, y_train = x_all[keep], y_all[keep]
    x_test, y_test = Digits(train=False).arrays()
    counts = np.bincount(y_train, minlength=10)

    losses = {
        "cross-entropy": nn.CrossEntropyLoss(),
        "balanced CE": nn.CrossEntropyLoss(weight=nn.class_weights(y_train, 10)),
        "focal g=2": nn.FocalLoss(gamma=2.0),
    }
    recalls = {}
    for name, loss_fn in losses.items():
        recalls[name] = recall_per_class(train(loss_fn, x_train, y_train, args), x_test, y_test)

    print(f"trained on {len(y_train)} long-tailed digits for {args.epochs} epochs; "
          f"recall on the balanced test set ({len(y_test)} digits):")
    header = f"{'digit':>5} {'train':>6} " + " ".join(f"{name:>13}" for name in losses)
    print(header)
    print("-" * len(header))
    for digit in range(10):
        row = " ".join(f"{recalls[name][digit]:>13.1%}" for name in losses)
        print(f"{digit:>5} {counts[digit]:>6} {row}")
    print("-" * len(header))
    rare = counts <= np.sort(counts)[2]  # the three rarest digits
    for label, pick in (("all digits", slice(None)), ("3 rarest", rare)):
        row = " ".join(f"{recalls[name][pick].mean():>13.1%}" for name in losses)
        print(f"{label:>12} {row}")
    if args.plot:
        plot_recalls(recalls, counts, args.plot)


def plot_recalls(recalls: dict, counts: np.ndarray, path: str) -> None:
    """Recall per digit, one bar per loss, the training counts under the digits."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("--plot needs matplotlib: pip install minicnn[plot]")
        return
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.subplots()
    width = 0.8 / len(recalls)
    for k, (name, recall) in enumerate(recalls.items()):
        axes.bar(np.arange(10) + (k - (len(recalls) - 1) / 2) * width, recall, width,
                 label=name)
    axes.set_xticks(range(10), [f"{d}\n({c})" for d, c in enumerate(counts)])
    axes.set_xlabel("digit (training images)")
    axes.set_ylabel("recall on the test set")
    axes.legend()
    figure.savefig(path)
    print(f"plot saved to {path}")


if __name__ == "__main__":
    main()
