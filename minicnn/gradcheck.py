"""Finite-difference gradient checks for a module or a functional forward/backward pair."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from minicnn import random
from minicnn.nn.module import Module


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with finite differences."""


@dataclass
class GradcheckResult:
    """The outcome of a gradient check, truthy when it passed; ``str()`` is the report."""

    ok: bool
    worst_name: str
    worst_index: tuple
    analytic: float
    numeric: float
    checked: int

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"gradcheck {verdict}: {self.checked} gradient entries checked; worst is "
            f"{self.worst_name}{list(self.worst_index)}: analytic {self.analytic:.10g}, "
            f"numeric {self.numeric:.10g}, abs error {abs(self.analytic - self.numeric):.3g}"
        )


def _as_pair(target, inputs):
    """(forward(*arrays) -> output, backward(grad) -> grads of the arrays, the arrays) for a
    module (its parameters become arrays too) or a (forward, backward) functional pair."""
    if isinstance(target, Module):
        params = list(target.named_parameters())

        def forward(*arrays):
            out = target(*arrays[: len(inputs)])
            return out[0] if isinstance(out, tuple) else out

        def backward(grad):
            """The module's gradients alone; the parameters' accumulated grads are kept."""
            accumulated = [param.grad for _, param in params]
            for _, param in params:
                param.grad = None
            grad_inputs = target.backward(grad)
            grads = [param.grad for _, param in params]
            for (_, param), previous in zip(params, accumulated, strict=True):
                param.grad = previous
            return (grad_inputs, *grads)

        names = [f"input {i}" for i in range(len(inputs))] + [name for name, _ in params]
        return forward, backward, [*inputs, *(param.data for _, param in params)], names

    forward_fn, backward_fn = target
    state = {}

    def forward(*arrays):
        out, state["cache"] = forward_fn(*arrays)
        return out

    def backward(grad):
        grads = backward_fn(grad, state["cache"])
        return grads if isinstance(grads, tuple) else (grads,)

    return forward, backward, list(inputs), [f"input {i}" for i in range(len(inputs))]


def gradcheck(
    target: Module | tuple[Callable, Callable],
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> GradcheckResult:
    """Compare analytic gradients with central finite differences, in float64.

    ``target`` is a Module (its input and parameter gradients are checked) or a pair
    ``(forward, backward)`` with ``forward(*inputs) -> (out, cache)`` and
    ``backward(grad_out, cache) -> grad or tuple of grads``. The scalar differentiated is
    sum(out * R) for a fixed random R. Random draws inside forward (Dropout) repeat identically
    on every evaluation, and each evaluation gets fresh copies of the inputs (in-place layers
    may overwrite them). Every array must be float64; parameters are perturbed in place and
    restored. A gradient returned as None counts as zeros. Raises GradcheckError (or returns a
    falsy result) when some entry differs by more than atol + rtol * |numeric|.
    """
    inputs = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    forward, backward, arrays, names = _as_pair(target, inputs)
    for name, array in zip(names, arrays, strict=True):
        if not isinstance(array, np.ndarray) or array.dtype != np.float64:
            kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
            raise TypeError(
                f"gradcheck: {name} must be a float64 NumPy array for finite differences, "
                f"got {kind}"
            )
    rng_state = random.get_state()

    def evaluate():
        random.set_state(rng_state)
        return forward(*(array.copy() for array in arrays))

    # A stream of its own, so R never equals an input drawn with default_rng(seed).
    weights_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    weights = weights_rng.standard_normal(evaluate().shape)
    analytic = backward(weights.copy())
    if len(analytic) != len(arrays):
        raise ValueError(
            f"gradcheck: backward returned {len(analytic)} gradients for {len(arrays)} arrays"
        )
    worst = (-1.0, names[0], (), 0.0, 0.0)
    ok, checked = True, 0
    for name, array, grad in zip(names, arrays, analytic, strict=True):
        grad = np.zeros_like(array) if grad is None else grad
        if grad.shape != array.shape:
            raise ValueError(
                f"gradcheck: the gradient of {name} has shape {grad.shape}, expected {array.shape}"
            )
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + eps
            plus = float((evaluate() * weights).sum())
            array[index] = original - eps
            minus = float((evaluate() * weights).sum())
            array[index] = original
            numeric = (plus - minus) / (2 * eps)
            ratio = abs(grad[index] - numeric) / (atol + rtol * abs(numeric))
            ok &= bool(ratio <= 1)
            checked += 1
            if ratio > worst[0]:
                worst = (ratio, name, index, float(grad[index]), numeric)
    random.set_state(rng_state)
    evaluate()  # leave the caches of the unperturbed forward behind
    result = GradcheckResult(ok, worst[1], worst[2], worst[3], worst[4], checked)
    if not ok and raise_exception:
        raise GradcheckError(str(result))
    return result


__all__ = ["GradcheckError", "GradcheckResult", "gradcheck"]
