"""Padding, stride and dilation: how they set the output size of a convolution.

A k x k kernel slides over the input; the output has one value per position it visits. Along
each axis:

    out = floor((H + 2p - d(k - 1) - 1) / s) + 1

- padding p adds p rows (columns) of zeros on each side, so the window can centre on the border;
- stride s moves the window s pixels at a time, dividing the output size by about s;
- dilation d spreads the kernel's taps d pixels apart: it sees d(k - 1) + 1 pixels with k taps.

``padding='valid'`` means p = 0. ``padding='same'`` pads d(k - 1) in total (half each side,
the odd pixel at the bottom/right), so at stride 1 the output keeps the input's H x W; PyTorch,
and minicnn, refuse it for strides above 1.

The table below puts the formula next to the shape minicnn's ``nn.Conv2d`` actually returns;
then a 5 x 5 input shows the zero padding and the nine positions a 3 x 3, stride-2 window
visits.

    python examples/padding_and_stride.py [--size 28] [--plot padding.png]
"""

from __future__ import annotations

import argparse

import numpy as np

from minicnn import functional as F
from minicnn import nn

# (kernel, stride, padding, dilation) for an input of --size x --size
CASES = [
    (5, 1, 0, 1), (5, 1, "valid", 1), (5, 1, 2, 1), (5, 1, "same", 1), (3, 1, "same", 1),
    (3, 1, 1, 1), (3, 2, 0, 1), (3, 2, 1, 1), (3, 3, 0, 1), (3, 3, 1, 1), (2, 2, 0, 1),
    (3, 1, 0, 2), (3, 1, "same", 2), (3, 2, 2, 2), (7, 2, 3, 1), (1, 1, 0, 1),
]


def total_padding(padding, kernel: int, dilation: int) -> int:
    """Zeros added along one axis (both sides together)."""
    if padding == "valid":
        return 0
    if padding == "same":
        return dilation * (kernel - 1)
    return 2 * padding


def formula(size: int, kernel: int, stride: int, padding, dilation: int) -> tuple[str, int]:
    """The output size along one axis, written out, and its value."""
    pads = total_padding(padding, kernel, dilation)
    value = (size + pads - dilation * (kernel - 1) - 1) // stride + 1
    return f"({size} + {pads} - {dilation}*{kernel - 1} - 1)//{stride} + 1 = {value}", value


def shape_table(size: int) -> None:
    print(f"Conv2d(3, 8, k, stride=s, padding=p, dilation=d) on input (1, 3, {size}, {size})")
    print("formula: out = (H + 2p - d*(k-1) - 1)//s + 1   ('same': 2p = d*(k-1), 'valid': p = 0)")
    x = np.zeros((1, 3, size, size), dtype=np.float32)
    for kernel, stride, padding, dilation in CASES:
        conv = nn.Conv2d(3, 8, kernel, stride=stride, padding=padding, dilation=dilation)
        text, _ = formula(size, kernel, stride, padding, dilation)
        out = conv(x)
        print(f"in {size}x{size} k={kernel} s={stride} p={padding!s:<5} d={dilation} | "
              f"{text:<32} | Conv2d: {x.shape} -> {out.shape}")
    print()


def same_keeps_size(size: int) -> None:
    print(f"padding='same' at stride 1 keeps H x W = {size} x {size}:")
    x = np.zeros((1, 1, size, size), dtype=np.float32)
    for kernel, dilation in [(1, 1), (3, 1), (5, 1), (7, 1), (3, 2), (3, 3), (5, 2)]:
        conv = nn.Conv2d(1, 1, kernel, padding="same", dilation=dilation)
        out = conv(x)
        print(f"  k={kernel} d={dilation}: pads {total_padding('same', kernel, dilation)} "
              f"in total -> output {out.shape[2]}x{out.shape[3]}")
    try:
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    except ValueError as error:
        print(f"  stride 2 with 'same' is refused: ValueError: {error}")
    print()


def tiny_example() -> np.ndarray:
    """A 5 x 5 input, padding 1, a 3 x 3 window at stride 2: returns the visit counts."""
    x = np.arange(1, 26, dtype=np.float64).reshape(1, 1, 5, 5)
    padded = F.pad2d(x, (1, 1, 1, 1))  # what Conv2d(padding=1) convolves over
    print("a 5x5 input, padding=1: the 7x7 array the kernel slides over")
    print(padded[0, 0].astype(int))
    # An all-ones kernel makes each output the sum of its window, easy to check by hand.
    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False, dtype=np.float64)
    conv.weight.data[...] = 1.0
    out = conv(x)
    print(f"Conv2d(1, 1, 3, stride=2, padding=1): {x.shape} -> {out.shape}; the window visits:")
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            rows, cols = slice(2 * i, 2 * i + 3), slice(2 * j, 2 * j + 3)
            window = padded[0, 0, rows, cols]
            print(f"  out[{i},{j}] <- padded rows {rows.start}-{rows.stop - 1}, cols "
                  f"{cols.start}-{cols.stop - 1}: window sum {window.sum():>4.0f}, "
                  f"minicnn {out[0, 0, i, j]:>4.0f}")
    # Backward of ones through the all-ones kernel counts the windows that see each pixel.
    visits = conv.backward(np.ones_like(out))[0, 0]
    print("how many windows see each input pixel (Conv2d.backward of ones):")
    print(visits.astype(int))
    print()
    return visits


def save_plot(visits: np.ndarray, path: str) -> None:
    """The nine windows on the padded 5x5 input, one small panel each, and the visit counts."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:
        print("(install matplotlib to save a plot: pip install minicnn[plot])")
        return
    figure = Figure(figsize=(10, 5))
    grid = figure.add_gridspec(3, 6)
    padded = np.pad(np.arange(1, 26).reshape(5, 5), 1)
    for i in range(3):
        for j in range(3):
            axes = figure.add_subplot(grid[i, j])
            axes.imshow(padded > 0, cmap="Greys", vmin=0, vmax=3)  # grey: the real input
            axes.add_patch(Rectangle((2 * j - 0.5, 2 * i - 0.5), 3, 3, fill=False, lw=2,
                                     color="tab:red"))
            axes.set(xticks=[], yticks=[])
            axes.set_title(f"out[{i},{j}]", fontsize=9)
    right = figure.add_subplot(grid[:, 3:])
    image = right.imshow(visits, cmap="Blues", vmin=0)
    for (r, c), value in np.ndenumerate(visits):
        color = "white" if value > 0.6 * visits.max() else "black"
        right.text(c, r, f"{value:.0f}", ha="center", va="center", color=color)
    right.set(title="windows that see each input pixel", xticks=[], yticks=[])
    figure.colorbar(image, ax=right)
    figure.suptitle("5x5 input (grey) padded with zeros (white), 3x3 window at stride 2")
    figure.savefig(path, dpi=100)
    print(f"plot saved to {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=28, help="input height and width")
    parser.add_argument("--plot", metavar="PATH", help="save a figure of the 5x5 example")
    args = parser.parse_args(argv)

    shape_table(args.size)
    same_keeps_size(args.size)
    visits = tiny_example()
    if args.plot:
        save_plot(visits, args.plot)


if __name__ == "__main__":
    main()
