"""Dropout: zero random units while training, scale the survivors, do nothing at test time.

``nn.Dropout(p)`` in training mode zeroes each element independently with probability p, so
the next layer cannot rely on any single unit (a regulariser against overfitting). To keep
the expected value of every element unchanged, it multiplies the survivors by 1/(1-p)
("inverted" dropout): E[y] = (1-p) * x/(1-p) + p * 0 = x. In eval mode (``model.eval()``) it
is the identity, so nothing needs rescaling at test time.

The mask is random, drawn from minicnn's generator: ``minicnn.manual_seed(s)`` makes it
reproducible. The backward pass multiplies the gradient by the same scaled mask as the forward
(a dropped unit had no effect on the loss, so it gets no gradient).

The script measures on a large input of ones: the fraction of zeros (close to p), the value of
the survivors (1/(1-p)) and the mean (close to 1), for several p.

    python examples/dropout.py [--p 0.5] [--size 1000] [--seed 0] [--plot dropout.png]
"""

from __future__ import annotations

import argparse

import numpy as np

import minicnn as mc
from minicnn import nn

PS = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9]


def small_example(p: float, seed: int) -> None:
    mc.manual_seed(seed)
    drop = nn.Dropout(p)
    x = np.arange(1, 13, dtype=np.float32).reshape(2, 6)
    print(f"nn.Dropout(p={p}) in training mode on a small input (seed {seed}):")
    print(f"x:\n{x}")
    print(f"dropout(x):\n{drop(x)}")
    print(f"(survivors scaled by 1/(1-p) = {1 / (1 - p):g})")
    print()


def statistics(ps, size: int, seed: int) -> None:
    x = np.ones((size, size), dtype=np.float32)
    print(f"training mode on {x.size:,} ones: measured fraction of zeros, survivors' value, mean")
    print(f"{'p':>6} {'zeros':>9} {'survivors':>10} {'1/(1-p)':>9} {'mean':>9}")
    for p in ps:
        mc.manual_seed(seed)
        out = nn.Dropout(p)(x)
        kept = out[out != 0]
        # every survivor has the same value (several values would print as a/b/...)
        survivor = "/".join(f"{value:.4f}" for value in np.unique(kept)) or "-"
        print(f"{p:>6.2f} {np.mean(out == 0):>9.4f} {survivor:>10} {1 / (1 - p):>9.4f} "
              f"{out.mean():>9.4f}")
    print("(zeros ~ p, mean ~ 1: the expected value is kept)")
    print()


def eval_mode(p: float, seed: int) -> None:
    mc.manual_seed(seed)
    drop = nn.Dropout(p)
    x = mc.random.generator().normal(size=(64, 100)).astype(np.float32)
    drop.eval()
    out = drop(x)
    print(f"eval mode (drop.eval(), training={drop.training}): output equals input: "
          f"{np.array_equal(out, x)}, zeros: {np.count_nonzero(out == 0)}")
    drop.train()
    print(f"back in training mode (training={drop.training}): zeros: "
          f"{np.count_nonzero(drop(x) == 0)} of {x.size}")
    print()


def reproducibility(p: float, seed: int) -> None:
    x = np.ones((100, 100), dtype=np.float32)
    masks = {}
    for name, s in (("first", seed), ("again", seed), ("other", seed + 1)):
        mc.manual_seed(s)
        masks[name] = nn.Dropout(p)(x) != 0
    same = np.array_equal(masks["first"], masks["again"])
    differ = np.count_nonzero(masks["first"] != masks["other"])
    print(f"manual_seed({seed}) twice gives the same mask: {same}; manual_seed({seed + 1}) "
          f"differs at {differ} of {x.size} places")
    print()


def backward(p: float, seed: int) -> None:
    mc.manual_seed(seed)
    drop = nn.Dropout(p)
    x = np.ones((8, 8), dtype=np.float32)
    out = drop(x)
    grad = drop.backward(np.ones_like(out))
    print("backward uses the forward's mask: backward(ones) == forward(ones): "
          f"{np.array_equal(grad, out)}; zero gradient exactly where the output was dropped: "
          f"{np.array_equal(grad == 0, out == 0)}")
    print(f"forward(ones)[0] = {out[0]}\nbackward(ones)[0] = {grad[0]}")
    print()


def save_plot(ps, seed: int, path: str) -> None:
    """A 32x32 mask of ones through Dropout(p) for each p (white: kept)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(install matplotlib to save a plot: pip install minicnn[plot])")
        return
    figure = Figure(figsize=(2.2 * len(ps), 2.6), layout="constrained")
    for k, p in enumerate(ps):
        mc.manual_seed(seed)
        out = nn.Dropout(p)(np.ones((32, 32), dtype=np.float32))
        axes = figure.add_subplot(1, len(ps), k + 1)
        axes.imshow(out != 0, cmap="gray", vmin=0, vmax=1)
        axes.set_title(f"p={p}: {np.mean(out == 0):.0%} zeros", fontsize=9)
        axes.set(xticks=[], yticks=[])
    figure.suptitle("Dropout(p) on 32x32 ones, training mode (black: dropped)")
    figure.savefig(path, dpi=100)
    print(f"plot saved to {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=float, default=0.5, help="the drop probability shown")
    parser.add_argument("--size", type=int, default=1000, help="side of the square input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PATH", help="save a figure of masks for several p")
    args = parser.parse_args(argv)
    if not 0 <= args.p < 1:
        parser.error("--p must be in [0, 1)")

    small_example(args.p, args.seed)
    ps = sorted(set(PS) | {args.p})
    statistics(ps, args.size, args.seed)
    eval_mode(args.p, args.seed)
    reproducibility(args.p, args.seed)
    backward(args.p, args.seed)
    if args.plot:
        save_plot(ps, args.seed, args.plot)


if __name__ == "__main__":
    main()
