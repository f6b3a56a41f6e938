"""Which Parameters a collective covers: a model's, or a list of them, in a fixed order."""

from __future__ import annotations

from collections.abc import Iterable

from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter


def named_parameters(
    model_or_params: Module | Parameter | Iterable[Parameter], caller: str
) -> list[tuple[str, Parameter]]:
    """``(name, Parameter)`` pairs: a Module's dotted names ('0.weight'), or 'parameters[i]'
    for a list; a Parameter listed twice comes once. The order, the same on every rank that
    built the same model, is the order of the collective's buffers."""
    if isinstance(model_or_params, Module):
        return list(model_or_params.named_parameters())
    if isinstance(model_or_params, Parameter):
        model_or_params = [model_or_params]
    if isinstance(model_or_params, (set, frozenset)):
        raise TypeError(
            f"{caller}: parameters must be in an ordered collection (a list), not a set, so "
            "that every rank lists them in the same order"
        )
    try:
        params = list(model_or_params)
    except TypeError:
        raise TypeError(
            f"{caller}: expected a Module or an iterable of Parameters, got "
            f"{type(model_or_params).__name__}"
        ) from None
    named, seen = [], set()
    for index, param in enumerate(params):
        if not isinstance(param, Parameter):
            raise TypeError(
                f"{caller}: expected a Module or an iterable of Parameters, but item {index} is "
                f"{type(param).__name__}"
            )
        if id(param) not in seen:
            seen.add(id(param))
            named.append((f"parameters[{index}]", param))
    return named
