"""Feature maps: a convolution filter is a feature detector, and a CNN learns its own.

A Conv2d layer slides each of its filters (a small grid of weights, here 3x3 or 5x5) over the
image; at every position it multiplies the filter with the pixels under it and sums: one number
per position, the filter's response there. The grid of responses is a feature map. A filter
responds strongly where the image looks like the filter, so a filter detects a feature:

- vertical edge (Sobel): [-1 0 1] columns, positive where the image gets brighter to the right
  (the left side of a stroke), negative where it gets darker (the right side);
- horizontal edge: the same turned 90 degrees, for the top and bottom sides of strokes;
- blur: all weights 1/9, the mean of the 3x3 neighbourhood, which responds to ink anywhere.

Part 1 sets these weights by hand in an ``nn.Conv2d(1, 3, 3, padding=1, bias=False)``: first
on two synthetic bars (each edge filter sees only its own direction), then on one digit, with
where each response is strongest. Part 2 trains a small CNN on the digits for two epochs and
looks at what its first layer learned: eight 5x5 filters nobody designed (printed as signs:
'+' and '-' for large positive and negative weights, each with its resemblance to the hand-made
filters), and the eight feature maps they make of the same digit, after the ReLU (which keeps
only the positive responses: "is this feature here, and how strongly").

    python examples/feature_maps.py [--digit 4] [--epochs 2] [--plot feature_maps.png]
"""

from __future__ import annotations

import argparse

import numpy as np

import minicnn as mc
from minicnn import nn, optim
from minicnn.data import DataLoader, Digits, TensorDataset

VERTICAL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
HAND_FILTERS = {
    "vertical edge": VERTICAL,
    "horizontal edge": VERTICAL.T.copy(),  # brighter below: positive
    "blur": np.full((3, 3), 1 / 9, dtype=np.float32),
}
# 5x5 versions, to compare the learned 5x5 filters with (cosine similarity)
_SMOOTH, _SLOPE = np.array([1, 2, 3, 2, 1.0]), np.array([-1, -2, 0, 2, 1.0])
TEMPLATES_5X5 = {
    "vertical edge": np.outer(_SMOOTH, _SLOPE),
    "horizontal edge": np.outer(_SLOPE, _SMOOTH),
    "blur": np.ones((5, 5)),
}


def hand_conv() -> nn.Conv2d:
    """A Conv2d whose three filters are set by hand (padding=1: the maps keep the 28x28 size)."""
    conv = nn.Conv2d(1, len(HAND_FILTERS), 3, padding=1, bias=False)
    conv.weight.data[:] = np.stack(list(HAND_FILTERS.values()))[:, None]  # (3, 1, 3, 3)
    return conv


def small_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),  # 8 feature maps, 28 -> 24 -> 12
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # 16 maps of those maps, 12 -> 8 -> 4
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )


def ascii_map(image: np.ndarray, signed: bool) -> list[str]:
    """One string per row: for a response map '+' / '-' where it is above a quarter of its
    largest magnitude, for an image '#' for ink and '.' for faint ink."""
    top = np.abs(image).max() or 1.0
    if signed:
        chars = np.where(image > top / 4, "+", np.where(image < -top / 4, "-", " "))
    else:
        chars = np.where(image > 0.5, "#", np.where(image > 0.2, ".", " "))
    return ["".join(row) for row in chars]


def synthetic_bars() -> dict:
    """Two 28x28 images: a vertical bar and a horizontal bar, 4 pixels thick."""
    vertical = np.zeros((1, 28, 28), dtype=np.float32)
    vertical[0, 4:24, 12:16] = 1.0
    return {"vertical bar": vertical, "horizontal bar": vertical.transpose(0, 2, 1).copy()}


def part_one(image: np.ndarray, label: int, index: int) -> np.ndarray:
    conv = hand_conv()
    names = list(HAND_FILTERS)
    print("Part 1: hand-made 3x3 filters in a Conv2d(1, 3, 3, padding=1, bias=False)")
    print("sum of |response| over the image (how much each filter finds in it)")
    print(f"{'image':>15}" + "".join(f"{name:>16}" for name in names))
    for bar_name, bar in synthetic_bars().items():
        energy = np.abs(conv(bar[None])[0]).sum(axis=(1, 2))
        print(f"{bar_name:>15}" + "".join(f"{value:>16.1f}" for value in energy))

    maps = conv(image[None])[0]  # (3, 28, 28): one feature map per filter
    print(f"\nthe filters on test digit #{index} (a {label}):")
    header = (f"{'filter':>15} {'min':>7} {'max':>7} {'mean|r|':>8} {'max at (row, col)':>18} "
              f"{'min at (row, col)':>18}")
    print(header)
    print("-" * len(header))
    for name, response in zip(names, maps, strict=True):
        high = np.unravel_index(response.argmax(), response.shape)
        low = np.unravel_index(response.argmin(), response.shape)
        print(f"{name:>15} {response.min():>7.3f} {response.max():>7.3f} "
              f"{np.abs(response).mean():>8.4f} {str(tuple(map(int, high))):>18} "
              f"{str(tuple(map(int, low))):>18}")
    columns = [ascii_map(image[0], signed=False), ascii_map(maps[0], signed=True),
               ascii_map(maps[1], signed=True)]
    print(f"\n{'the digit':<28}  {'vertical edge (+ / -)':<28}  {'horizontal edge (+ / -)':<28}")
    for rows in zip(*columns, strict=True):
        if any(row.strip() for row in rows):  # skip the empty rows above and below the digit
            print("  ".join(rows).rstrip())
    return maps


def train(args) -> tuple[nn.Sequential, float]:
    """Train the small CNN with Adam; return it and its test accuracy."""
    x, y = Digits(train=True).arrays()
    keep = np.random.default_rng(args.seed).permutation(len(y))[: args.train_size]
    mc.manual_seed(args.seed)
    model = small_cnn()
    trainer = mc.Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3),
                         metrics=["accuracy"])
    loader = DataLoader(TensorDataset(x[keep], y[keep]), batch_size=32, shuffle=True,
                        seed=args.seed)
    trainer.fit(loader, epochs=args.epochs, verbose=0)
    x_test, y_test = Digits(train=False).arrays()
    return model, trainer.evaluate((x_test, y_test), batch_size=500)["accuracy"]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


def part_two(model: nn.Sequential, accuracy: float, image: np.ndarray, args) -> np.ndarray:
    filters = model[0].weight.data[:, 0]  # (8, 5, 5): the first layer's learned filters
    print(f"\nPart 2: a small CNN trained for {args.epochs} epoch(s) on {args.train_size} digits "
          f"(test accuracy {accuracy:.1%});")
    print("its first layer's eight 5x5 filters ('+' / '-': weights above a quarter of the "
          "largest, by sign)")
    pictures = [ascii_map(weights, signed=True) for weights in filters]
    print("   ".join(f"{k:<5}" for k in range(len(filters))))
    for rows in zip(*pictures, strict=True):
        print("   ".join(rows))

    # The feature maps: the digit through the first conv layer and its ReLU only.
    model.eval()
    maps = model[1](model[0](image[None]))[0]  # (8, 24, 24)
    print("\nthe eight feature maps of the digit (after the ReLU), and which hand-made filter "
          "each filter resembles (cosine similarity of the weights, -1 to 1)")
    header = (f"{'map':>3} {'mean':>7} {'max':>7} {'active':>7} {'max at (row, col)':>18} "
              f"{'closest hand-made filter':>26}")
    print(header)
    print("-" * len(header))
    for k, (weights, feature_map) in enumerate(zip(filters, maps, strict=True)):
        similarity = {name: cosine(weights, t) for name, t in TEMPLATES_5X5.items()}
        closest = max(similarity, key=lambda name: abs(similarity[name]))
        where = tuple(map(int, np.unravel_index(feature_map.argmax(), feature_map.shape)))
        print(f"{k:>3} {feature_map.mean():>7.4f} {feature_map.max():>7.4f} "
              f"{(feature_map > 0).mean():>7.1%} {str(where):>18} "
              f"{closest:>17} {similarity[closest]:>+8.2f}")
    print("(active: the share of positions where the filter responds at all; a negative "
          "similarity is the same detector for the opposite contrast)")
    return maps


def save_plot(image, hand_maps, filters, learned_maps, path: str) -> bool:
    """The digit and the hand-made maps, the learned filters, the learned maps; False if
    matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    figure = Figure(figsize=(12, 6), layout="constrained")
    grid = figure.add_gridspec(3, 8)
    top = [image[0], *hand_maps]
    titles = ["the digit", *(f"{name} (hand-made)" for name in HAND_FILTERS)]
    for k, (picture, title) in enumerate(zip(top, titles, strict=True)):
        axes = figure.add_subplot(grid[0, 2 * k : 2 * k + 2])
        limit = np.abs(picture).max()
        axes.imshow(picture, cmap="gray" if k == 0 else "RdBu_r",
                    vmin=0 if k == 0 else -limit, vmax=limit)
        axes.set_title(title, fontsize=9)
        axes.axis("off")
    limit = np.abs(filters).max()
    for k in range(len(filters)):
        axes = figure.add_subplot(grid[1, k])
        axes.imshow(filters[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes.set_title(f"learned filter {k}", fontsize=8)
        axes.axis("off")
        axes = figure.add_subplot(grid[2, k])
        axes.imshow(learned_maps[k], cmap="magma")
        axes.set_title(f"its feature map {k}", fontsize=8)
        axes.axis("off")
    figure.suptitle("Filters as feature detectors (red: positive, blue: negative)")
    figure.savefig(path, dpi=120)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digit", type=int, default=4, choices=range(10),
                        help="look at the first test image of this digit")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PATH", help="save the filters and maps (PNG)")
    parser.add_argument("--fast", action="store_true", help="a quick run: 1 epoch, 1000 images")
    args = parser.parse_args(argv)
    if args.fast:
        args.epochs, args.train_size = 1, 1000

    x_test, y_test = Digits(train=False).arrays()
    index = int(np.flatnonzero(y_test == args.digit)[0])
    image = x_test[index]  # (1, 28, 28)
    hand_maps = part_one(image, args.digit, index)
    model, accuracy = train(args)
    learned_maps = part_two(model, accuracy, image, args)
    if args.plot:
        filters = model[0].weight.data[:, 0]
        if save_plot(image, hand_maps, filters, learned_maps, args.plot):
            print(f"plot saved to {args.plot}")
        else:
            print("(install matplotlib to save the plot: pip install minicnn[plot])")


if __name__ == "__main__":
    main()
