"""Sequential: modules applied in order; backward runs them in reverse."""

from __future__ import annotations

import numbers
from collections import OrderedDict
from collections.abc import Iterator

from minicnn.nn.module import Module


class Sequential(Module):
    """``Sequential(*modules)`` or ``Sequential(OrderedDict(name=module, ...))``."""

    def __init__(self, *modules) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            named = list(modules[0].items())
        else:
            named = [(str(i), module) for i, module in enumerate(modules)]
        for name, module in named:
            self._check_module(module)
            setattr(self, name, module)

    def _check_module(self, module) -> None:
        """A Module, and not one already in the stack: a module keeps the data of its last
        forward for its backward, so one instance at two positions would backpropagate the
        second use's data through the first."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: expected a Module, got {type(module).__name__}")
        for name, existing in self._modules.items():
            if existing is module:
                raise ValueError(
                    f"Sequential: {module!r} at position {len(self)} is the instance already at "
                    f"position {name}; give each position its own instance "
                    f"(e.g. a new {type(module).__name__}(...))"
                )

    def append(self, module: Module) -> Sequential:
        self._check_module(module)
        setattr(self, str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(
                f"Sequential: index must be an int or a slice, got {type(index).__name__}"
            )
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential: index {index} is out of range for {len(items)} modules")
        return items[index][1]

    def forward(self, x):
        for module in self:
            x = module(x)
        return x

    def backward(self, grad_output):
        """Chain rule through the stack: each module's input gradient is the previous one's
        output gradient."""
        for module in reversed(list(self)):
            grad_output = module.backward(grad_output)
        return grad_output
