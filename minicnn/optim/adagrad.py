"""Adagrad: per-element step sizes shrinking with the summed squared gradients."""

from __future__ import annotations

from collections.abc import Iterable

from minicnn.backend import array_module
from minicnn.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad. Each step t = 1, 2, ..., with g = grad (-grad when
    ``maximize``):

        g <- g + weight_decay * w
        s <- s + g^2                       (s starts at initial_accumulator_value)
        w <- w - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable, "fused": fused,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch creates Adagrad's state at once
            for param in group["params"]:
                self._initial_state(param)

    def _validate(self, group: dict) -> None:
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            self._check(key, group[key])

    def _initial_state(self, param) -> dict:
        """Step 0 and the sum at initial_accumulator_value: the constructor's value, also for
        groups added later, as in PyTorch."""
        value = self.defaults["initial_accumulator_value"]
        return self._state(
            param, step=0.0, sum=lambda w: array_module(w).full_like(w, value)
        )

    def _update(self, param, grad, group: dict) -> None:
        weight, xp = param.data, array_module(param.data)
        state = self._initial_state(param)
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * weight
        step_size = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        weight += (-step_size * g) / (xp.sqrt(state["sum"]) + group["eps"])
