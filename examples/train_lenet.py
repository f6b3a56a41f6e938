"""Train a small LeNet-style CNN on synthetic 16x16 shapes with plain SGD, and watch the loss fall.

Everything is explicit: the forward pass, the cross-entropy written out with LogSoftmax, the
backward pass through the model, and the SGD update on each Parameter.

    python examples/train_lenet.py [--epochs 8] [--batch-size 32] [--lr 0.1] [--plot FILE]

With ``--plot FILE`` (matplotlib installed: ``pip install minicnn[plot]``) the curves are drawn
by ``minicnn.viz.plot_history``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import minicnn as mc
from minicnn import nn

CLASSES = ("horizontal bar", "vertical bar", "diagonal", "square")


def make_shapes(count: int, rng: np.random.Generator, size: int = 16):
    """Noisy 16x16 images of four shapes at random places: (count, 1, 16, 16) and labels."""
    images = rng.normal(0.0, 0.3, size=(count, 1, size, size)).astype(np.float32)
    labels = rng.integers(0, len(CLASSES), size=count)
    for image, label in zip(images[:, 0], labels, strict=True):
        top, left = rng.integers(2, size - 10, size=2)
        length = rng.integers(6, 10)
        if label == 0:
            image[top + length // 2, left : left + length] += 1.0
        elif label == 1:
            image[top : top + length, left + length // 2] += 1.0
        elif label == 2:
            image[top + np.arange(length), left + np.arange(length)] += 1.0
        else:
            image[top : top + length, [left, left + length - 1]] += 1.0
            image[[top, top + length - 1], left : left + length] += 1.0
    return images, labels


def cross_entropy(log_probs: np.ndarray, labels: np.ndarray):
    """Mean negative log-likelihood, and its gradient with respect to the log-probabilities."""
    rows = np.arange(len(labels))
    loss = -log_probs[rows, labels].mean()
    grad = np.zeros_like(log_probs)
    grad[rows, labels] = -1.0 / len(labels)
    return float(loss), grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--train-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", help="save the loss and accuracy curves to this image file")
    args = parser.parse_args()

    mc.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_shapes(args.train_size, rng)
    x_test, y_test = make_shapes(512, rng)

    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(32, len(CLASSES)), nn.LogSoftmax(dim=1),
    )
    print(model)
    print(f"{'epoch':>5} {'train loss':>10} {'test loss':>9} {'test acc':>8} {'time':>6}")
    history = {"loss": [], "val_loss": [], "val_accuracy": []}  # for the plot
    for epoch in range(1, args.epochs + 1):
        start, losses = time.perf_counter(), []
        model.train()
        order = rng.permutation(len(x_train))
        for first in range(0, len(order), args.batch_size):
            batch = order[first : first + args.batch_size]
            loss, grad = cross_entropy(model(x_train[batch]), y_train[batch])
            model.zero_grad()
            model.backward(grad)
            for param in model.parameters():  # plain SGD: w <- w - lr * dL/dw
                param.data -= args.lr * param.grad
            losses.append(loss)
        model.eval()
        log_probs = model(x_test)
        test_loss, _ = cross_entropy(log_probs, y_test)
        accuracy = (log_probs.argmax(axis=1) == y_test).mean()
        elapsed = time.perf_counter() - start
        print(
            f"{epoch:>5} {np.mean(losses):>10.4f} {test_loss:>9.4f} {accuracy:>8.1%} "
            f"{elapsed:>5.1f}s"
        )
        for key, value in zip(history, (np.mean(losses), test_loss, accuracy), strict=True):
            history[key].append(float(value))
    if args.plot:
        from minicnn import viz

        try:
            print(f"curves saved to {viz.plot_history(history, args.plot)}")
        except ImportError as error:
            print(error)


if __name__ == "__main__":
    main()
