"""SGD with momentum, dampening, Nesterov momentum and weight decay, as torch.optim.SGD."""

from __future__ import annotations

from collections.abc import Iterable

from minicnn.backend import kernels
from minicnn.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent. Each step, with g = grad (-grad when ``maximize``):

        g <- g + weight_decay * w
        b <- g on the first step, else momentum * b + (1 - dampening) * g   (if momentum != 0)
        g <- g + momentum * b if nesterov, else b                           (if momentum != 0)
        w <- w - lr * g
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr, "momentum": momentum, "dampening": dampening,
            "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
            "foreach": foreach, "differentiable": differentiable, "fused": fused,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict) -> None:
        for key in ("lr", "momentum", "weight_decay"):
            self._check(key, group[key])
        self._check("dampening", group["dampening"], low=float("-inf"))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: Nesterov momentum requires a momentum and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, param, grad, group: dict) -> None:
        weight = param.data
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * weight
        momentum = group["momentum"]
        if momentum == 0:
            weight -= group["lr"] * g
            return
        # the rest of the rule is one kernel on the GPU (backend.plain holds the reference)
        state = self.state.setdefault(param, {})
        state["momentum_buffer"] = kernels(weight).sgd_momentum_step(
            weight, g, state.get("momentum_buffer"), group["lr"], momentum,
            group["dampening"], group["nesterov"],
        )
