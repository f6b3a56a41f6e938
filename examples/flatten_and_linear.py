"""From feature maps to class scores: Flatten, then Linear, and what each costs in weights.

The convolutions of a CNN produce feature maps of shape (N, C, H, W): N images, C channels,
H x W positions. A Linear layer wants one vector per image, so ``nn.Flatten()`` reshapes them
to (N, C*H*W), reading each image's values in memory order: element [n, c, h, w] lands at
column c*H*W + h*W + w. Flatten has no weights and its backward only reshapes the gradient back.

``nn.Linear(in, out)`` computes y = x A^T + b with A of shape (out, in) and b of shape (out,):
in*out + out parameters, one weight per (input, output) pair. A Conv2d(C_in, C_out, k) has
C_out*C_in*k*k + C_out, whatever the image size, because it reuses the same small kernel at
every position (weight sharing). That is why, in LeNet-5, the Linear layers hold most of the
parameters while the convolutions do most of the arithmetic.

In the backward pass, for an upstream gradient G of shape (N, out):
d loss/d x = G A (N, in), d loss/d A = G^T x (out, in, the weight's shape) and
d loss/d b = the sum of G over the batch (out,).

    python examples/flatten_and_linear.py [--batch 4] [--plot params.png]
"""

from __future__ import annotations

import argparse

import numpy as np

import minicnn as mc
from minicnn import nn


def lenet(dtype=np.float64) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 28 -> 14
        nn.Conv2d(6, 16, 5, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 10 -> 5
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120, dtype=dtype), nn.ReLU(),
        nn.Linear(120, 84, dtype=dtype), nn.ReLU(), nn.Linear(84, 10, dtype=dtype),
    )


def count(module) -> int:
    return sum(param.data.size for param in module.parameters())


def shapes(model, x) -> tuple[list, list]:
    """Run the model layer by layer and print each output's shape; return what each layer
    received and returned."""
    print(f"LeNet-5, layer by layer, on a batch of {x.shape[0]} images:")
    print(f"     {'output shape':<17} layer")
    print(f"     {str(x.shape):<17} (the input)")
    inputs, outputs = [], []
    for index, layer in enumerate(model):
        inputs.append(x)
        x = layer(x)
        outputs.append(x)
        print(f"  {index:>2} {str(x.shape):<17} {layer!r}")
    print()
    return inputs, outputs


def parameter_counts(model, outputs) -> None:
    """Parameters (minicnn's count next to the formula) and multiply-adds per image."""
    print("parameters per layer (minicnn's count, and the formula), and multiply-adds per image")
    macs = {}
    for index, layer in enumerate(model):
        if isinstance(layer, nn.Linear):
            i, o = layer.in_features, layer.out_features
            text = f"in*out + out = {i}*{o} + {o} = {i * o + o}"
            macs[index] = i * o  # one per weight
        elif isinstance(layer, nn.Conv2d):
            o, i, kh, kw = layer.weight.data.shape
            text = f"out*in*k*k + out = {o}*{i}*{kh}*{kw} + {o} = {o * i * kh * kw + o}"
            macs[index] = outputs[index][0].size * i * kh * kw  # each weight, at every position
        else:
            continue
        print(f"  {index:>2} {type(layer).__name__:<7} {count(layer):>6}   {text:<44} "
              f"{macs[index]:>8,} multiply-adds")
    linear = [index for index, layer in enumerate(model) if isinstance(layer, nn.Linear)]
    share = sum(count(model[index]) for index in linear) / count(model)
    work = sum(macs[index] for index in linear) / sum(macs.values())
    print(f"  total {count(model)} parameters: the Linear layers hold {share:.1%} of them but do "
          f"{work:.1%} of the multiply-adds (a kernel is reused at every position)")
    # The same 6 output maps of 28x28 from a 28x28 image, without weight sharing:
    dense = nn.Linear(28 * 28, 6 * 28 * 28, dtype=np.float32)
    print(f"  a Linear(784, {6 * 28 * 28}) mapping the image to as many outputs as the first "
          f"conv's 6x28x28: {count(dense):,} parameters vs {count(model[0])}")
    print()


def flatten_order(feature_map, flat) -> None:
    n, c, h, w = feature_map.shape
    print(f"Flatten: {feature_map.shape} -> {flat.shape}, element [n, c, h, w] -> "
          f"[n, c*{h}*{w} + h*{w} + w]")
    largest = np.unravel_index(feature_map[n - 1].argmax(), (c, h, w))  # a non-zero one
    for index in [(0, 0, 0, 1), (n - 1, *map(int, largest)), (n - 1, c - 1, h - 1, w - 1)]:
        _, ci, hi, wi = index
        column = ci * h * w + hi * w + wi
        print(f"  feature_map{list(index)} = {feature_map[index]:.6f} = flat[{index[0]}, "
              f"{column}] = {flat[index[0], column]:.6f}")
    print()


def linear_by_hand(linear, x, y) -> None:
    weight, bias = linear.weight.data, linear.bias.data
    by_hand = x @ weight.T + bias
    print(f"Linear: x {x.shape} @ A^T {weight.T.shape} + b {bias.shape} = y {y.shape}")
    print(f"  max |minicnn - numpy x @ A.T + b| = {np.abs(y - by_hand).max():.1e}")
    one = sum(x[0, k] * weight[2, k] for k in range(x.shape[1])) + bias[2]
    print(f"  y[0, 2] = sum_k x[0, k] A[2, k] + b[2] = {one:.10f} (minicnn {y[0, 2]:.10f})")
    print()


def backward(flatten, linear, x) -> None:
    rng = np.random.default_rng(1)
    grad_y = rng.normal(size=(x.shape[0], linear.out_features))  # an upstream gradient G
    linear.zero_grad()
    grad_x = linear.backward(grad_y)
    grad_map = flatten.backward(grad_x)
    weight = linear.weight
    print("backward through Linear, then Flatten")
    print(f"  grad of y (upstream G)  {grad_y.shape}")
    print(f"  grad of x = G A         {grad_x.shape}  matches numpy: "
          f"{np.allclose(grad_x, grad_y @ weight.data)}")
    print(f"  grad of A = G^T x       {weight.grad.shape}  (the weight's shape {weight.data.shape})"
          f"  matches numpy: {np.allclose(weight.grad, grad_y.T @ x)}")
    print(f"  grad of b = sum_n G     {linear.bias.grad.shape}  matches numpy: "
          f"{np.allclose(linear.bias.grad, grad_y.sum(axis=0))}")
    print(f"  Flatten.backward: {grad_x.shape} -> {grad_map.shape}  (a reshape: "
          f"{np.array_equal(grad_map.reshape(grad_x.shape), grad_x)})")
    print()


def save_plot(model, path: str) -> None:
    """Parameters per layer, as a bar chart."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(install matplotlib to save a plot: pip install minicnn[plot])")
        return
    layers = [(f"{index} {type(layer).__name__}", count(layer)) for index, layer in
              enumerate(model) if isinstance(layer, (nn.Linear, nn.Conv2d))]
    figure = Figure(figsize=(7, 3.8), layout="constrained")
    axes = figure.add_subplot()
    colors = ["tab:blue" if "Conv" in name else "tab:orange" for name, _ in layers]
    bars = axes.bar([name for name, _ in layers], [n for _, n in layers], color=colors)
    axes.bar_label(bars)
    axes.set(ylabel="parameters", title="LeNet-5: parameters per layer (blue: Conv2d)")
    figure.savefig(path, dpi=100)
    print(f"plot saved to {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="images in the batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PATH", help="save a bar chart of parameter counts")
    args = parser.parse_args(argv)

    mc.manual_seed(args.seed)
    model = lenet()
    images = np.random.default_rng(args.seed).random((args.batch, 1, 28, 28))
    inputs, outputs = shapes(model, images)
    parameter_counts(model, outputs)

    flatten, linear = model[6], model[7]
    feature_map = inputs[6]  # what Flatten received: (N, 16, 5, 5)
    flat = flatten(feature_map)
    flatten_order(feature_map, flat)
    linear_by_hand(linear, flat, linear(flat))
    backward(flatten, linear, flat)
    if args.plot:
        save_plot(model, args.plot)


if __name__ == "__main__":
    main()
