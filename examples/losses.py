"""Classification losses side by side: binary cross-entropy, cross-entropy and focal loss.

A loss turns the model's scores into one number to minimise, and its gradient (d loss / d
logits) is what backpropagation starts from: every weight update is that gradient pushed back
through the layers. So two things matter per example: the loss, and how hard its gradient pulls.

- Binary cross-entropy, for a yes/no target t in {0, 1} and one logit z per example:
  p = sigmoid(z), loss = -[t log p + (1 - t) log(1 - p)], and dloss/dz = p - t.
  ``nn.BCEWithLogitsLoss`` takes z; ``nn.BCELoss`` takes p (a Sigmoid layer before it). Both
  give the same numbers, but the logits version is numerically safe: p rounds to exactly 1.0 for
  z = 40, so BCELoss can only clamp log(0) at -100 where the true loss is 40.
- Cross-entropy, for C classes and C logits: p = softmax(z), loss = -log p_t (p_t: the
  probability of the true class), and dloss/dz = p - onehot(t). With two classes and logits
  [0, z], softmax gives p_1 = e^z / (1 + e^z) = sigmoid(z): BCE is cross-entropy on two logits.
- Focal loss (Lin et al., 2017) multiplies cross-entropy by (1 - p_t)^gamma: an example the
  model already gets right (p_t near 1, an "easy" one) has its loss and gradient scaled almost
  to zero, so the few hard examples are what the model learns from (a very hard one even pulls
  a little harder than with cross-entropy). gamma = 0 is cross-entropy; ``alpha`` scales the
  loss by a constant (or one weight per class).

Every number printed is computed by minicnn's losses (forward, then ``backward``), in float64.

    python examples/losses.py [--gamma 2] [--alpha 0.25] [--plot losses.png]
"""

from __future__ import annotations

import argparse

import numpy as np

from minicnn import nn

# One logit per example of a binary task whose target is 1: the larger z, the easier.
BINARY_LOGITS = np.array([4.0, 2.0, 0.0, -2.0, -4.0])
# Ten-class examples, true class 0: the true class's logit is MARGIN above the nine others.
MARGINS = np.array([7.0, 5.0, 2.0, 0.0, -2.0])
NAMES = ["very easy", "easy", "unsure", "hard", "very hard"]


def per_example(loss_fn, scores, target):
    """The loss of each example and d loss / d scores (reduction='none': one loss each)."""
    losses = loss_fn(scores, target)
    grads = loss_fn.backward(np.ones_like(losses))  # d (each example's loss) / d its scores
    return losses, grads


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def binary_table() -> None:
    z = BINARY_LOGITS[:, None]  # (N, 1): one logit per example
    target = np.ones_like(z)
    bce, bce_grad = per_example(nn.BCEWithLogitsLoss(reduction="none"), z, target)
    # the same examples as a 2-class problem: logits [0, z], class 1 is the true one
    two_logits = np.concatenate([np.zeros_like(z), z], axis=1)
    ce, ce_grad = per_example(nn.CrossEntropyLoss(reduction="none"), two_logits,
                              np.ones(len(z), dtype=np.int64))
    p = sigmoid(z)
    on_p, grad_p = per_example(nn.BCELoss(reduction="none"), p, target)

    print("1. Binary task, target 1, one logit z per example")
    header = (f"{'example':>10} {'z':>5} {'p=sig(z)':>9} {'BCEWithLogits':>14} {'CE [0,z]':>10} "
              f"{'dBCE/dz':>9} {'dCE/dz':>9} {'BCELoss(p)':>11} {'dBCE/dp':>9} "
              f"{'dBCE/dp*p(1-p)':>15}")
    print(header)
    print("-" * len(header))
    for i, name in enumerate(NAMES):
        print(f"{name:>10} {z[i, 0]:>5.1f} {p[i, 0]:>9.4f} {bce[i, 0]:>14.6f} {ce[i]:>10.6f} "
              f"{bce_grad[i, 0]:>9.5f} {ce_grad[i, 1]:>9.5f} {on_p[i, 0]:>11.6f} "
              f"{grad_p[i, 0]:>9.4f} {grad_p[i, 0] * p[i, 0] * (1 - p[i, 0]):>15.5f}")
    print(f"BCE on z equals CE on [0, z]: max |BCE - CE| = {np.abs(bce[:, 0] - ce).max():.2e}, "
          f"max |dBCE/dz - dCE/dz| = {np.abs(bce_grad[:, 0] - ce_grad[:, 1]).max():.2e}")
    print("dloss/dz = p - 1 for target 1; through the sigmoid, dBCE/dp * p(1-p) is the same "
          "number (the chain rule)")
    z_far, zero = np.array([[40.0]]), np.zeros((1, 1))
    with_logits = float(nn.BCEWithLogitsLoss()(z_far, zero))
    with_probs = float(nn.BCELoss()(sigmoid(z_far), zero))
    print(f"z = 40 with target 0: BCEWithLogitsLoss = {with_logits:.1f}, BCELoss(sigmoid(z)) = "
          f"{with_probs:.1f} (sigmoid(40) rounds to 1.0 and log(0) is clamped at -100)")


def focal_table(gamma: float, alpha: float) -> None:
    classes = 10
    logits = np.zeros((len(MARGINS), classes))
    logits[:, 0] = MARGINS  # class 0 is the true class of every example
    target = np.zeros(len(MARGINS), dtype=np.int64)
    ce, ce_grad = per_example(nn.CrossEntropyLoss(reduction="none"), logits, target)
    focal, focal_grad = per_example(nn.FocalLoss(gamma=gamma, reduction="none"), logits, target)
    p_t = np.exp(-ce)  # cross-entropy is -log p_t

    print(f"\n2. Ten classes, the true class's logit MARGIN above the nine others; focal gamma="
          f"{gamma:g}")
    print("|grad| is the length of d loss / d logits (all ten logits)")
    header = (f"{'example':>10} {'margin':>6} {'p_t':>7} {'CE':>9} {'|grad CE|':>10} "
              f"{'focal':>10} {'|grad focal|':>12} {'focal/CE':>9} {'(1-p_t)^g':>10}")
    print(header)
    print("-" * len(header))
    ce_norm = np.linalg.norm(ce_grad, axis=1)
    focal_norm = np.linalg.norm(focal_grad, axis=1)
    for i, name in enumerate(NAMES):
        print(f"{name:>10} {MARGINS[i]:>6.1f} {p_t[i]:>7.4f} {ce[i]:>9.5f} {ce_norm[i]:>10.5f} "
              f"{focal[i]:>10.6f} {focal_norm[i]:>12.6f} {focal[i] / ce[i]:>9.5f} "
              f"{(1 - p_t[i]) ** gamma:>10.5f}")
    print(f"focal/CE is (1-p_t)^gamma: the easy examples lose almost all their weight "
          f"({focal[1] / ce[1]:.4f} of their CE), the hard ones keep most of it "
          f"({focal[-1] / ce[-1]:.4f}).")

    # What that does in a batch: 98 easy examples and 2 hard ones.
    batch = np.concatenate([np.repeat(logits[1:2], 98, axis=0), np.repeat(logits[3:4], 2, axis=0)])
    batch_target = np.zeros(len(batch), dtype=np.int64)
    shares = {}
    for name, loss_fn in (("cross-entropy", nn.CrossEntropyLoss(reduction="none")),
                          ("focal", nn.FocalLoss(gamma=gamma, reduction="none"))):
        _, grads = per_example(loss_fn, batch, batch_target)
        norms = np.linalg.norm(grads, axis=1)
        shares[name] = norms[98:].sum() / norms.sum()
    print(f"In a batch of 98 easy and 2 hard examples, the 2 hard ones make "
          f"{shares['cross-entropy']:.1%} of the summed |grad| with cross-entropy and "
          f"{shares['focal']:.1%} with focal loss.")

    zero_gamma, _ = per_example(nn.FocalLoss(gamma=0.0, reduction="none"), logits, target)
    with_alpha, _ = per_example(nn.FocalLoss(gamma=gamma, alpha=alpha, reduction="none"),
                                logits, target)
    print(f"FocalLoss(gamma=0) equals CrossEntropyLoss: max difference "
          f"{np.abs(zero_gamma - ce).max():.2e}")
    print(f"FocalLoss(gamma={gamma:g}, alpha={alpha:g}) is alpha * focal: max difference "
          f"{np.abs(with_alpha - alpha * focal).max():.2e}")


def save_plot(path: str, gammas=(0.0, 0.5, 1.0, 2.0, 5.0)) -> bool:
    """Loss and |dloss/dz| against p_t for several gammas (the focal-loss paper's figure 1),
    on the two-logit problem [0, z]; False if matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    z = np.linspace(-5.0, 8.0, 300)
    logits = np.stack([np.zeros_like(z), z], axis=1)
    target = np.ones(len(z), dtype=np.int64)
    p_t = sigmoid(z)
    figure = Figure(figsize=(10, 4))
    loss_axes, grad_axes = figure.subplots(1, 2)
    for gamma in gammas:
        losses, grads = per_example(nn.FocalLoss(gamma=gamma, reduction="none"), logits, target)
        label = "cross-entropy (gamma=0)" if gamma == 0 else f"focal gamma={gamma:g}"
        loss_axes.plot(p_t, losses, label=label)
        grad_axes.plot(p_t, np.abs(grads[:, 1]), label=label)
    loss_axes.set(xlabel="p_t, probability of the true class", ylabel="loss", ylim=(0, 5),
                  title="loss: easy examples (p_t near 1) fade")
    grad_axes.set(xlabel="p_t, probability of the true class", ylabel="|d loss / d z|",
                  title="gradient")
    loss_axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gamma", type=float, default=2.0, help="focal loss's focusing power")
    parser.add_argument("--alpha", type=float, default=0.25, help="focal loss's scale")
    parser.add_argument("--plot", metavar="PATH", help="save loss and gradient curves (PNG)")
    parser.add_argument("--fast", action="store_true",
                        help="accepted for symmetry with the other examples (this one is instant)")
    args = parser.parse_args(argv)

    binary_table()
    focal_table(args.gamma, args.alpha)
    if args.plot:
        if save_plot(args.plot):
            print(f"plot saved to {args.plot}")
        else:
            print("(install matplotlib to save the plot: pip install minicnn[plot])")


if __name__ == "__main__":
    main()
