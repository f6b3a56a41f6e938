"""summary(model, input_shape): a Keras-like table of a model's layers, their output shapes and
parameter counts, found by running a forward pass on zeros."""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.backend import to_device
from minicnn.nn._checks import float_dtype
from minicnn.nn.container import Sequential
from minicnn.nn.module import Module

HEADINGS = ("Layer (type)", "Output Shape", "Param #")


def summary(model: Module, input_shape, dtype=None) -> str:
    """The table of ``model``'s layers: name (type), output shape, parameter count, then the
    total and trainable parameter counts and their size. Returned, not printed.

    ``input_shape`` is the shape of ONE sample, without the batch dim, as Keras's
    ``Input(shape=...)``: (1, 28, 28) for MNIST images. A leading None stands for the batch and
    may be given too: (None, 1, 28, 28) means the same. The forward runs on one zero sample and
    the table shows the batch dim as None. ``dtype``: the input's, by default the parameters'
    (float32 for a model without any).

    A Sequential gets one row per child (nested Sequentials are expanded, with dotted names);
    any other module one row. The model runs in eval mode (no Dropout draws) and is left as it
    was: the same modes, and what it kept for a pending backward.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a minicnn Module, got {type(model).__name__}")
    sample_shape = _sample_shape(input_shape)
    param_dtype, device = model._parameter_dtype_device()
    dtype = float_dtype(param_dtype if dtype is None else dtype, "summary")
    x = to_device(np.zeros((1, *sample_shape), dtype=dtype), device or "cpu")

    modules = list(model.modules())
    kept = [(module.training, module._cache, module._out_meta) for module in modules]
    model.eval()
    try:
        rows = _rows(model, x, "")[0]
    finally:
        for module, (training, cache, out_meta) in zip(modules, kept, strict=True):
            module.training, module._cache, module._out_meta = training, cache, out_meta

    params = list(model.parameters())  # a shared Parameter counts once
    total = sum(param.data.size for param in params)
    size = _readable_size(sum(param.data.nbytes for param in params))
    trainable = total  # minicnn trains every Parameter: none is frozen
    return _table(
        f"Model: {type(model).__name__}, input {_shape_text(x)} {dtype}",
        rows,
        [f"Total params: {total:,} ({size})", f"Trainable params: {trainable:,} ({size})"],
    )


def _sample_shape(input_shape) -> tuple[int, ...]:
    """One sample's shape from ``input_shape``, without a leading None (the batch)."""
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape and shape[0] is None:
        shape = shape[1:]
    if shape is None or not all(
        isinstance(size, numbers.Integral) and not isinstance(size, bool) and size > 0
        for size in shape
    ):
        raise TypeError(
            f"summary: input_shape must be a tuple of positive ints, one sample's shape without "
            f"the batch dim (e.g. (1, 28, 28)), got {input_shape!r}"
        )
    return tuple(int(size) for size in shape)


def _rows(module: Module, x, name: str) -> tuple[list[tuple[str, str, str]], object]:
    """The rows of ``module`` run on ``x``, and its output. A Sequential that keeps
    Sequential's forward runs child by child, which is the same computation."""
    if isinstance(module, Sequential) and type(module).forward is Sequential.forward:
        rows = []
        for child_name, child in module.named_children():
            child_rows, x = _rows(child, x, f"{name}.{child_name}" if name else child_name)
            rows += child_rows
        return rows, x
    out = module(x)
    label = f"{name} ({type(module).__name__})" if name else type(module).__name__
    count = sum(param.data.size for param in module.parameters())
    return [(label, _shape_text(out), f"{count:,}")], out


def _shape_text(out) -> str:
    """'(None, 6, 28, 28)': the batch dim (size 1 here) as None; tuples of outputs (MaxPool2d
    with return_indices) joined by commas."""
    if isinstance(out, tuple):
        return ", ".join(_shape_text(item) for item in out)
    shape = tuple(out.shape)
    shown = ("None", *map(str, shape[1:])) if shape[:1] == (1,) else tuple(map(str, shape))
    return f"({', '.join(shown)}{',' if len(shown) == 1 else ''})"


def _readable_size(nbytes: int) -> str:
    """Bytes in B, KB, MB or GB (1024-based, as Keras prints them)."""
    size = float(nbytes)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def _table(title: str, rows: list, totals: list[str]) -> str:
    """Keras's layout: a title, ruled headings, one line per row, ruled totals."""
    widths = [max(len(cells[i]) for cells in [HEADINGS, *rows]) + 4 for i in range(3)]

    def line(cells) -> str:
        return "".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    rule = sum(widths)
    return "\n".join(
        [title, "_" * rule, line(HEADINGS).rstrip(), "=" * rule]
        + [line(cells).rstrip() for cells in rows]
        + ["=" * rule, *totals, "_" * rule]
    )
