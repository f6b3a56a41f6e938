"""Module: the base of every layer. It owns Parameters and child Modules, in order.

A layer implements ``forward(x)``, which computes the output and keeps what backward needs
(``self._save_for_backward``), and ``backward(grad_output)``, which returns the gradient with
respect to the last forward's input and adds its parameters' gradients into ``Parameter.grad``.

A module keeps the data of its LAST forward for its backward, so an instance is used once per
forward pass: a network that applies the same kind of layer twice holds two instances
(Sequential refuses one instance at two positions). Shared parameters (weight tying) are fine.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import NamedTuple

import numpy as np

from minicnn.backend import array_module, device_of, to_device
from minicnn.nn._checks import is_array
from minicnn.nn.parameter import Parameter


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and containers, with PyTorch's names for its methods."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        self.training = True
        self._cache = None
        self._out_meta = None

    # --- registration -------------------------------------------------------------------------

    def __setattr__(self, name: str, value) -> None:
        params, modules = self.__dict__.get("_parameters"), self.__dict__.get("_modules")
        if params is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"call Module.__init__() before assigning {name!r}")
        if isinstance(value, Parameter) or (value is None and params and name in params):
            params[name] = value
            modules.pop(name, None)
        elif isinstance(value, Module):
            modules[name] = value
            params.pop(name, None)
        else:
            if params is not None:
                params.pop(name, None)
                modules.pop(name, None)
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str):
        for registry in ("_parameters", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                del entries[name]
                return
        object.__delattr__(self, name)

    # --- forward / backward -------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        # The last forward's cache goes first: a module never holds two batches' saved arrays
        # at once (LeNet-5's kept im2col columns, old and new, made its training step's peak).
        self._cache = None
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def parameter_backward(self, grad_output) -> None:
        """Accumulate the parameters' gradients alone, for a layer whose input needs none (the
        first layer of a model: ``Sequential.backward(..., input_grad=False)``). This default
        runs the full backward; Conv2d and Linear skip d loss / d input."""
        self.backward(grad_output)

    def _parameter_dtype_device(self) -> tuple:
        """The parameters' dtype and device, which inputs must match (None, None without any)."""
        param = next(iter(self.parameters()), None)
        return (None, None) if param is None else (param.dtype, device_of(param.data))

    def _save_for_backward(self, cache, out) -> None:
        """Keep ``cache`` for backward and the output's shape and dtype to check grad_output."""
        self._cache = cache
        self._out_meta = (tuple(out.shape), out.dtype)

    def _saved_for_backward(self, grad_output):
        """The forward's cache, after checking that ``grad_output`` matches the forward's output."""
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        shape, dtype = self._out_meta
        if not is_array(grad_output):
            raise TypeError(
                f"{self!r}: grad_output must be an array, got {type(grad_output).__name__}"
            )
        if tuple(grad_output.shape) != shape:
            raise ValueError(
                f"{self!r}: grad_output must have the output's shape {shape}, "
                f"got {tuple(grad_output.shape)}"
            )
        if grad_output.dtype != dtype:
            raise TypeError(
                f"{self!r}: grad_output must have the output's dtype {dtype}, "
                f"got {grad_output.dtype}"
            )
        return self._cache

    # --- traversal ----------------------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct children with their attribute names; a module registered twice comes once."""
        seen = set()
        for name, module in self._modules.items():
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, with dotted names; a shared module
        comes once under its first name unless ``remove_duplicate=False`` (PyTorch's rule)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(
                memo, f"{prefix}.{name}" if prefix else name, remove_duplicate
            )

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Parameters with PyTorch's dotted names; a shared one comes once under its first name
        unless ``remove_duplicate=False``."""
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse else [(prefix, self)]
        )
        seen = set()
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or (remove_duplicate and id(param) in seen):
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    # --- modes, gradients, devices ------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout active) or, with mode=False, evaluation mode."""
        if not isinstance(mode, bool):
            raise ValueError(
                f"{type(self).__name__}.train: training mode is expected to be boolean, "
                f"got {mode!r}"
            )
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget accumulated gradients (None, or zeros with set_to_none=False)."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad[...] = 0

    def to(self, device: str) -> Module:
        """Move every parameter (and gradient) to 'cpu' or 'cuda'; returns self."""
        for param in self.parameters():
            param.data = to_device(param.data, device)
            if param.grad is not None:
                param.grad = to_device(param.grad, device)
        for module in self.modules():
            module._cache = None
        return self

    # --- state --------------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict:
        """Copies of the parameters under PyTorch's keys ('0.weight', 'fc.bias', ...); a shared
        parameter or module appears under every name it has, as in PyTorch."""
        return OrderedDict(
            (name, array_module(param.data).array(param.data, copy=True))
            for name, param in self.named_parameters(remove_duplicate=False)
        )

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters of the same names (converted to each one's dtype).

        A shape mismatch always fails; a missing or unexpected key fails when ``strict``.
        Raises RuntimeError listing every problem, as PyTorch does (TypeError for a value
        that is not numeric); nothing is loaded then.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: expected a dict of arrays, "
                f"got {type(state_dict).__name__}"
            )
        params = dict(self.named_parameters(remove_duplicate=False))
        missing = [key for key in params if key not in state_dict]
        unexpected = [key for key in state_dict if key not in params]
        values = {}  # checked and converted before anything is copied
        for key, value in state_dict.items():
            if key not in params:
                continue
            value = value if is_array(value) else np.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(
                    f"{type(self).__name__}.load_state_dict: {key} must be a numeric array, "
                    f"got dtype {value.dtype}"
                )
            values[key] = value
        errors = [
            f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from "
            f"checkpoint, the shape in current model is {tuple(params[key].shape)}."
            for key, value in values.items()
            if tuple(value.shape) != tuple(params[key].shape)
        ]
        if strict and unexpected:
            keys = ", ".join(f'"{key}"' for key in unexpected)
            errors.insert(0, f"Unexpected key(s) in state_dict: {keys}.")
        if strict and missing:
            keys = ", ".join(f'"{key}"' for key in missing)
            errors.insert(0, f"Missing key(s) in state_dict: {keys}.")
        if errors:
            details = "\n\t".join(errors)
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t{details}"
            )
        for key, value in values.items():
            param = params[key]
            param.data[...] = to_device(value, device_of(param.data)).astype(param.data.dtype)
        return IncompatibleKeys(missing, unexpected)

    # --- printing -----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def summary(self, input_shape, dtype=None) -> str:
        """A Keras-like table of the layers, their output shapes and parameter counts, from a
        forward pass on zeros; ``input_shape`` is one sample's shape, without the batch dim.
        Returned, not printed (see ``minicnn.nn.summary.summary``)."""
        from minicnn.nn.summary import summary  # lazily: summary.py imports this module

        return summary(self, input_shape, dtype)

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in
                 self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        body = "".join(f"\n  {line}" for line in ([self.extra_repr()] if self.extra_repr() else [])
                       + lines)
        return f"{type(self).__name__}({body}\n)"
