"""RMSprop: steps scaled by a running root-mean-square of the gradients."""

from __future__ import annotations

from collections.abc import Iterable

from minicnn.backend import array_module
from minicnn.optim.optimizer import Optimizer, lerp_


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop. Each step, with g = grad (-grad when ``maximize``):

        g <- g + weight_decay * w
        v <- alpha * v + (1 - alpha) * g^2
        a <- alpha * a + (1 - alpha) * g ;  d = sqrt(v - a^2) + eps      (centered)
                                            d = sqrt(v) + eps            (otherwise)
        b <- momentum * b + g / d ; w <- w - lr * b                      (momentum > 0)
        w <- w - lr * g / d                                              (otherwise)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
            "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict) -> None:
        for key in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            self._check(key, group[key])

    def _update(self, param, grad, group: dict) -> None:
        weight, xp = param.data, array_module(param.data)
        state = self._state(param, step=0.0, square_avg=xp.zeros_like)
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * weight
        alpha, square_avg = group["alpha"], state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        if group["centered"]:
            grad_avg = state.setdefault("grad_avg", xp.zeros_like(weight))
            lerp_(grad_avg, g, 1 - alpha)
            denominator = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            denominator = xp.sqrt(square_avg)
        denominator += group["eps"]
        if group["momentum"] > 0:
            buffer = state.setdefault("momentum_buffer", xp.zeros_like(weight))
            buffer *= group["momentum"]
            buffer += g / denominator
            weight -= group["lr"] * buffer
        else:
            weight += (-group["lr"] * g) / denominator
