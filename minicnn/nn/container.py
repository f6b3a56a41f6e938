"""Sequential: modules applied in order; backward runs them in reverse."""

from __future__ import annotations

import numbers
import sys
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from minicnn.backend import array_module
from minicnn.nn.module import Module


def _shape(array) -> str:
    return str(tuple(array.shape)) if hasattr(array, "shape") else type(array).__name__


def _norm(array) -> str:
    """The L2 norm of a gradient, for the trace ('-' for None)."""
    if array is None:
        return "-"
    return f"{float(array_module(array).linalg.norm(array.ravel())):.3e}"


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
        self._trace_stream: TextIO | None = None

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

    @contextmanager
    def trace(self, stream: TextIO | None = None) -> Iterator[Sequential]:
        """Inside ``with model.trace():``, every forward prints each layer's input and output
        shapes, and every backward each layer's output and input gradient norms and its
        parameters' gradient norms (to ``stream``, default stdout): where shapes change, and
        where gradients vanish or explode."""
        previous, self._trace_stream = self._trace_stream, stream or sys.stdout
        try:
            yield self
        finally:
            self._trace_stream = previous

    def _log(self, line: str) -> None:
        print(line, file=self._trace_stream)

    def forward(self, x):
        for name, module in self._modules.items():
            y = module(x)
            if self._trace_stream is not None:
                self._log(f"forward  {name:>3} {type(module).__name__:<17} {_shape(x)} -> "
                          f"{_shape(y)}")
            x = y
        return x

    def backward(self, grad_output, input_grad: bool = True):
        """Chain rule through the stack: each module's input gradient is the previous one's
        output gradient. With ``input_grad=False`` (a training step: nothing needs d loss /
        d input) the backward stops at the first layer with parameters, which computes their
        gradients alone (``parameter_backward``), and None is returned, as PyTorch computes no
        gradient for an input that does not require one."""
        first = 0  # the earliest layer whose backward is needed
        if not input_grad:
            with_parameters = (i for i, module in enumerate(self)
                               if next(iter(module.parameters()), None) is not None)
            first = next(with_parameters, len(self))
        for index, (name, module) in reversed(list(enumerate(self._modules.items()))):
            if index < first:
                return None
            if index == first and not input_grad:
                module.parameter_backward(grad_output)
                grad_input = None
            else:
                grad_input = module.backward(grad_output)
            if self._trace_stream is not None:
                params = "".join(f", |d{key}| {_norm(param.grad)}"
                                 for key, param in module.named_parameters())
                self._log(f"backward {name:>3} {type(module).__name__:<17} |grad_out| "
                          f"{_norm(grad_output)} -> |grad_in| {_norm(grad_input)}{params}")
            grad_output = grad_input
        return None if not input_grad else grad_output

    def parameter_backward(self, grad_output) -> None:
        """A nested stack as a first layer: its own backward without d loss / d input."""
        self.backward(grad_output, input_grad=False)
