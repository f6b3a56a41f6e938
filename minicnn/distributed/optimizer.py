"""DistributedOptimizer: any minicnn optimizer, with the gradients averaged over the ranks
before each step (Horovod's ``hvd.DistributedOptimizer``)."""

from __future__ import annotations

from collections.abc import Callable

from minicnn.distributed.allreduce import allreduce_gradients
from minicnn.distributed.buckets import BUCKET_BYTES, check_bucket_bytes
from minicnn.optim.optimizer import Optimizer


def _wrapped(name: str) -> property:
    """An attribute read and written on the wrapped optimizer."""
    return property(
        lambda self: getattr(self.optimizer, name),
        lambda self, value: setattr(self.optimizer, name, value),
        doc=f"The wrapped optimizer's ``{name}``.",
    )


class DistributedOptimizer(Optimizer):
    """Wraps ``optimizer``: ``step()`` averages the gradients of its param groups over the ranks
    (``allreduce_gradients``, a few bucketed calls) and then takes the wrapped optimizer's step,
    so that every rank, holding the same parameters, makes the same update.

    ``param_groups``, ``state``, ``defaults``, ``zero_grad``, ``state_dict``,
    ``load_state_dict`` and ``add_param_group`` are the wrapped optimizer's, so learning-rate
    schedulers, the Trainer and checkpoints see it as that optimizer. It is an ``Optimizer``.
    """

    def __init__(self, optimizer: Optimizer, *, bucket_bytes: int = BUCKET_BYTES) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"DistributedOptimizer: expected a minicnn optimizer (e.g. optim.SGD(...)), got "
                f"{type(optimizer).__name__}"
            )
        if isinstance(optimizer, DistributedOptimizer):
            raise TypeError("DistributedOptimizer: the optimizer is a DistributedOptimizer already")
        self.__dict__["optimizer"] = optimizer  # before anything reads the properties below
        self.bucket_bytes = check_bucket_bytes(bucket_bytes, "DistributedOptimizer")

    param_groups = _wrapped("param_groups")
    state = _wrapped("state")
    defaults = _wrapped("defaults")

    def step(self, closure: Callable | None = None):
        """Call ``closure`` (if given: it recomputes the loss and the gradients), average the
        gradients over the ranks, then step the wrapped optimizer. Returns the closure's loss."""
        loss = closure() if closure is not None else None
        params = [param for group in self.param_groups for param in group["params"]]
        allreduce_gradients(params, bucket_bytes=self.bucket_bytes)
        self.optimizer.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.optimizer.load_state_dict(state_dict)

    def add_param_group(self, param_group: dict) -> None:
        self.optimizer.add_param_group(param_group)

    def __getattr__(self, name: str):
        """Anything else (a subclass's attributes) is the wrapped optimizer's."""
        optimizer = self.__dict__.get("optimizer")
        if optimizer is None:
            raise AttributeError(name)
        return getattr(optimizer, name)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"
