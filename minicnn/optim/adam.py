"""Adam and AdamW: bias-corrected running averages of the gradient and its square."""

from __future__ import annotations

from collections.abc import Iterable

from minicnn.backend import array_module
from minicnn.optim.optimizer import Optimizer, lerp_


class Adam(Optimizer):
    """Adam, as torch.optim.Adam. Each step t = 1, 2, ..., with g = grad (-grad when
    ``maximize``):

        g <- g + weight_decay * w                  (Adam: L2 penalty in the gradient)
        w <- w * (1 - lr * weight_decay)           (AdamW: decoupled weight decay instead)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2 ;  v_max <- max(v_max, v) and use it if amsgrad
        w <- w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
            "capturable": capturable, "differentiable": differentiable, "fused": fused,
            "decoupled_weight_decay": self._decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict) -> None:
        for key in ("lr", "eps", "weight_decay"):
            self._check(key, group[key])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{type(self).__name__}: betas must be a pair of floats, got {betas!r}")
        for index, beta in enumerate(betas):
            self._check(f"betas[{index}]", beta, 0.0, 1.0)

    def _update(self, param, grad, group: dict) -> None:
        weight, xp = param.data, array_module(param.data)
        state = self._state(param, step=0.0, exp_avg=xp.zeros_like, exp_avg_sq=xp.zeros_like)
        state["step"] += 1
        step, lr, (beta1, beta2) = state["step"], group["lr"], group["betas"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            if group["decoupled_weight_decay"]:
                weight *= 1 - lr * group["weight_decay"]
            else:
                g = g + group["weight_decay"] * weight
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * g * g
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if group["amsgrad"]:
            max_exp_avg_sq = state.setdefault("max_exp_avg_sq", xp.zeros_like(weight))
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            exp_avg_sq = max_exp_avg_sq
        denominator = xp.sqrt(exp_avg_sq) / bias_correction2_sqrt
        denominator += group["eps"]
        weight += (-step_size * exp_avg) / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): w <- w (1 - lr weight_decay)
    before the Adam step, instead of adding weight_decay * w to the gradient."""

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
            capturable=capturable, differentiable=differentiable, fused=fused,
        )
