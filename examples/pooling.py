"""Pooling: MaxPool2d, AvgPool2d and AdaptiveAvgPool2d on a 4 x 4 input you can check by hand.

A pooling layer summarises each window of a feature map by one number and has no weights:

- MaxPool2d keeps the largest value of each window ("is the feature there?");
- AvgPool2d keeps the mean ("how much of it is there?");
- AdaptiveAvgPool2d takes the output size instead of a window, and picks the windows (bins)
  itself: bin i along an axis of length H covers rows floor(i*H/O) to ceil((i+1)*H/O) - 1, so
  any input size gives the same output size (how a CNN accepts images of any size before its
  Linear layers).

Their backward passes route the gradient to the inputs that made each output: the max sends all
of it to the window's largest element (the argmax; the others get 0), the average spreads it
equally over the window. ``backward(ones)`` shows these routes directly. With
``return_indices=True``, MaxPool2d also returns where each maximum came from, as flat
positions h*W + w in each input plane (what PyTorch's MaxUnpool2d takes).

    python examples/pooling.py [--sizes 2 4 5 7 13 28 32] [--plot pooling.png]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from minicnn import nn

# A hand-made input, (N, C, H, W) = (1, 1, 4, 4).
X = np.array([[1, 3, 2, 0],
              [4, 6, 1, 1],
              [0, 2, 9, 5],
              [1, 1, 3, 7]], dtype=np.float32).reshape(1, 1, 4, 4)


def show(name: str, array) -> None:
    plane = np.asarray(array)[0, 0]
    text = np.array2string(plane, precision=4, suppress_small=True)
    print(f"{name} {np.asarray(array).shape}:\n{text}")


def forward_and_routes(x):
    """Each pool's output and the gradient it routes back for an upstream gradient of ones."""
    layers = {"MaxPool2d(2)": nn.MaxPool2d(2), "AvgPool2d(2)": nn.AvgPool2d(2),
              "AdaptiveAvgPool2d(3)": nn.AdaptiveAvgPool2d(3),
              "MaxPool2d(3, stride=1)": nn.MaxPool2d(3, stride=1)}
    results = {}
    for name, layer in layers.items():
        out = layer(x)
        results[name] = (out, layer.backward(np.ones_like(out)))
    return results


def pools(results) -> None:
    show("input", X)
    print()
    for name, (out, _) in results.items():
        show(name, out)
    print()
    print("gradient routing: backward(ones), the gradient each input element receives")
    for name, (out, grad) in results.items():
        show(name, grad)
        print(f"  (sum {grad.sum():g} = number of outputs {out.size}: no gradient is lost)")
    print("max: all to each window's argmax; avg: 1/4 to each of the 4 pixels of its window;")
    print("overlapping windows (adaptive 4 -> 3, max at stride 1) add up where they overlap")
    print()


def indices() -> None:
    out, idx = nn.MaxPool2d(2, return_indices=True)(X)
    width = X.shape[3]
    print("MaxPool2d(2, return_indices=True) returns (out, indices):")
    show("indices", idx)
    for i, j in np.ndindex(out.shape[2:]):
        h, w = divmod(int(idx[0, 0, i, j]), width)
        print(f"  out[{i},{j}] = {out[0, 0, i, j]:g} came from index {idx[0, 0, i, j]} = "
              f"{h}*{width} + {w}: input[{h},{w}] = {X[0, 0, h, w]:g}")
    print()


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins along one axis: [floor(i*size/out), ceil((i+1)*size/out))."""
    return [(i * size // out, math.ceil((i + 1) * size / out)) for i in range(out)]


def adaptive(sizes) -> None:
    print("AdaptiveAvgPool2d((2, 2)): the same output size for any input size "
          "(AdaptiveAvgPool2d(1): global average pooling)")
    layer, global_pool = nn.AdaptiveAvgPool2d((2, 2)), nn.AdaptiveAvgPool2d(1)
    rng = np.random.default_rng(0)
    for size in sizes:
        x = rng.random((1, 3, size, size), dtype=np.float32)
        out = layer(x)
        bins = adaptive_bins(size, 2)
        by_hand = np.array([[x[0, 0, r0:r1, c0:c1].mean() for c0, c1 in bins]
                            for r0, r1 in bins])
        spans = ", ".join(f"{start}-{stop - 1}" for start, stop in bins)
        print(f"  input {x.shape} -> {out.shape}; bins (rows/cols) {spans}; "
              f"equals the bin means: {np.allclose(out[0, 0], by_hand)}; "
              f"global: {global_pool(x).shape}")
    print()


def save_plot(results, path: str) -> None:
    """The input and the gradient each pool routes back to it, as annotated grids."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(install matplotlib to save a plot: pip install minicnn[plot])")
        return
    panels = [("input", X[0, 0])] + [(f"{name}\nbackward(ones)", grad[0, 0])
                                     for name, (_, grad) in results.items()]
    figure = Figure(figsize=(2.6 * len(panels), 3.2), layout="constrained")
    for k, (title, plane) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), k + 1)
        top = max(1.0, plane.max())  # a gradient of 1 shows dark, 0.25 light
        axes.imshow(plane, cmap="Blues", vmin=0, vmax=top)
        for (r, c), value in np.ndenumerate(plane):
            color = "white" if value > 0.6 * top else "black"
            axes.text(c, r, f"{value:.4g}", ha="center", va="center", color=color)
        axes.set_title(title, fontsize=10)
        axes.set(xticks=[], yticks=[])
    figure.savefig(path, dpi=100)
    print(f"plot saved to {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 5, 7, 13, 28, 32],
                        help="input sizes for AdaptiveAvgPool2d")
    parser.add_argument("--plot", metavar="PATH", help="save a figure of the gradient routes")
    args = parser.parse_args(argv)

    results = forward_and_routes(X)
    pools(results)
    indices()
    adaptive(args.sizes)
    if args.plot:
        save_plot(results, args.plot)


if __name__ == "__main__":
    main()
