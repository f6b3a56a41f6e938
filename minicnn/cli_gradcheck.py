"""``minicnn gradcheck LAYER [options]``: check one layer's or loss's backward by finite
differences, as a learner would after changing it, and print the worst error.

The layer is built from the options (PyTorch's argument names), in float64, on a random input
of a small shape; ``minicnn.gradcheck`` compares every entry of the input's and parameters'
analytic gradients with central differences. Exit status 0 when it passes, 1 when it fails.

    minicnn gradcheck conv2d --stride 2 --padding same
    minicnn gradcheck maxpool2d --kernel-size 3 --stride 2 --padding 1
    minicnn gradcheck crossentropy --label-smoothing 0.1
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np


def _padding(text: str):
    """--padding: an int, or 'same' / 'valid'."""
    return text if text in ("same", "valid") else int(text)


def _conv2d(nn, a):
    return nn.Conv2d(a.in_channels, a.out_channels, a.kernel_size, a.stride or 1, a.padding,
                     a.dilation, a.groups, not a.no_bias, a.padding_mode, dtype=np.float64)


# name -> (builder(nn, args) -> module, input kind): "image" (N, C, H, W), "vector" (N, F),
# or a loss's target kind ("classes", "probabilities", "binary").
LAYERS: dict[str, tuple[Callable, str]] = {
    "conv2d": (_conv2d, "image"),
    "linear": (lambda nn, a: nn.Linear(a.in_features, a.out_features, not a.no_bias,
                                       dtype=np.float64), "vector"),
    "maxpool2d": (lambda nn, a: nn.MaxPool2d(a.kernel_size, a.stride, a.padding,
                                             a.dilation, ceil_mode=a.ceil_mode), "image"),
    "avgpool2d": (lambda nn, a: nn.AvgPool2d(a.kernel_size, a.stride, a.padding,
                                             a.ceil_mode), "image"),
    "lppool2d": (lambda nn, a: nn.LPPool2d(a.norm_type, a.kernel_size, a.stride,
                                           a.ceil_mode), "positive image"),
    "adaptiveavgpool2d": (lambda nn, a: nn.AdaptiveAvgPool2d(a.output_size), "image"),
    "relu": (lambda nn, a: nn.ReLU(), "image"),
    "sigmoid": (lambda nn, a: nn.Sigmoid(), "image"),
    "tanh": (lambda nn, a: nn.Tanh(), "image"),
    "softmax": (lambda nn, a: nn.Softmax(dim=a.dim), "vector"),
    "logsoftmax": (lambda nn, a: nn.LogSoftmax(dim=a.dim), "vector"),
    "dropout": (lambda nn, a: nn.Dropout(a.p), "image"),
    "flatten": (lambda nn, a: nn.Flatten(), "image"),
    "mse": (lambda nn, a: nn.MSELoss(reduction=a.reduction), "values"),
    "bce": (lambda nn, a: nn.BCELoss(reduction=a.reduction), "binary"),
    "bcewithlogits": (lambda nn, a: nn.BCEWithLogitsLoss(reduction=a.reduction), "binary"),
    "nll": (lambda nn, a: nn.NLLLoss(reduction=a.reduction), "classes"),
    "crossentropy": (lambda nn, a: nn.CrossEntropyLoss(
        reduction=a.reduction, label_smoothing=a.label_smoothing), "classes"),
    "focal": (lambda nn, a: nn.FocalLoss(gamma=a.gamma, reduction=a.reduction), "classes"),
}


def add_parser(commands) -> None:
    """The ``gradcheck`` subcommand and its options."""
    run = commands.add_parser("gradcheck", help="check a layer's backward by finite differences",
                              description=__doc__.splitlines()[0])
    run.add_argument("layer", choices=sorted(LAYERS), help="the layer or loss to check")
    shape = run.add_argument_group("input")
    shape.add_argument("--batch", type=int, default=2)
    shape.add_argument("--size", type=int, nargs=2, default=(6, 6), metavar=("H", "W"))
    shape.add_argument("--in-channels", type=int, default=2)
    shape.add_argument("--in-features", type=int, default=4, help="Linear; the class count "
                       "of losses and the softmaxes' width")
    options = run.add_argument_group("layer options (PyTorch's names)")
    options.add_argument("--out-channels", type=int, default=3)
    options.add_argument("--out-features", type=int, default=3)
    options.add_argument("--kernel-size", type=int, default=3)
    options.add_argument("--stride", type=int, help="default: 1, or the kernel size for pools")
    options.add_argument("--padding", type=_padding, default=0, help="int, same or valid")
    options.add_argument("--dilation", type=int, default=1)
    options.add_argument("--groups", type=int, default=1)
    options.add_argument("--padding-mode", default="zeros",
                         choices=("zeros", "reflect", "replicate", "circular"))
    options.add_argument("--no-bias", action="store_true")
    options.add_argument("--ceil-mode", action="store_true")
    options.add_argument("--norm-type", type=float, default=2.0, help="LPPool2d's p")
    options.add_argument("--output-size", type=int, default=2, help="AdaptiveAvgPool2d")
    options.add_argument("--dim", type=int, default=1, help="Softmax / LogSoftmax")
    options.add_argument("--p", type=float, default=0.5, help="Dropout")
    options.add_argument("--reduction", default="mean", choices=("mean", "sum", "none"))
    options.add_argument("--label-smoothing", type=float, default=0.0)
    options.add_argument("--gamma", type=float, default=2.0, help="FocalLoss")
    check = run.add_argument_group("the check")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--eps", type=float, default=1e-6)
    check.add_argument("--atol", type=float, default=1e-5)
    check.add_argument("--rtol", type=float, default=1e-3)


def _input(kind: str, args, rng: np.random.Generator) -> np.ndarray:
    """A float64 input for a layer of this kind (losses: their scores)."""
    if kind.endswith("image"):
        x = rng.standard_normal((args.batch, args.in_channels, *args.size))
        return np.abs(x) + 0.1 if kind.startswith("positive") else x
    if kind == "binary" and args.layer == "bce":
        return rng.uniform(0.05, 0.95, (args.batch, args.in_features))  # probabilities
    return rng.standard_normal((args.batch, args.in_features))


def _target(kind: str, args, rng: np.random.Generator) -> np.ndarray:
    if kind == "classes":
        return rng.integers(0, args.in_features, args.batch)
    if kind == "binary":
        return rng.integers(0, 2, (args.batch, args.in_features)).astype(np.float64)
    return rng.standard_normal((args.batch, args.in_features))


def run(args: argparse.Namespace) -> int:
    """Build the layer, check it, print the verdict; 0 when it passed, 1 when it failed."""
    import minicnn as mc
    from minicnn import nn

    builder, kind = LAYERS[args.layer]
    mc.manual_seed(args.seed)
    try:
        layer = builder(nn, args)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"minicnn gradcheck: {error}") from error
    layer.train()
    rng = np.random.default_rng(args.seed)
    x = _input(kind, args, rng)
    options = dict(eps=args.eps, atol=args.atol, rtol=args.rtol, raise_exception=False,
                   seed=args.seed)
    if kind in ("image", "positive image", "vector"):
        target = layer
    else:  # a loss: its input alone is checked, against a fixed target
        labels = _target(kind, args, rng)
        target = (lambda scores: (layer(scores, labels), None),
                  lambda grad, _: layer.backward(grad))
    print(f"{layer!r} on an input of shape {x.shape}")
    try:
        result = mc.gradcheck(target, [x], **options)
    except (TypeError, ValueError, IndexError) as error:
        raise SystemExit(f"minicnn gradcheck: {error}") from error
    print(result)
    return 0 if result else 1
