"""Optimizer: the base of every optimizer, with PyTorch's param groups, state and state_dict.

An optimizer holds ``param_groups``, a list of dicts, each with its ``params`` (a list of
Parameters) and its own hyper-parameters (the constructor's values unless the group sets its
own), and ``state``, a dict from each Parameter to what the update rule keeps between steps
(momentum buffers, running averages, the step count). ``step()`` updates every Parameter that has
a gradient, in place, through the subclass's ``_update``.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Iterable

import numpy as np

from minicnn.backend import array_module, device_of, to_device
from minicnn.nn.parameter import Parameter

# Flags that choose one of PyTorch's implementations; accepted and stored, they change nothing.
IMPLEMENTATION_FLAGS = ("foreach", "fused", "capturable", "differentiable")


def lerp_(start, end, weight: float) -> None:
    """start <- start + weight * (end - start), in place, evaluated as PyTorch's lerp does:
    from ``end`` when weight >= 0.5, which is more accurate there."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``. ``params`` is an iterable of Parameters or
    of dicts (param groups) with a ``params`` entry and any hyper-parameter to override."""

    _UNORDERED = (
        "{name}: parameters must be in an ordered collection (a list), not a set, so that their "
        "order (and the state_dict's indices) is the same in every run"
    )

    def __init__(self, params: Iterable, defaults: dict) -> None:
        name = type(self).__name__
        self._validate(defaults)
        self.defaults = dict(defaults)
        self.state: dict[Parameter, dict] = {}
        self.param_groups: list[dict] = []
        if isinstance(params, (Parameter, dict)) or hasattr(params, "shape"):
            raise TypeError(
                f"{name}: params must be an iterable of Parameters or of dicts (e.g. "
                f"model.parameters()), got {type(params).__name__}"
            )
        if isinstance(params, set):
            raise TypeError(self._UNORDERED.format(name=name))
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _validate(self, group: dict) -> None:
        """Check a group's hyper-parameters (a subclass's rules); raise ValueError naming them."""

    def _check(self, key: str, value, low: float = 0.0, high: float | None = None) -> None:
        """A hyper-parameter must be a real number in [low, high) ([low, inf) without high)."""
        name = type(self).__name__
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"{name}: {key} must be a number, got {value!r}")
        if not (value >= low and (high is None or value < high)):  # NaN fails too
            expected = f">= {low}" if high is None else f"in [{low}, {high})"
            raise ValueError(f"{name}: invalid {key} value {value}; expected {expected}")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of Parameters, with hyper-parameters that default to the constructor's."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got {type(param_group)}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a param group needs a 'params' entry")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(self._UNORDERED.format(name=name))
        params = [params] if isinstance(params, Parameter) else list(params)
        for param in params:
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"{name}: can only optimize Parameters, but one of the params is "
                    f"{type(param).__name__}"
                )
        if len({id(param) for param in params}) != len(params):
            raise ValueError(f"{name}: a parameter group holds the same Parameter twice")
        taken = {id(param) for group in self.param_groups for param in group["params"]}
        if any(id(param) in taken for param in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group = {**param_group, "params": params}
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._validate(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (the default), or fill them with zeros."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    if set_to_none:
                        param.grad = None
                    else:
                        param.grad[...] = 0

    def step(self, closure: Callable | None = None):
        """Update every Parameter with a gradient, in place; Parameters whose grad is None are
        skipped. ``closure`` (optional) recomputes the loss and is called first; its value is
        returned."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if grad.shape != param.data.shape or grad.dtype != param.data.dtype:
                    raise TypeError(
                        f"{type(self).__name__}: a gradient of shape {tuple(grad.shape)} and "
                        f"dtype {grad.dtype} for a parameter of shape {tuple(param.shape)} and "
                        f"dtype {param.dtype}"
                    )
                if type(grad) is not type(param.data) and device_of(grad) != device_of(param.data):
                    raise TypeError(
                        f"{type(self).__name__}: a gradient on device '{device_of(grad)}' for a "
                        f"parameter on '{device_of(param.data)}'"
                    )
                self._follow_device(param)
                self._update(param, grad, group)
        return loss

    def _follow_device(self, param: Parameter) -> None:
        """Move ``param``'s state (momentum buffers, running averages) to the parameter's
        device if the parameter has moved since (``model.to('cuda')`` after some steps)."""
        state = self.state.get(param)
        if not state:
            return
        array_type = type(param.data)  # numpy.ndarray or cupy.ndarray: cheaper than devices
        for key, value in state.items():
            movable = hasattr(value, "shape") and not isinstance(value, np.generic)
            if movable and type(value) is not array_type:
                state[key] = to_device(value, device_of(param.data))

    def _update(self, param: Parameter, grad, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update()")

    def _state(self, param: Parameter, **initial) -> dict:
        """The state of ``param``, created from ``initial`` (name -> value or factory) on the
        first step. Arrays are zeros like the parameter unless given."""
        state = self.state.get(param)
        if state is None:
            state = self.state[param] = {
                key: value(param.data) if callable(value) else value
                for key, value in initial.items()
            }
        return state

    # --- saving and loading -------------------------------------------------------------------

    def state_dict(self) -> dict:
        """``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index, ...]}]}``
        with PyTorch's layout: Parameters are numbered in the order of the groups. Values are
        copies, so that later steps do not change a saved state."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for param in group["params"]:
                index.setdefault(id(param), len(index))
            packed = {key: copy.copy(value) for key, value in group.items() if key != "params"}
            packed["params"] = [index[id(param)] for param in group["params"]]
            groups.append(packed)
        state = {
            index[id(param)]: {key: copy.copy(value) for key, value in values.items()}
            for param, values in self.state.items()
            if id(param) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()``: the groups' hyper-parameters and each Parameter's state,
        converted to the Parameter's dtype and device. Everything is checked before anything
        changes; a mismatch raises a ValueError that says what differs."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                f"{name}: expected a dict with 'state' and 'param_groups' (an optimizer's "
                f"state_dict()), got {type(state_dict).__name__}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: loaded state dict has {len(saved_groups)} parameter groups, the "
                f"optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        for number, (ours, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(ours["params"]):
                raise ValueError(
                    f"{name}: loaded parameter group {number} has {len(saved['params'])} "
                    f"parameters, the optimizer's has {len(ours['params'])}"
                )
            by_index.update(zip(saved["params"], ours["params"], strict=True))
        state = {}
        for key, values in state_dict["state"].items():
            if key not in by_index:
                raise ValueError(f"{name}: loaded state for parameter {key}, which no group has")
            param = by_index[key]
            state[param] = {
                entry: self._load_value(value, param, f"state[{key}][{entry!r}]")
                for entry, value in values.items()
            }
        new_groups = []
        for ours, saved in zip(self.param_groups, saved_groups, strict=True):
            group = {key: copy.copy(value) for key, value in saved.items() if key != "params"}
            group["params"] = ours["params"]
            self._validate(group)
            new_groups.append(group)
        self.state = state
        self.param_groups[:] = new_groups

    def _load_value(self, value, param: Parameter, where: str):
        """The step count as a float; any other array as a copy in the parameter's dtype and on
        its device, after checking that it has the parameter's shape; anything else as is."""
        if where.endswith("['step']"):
            return float(value)
        if not hasattr(value, "shape"):
            return copy.copy(value)
        if tuple(value.shape) != tuple(param.shape):
            raise ValueError(
                f"{type(self).__name__}: {where} has shape {tuple(value.shape)}, its parameter "
                f"has shape {tuple(param.shape)}"
            )
        moved = to_device(value, device_of(param.data))
        return array_module(moved).array(moved, dtype=param.dtype, copy=True)

    def __repr__(self) -> str:
        text = f"{type(self).__name__} ("
        for number, group in enumerate(self.param_groups):
            text += f"\nParameter Group {number}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"
