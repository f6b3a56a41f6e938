"""Checkpoints: models, weights and optimizer states in one ``.npz`` file, without pickle.

A file is a NumPy ``.npz`` archive, read back with ``allow_pickle=False`` (loading runs no code):

- ``__minicnn__``: a 0-d unicode array holding a JSON header: the format marker and version,
  the kind ('model' or 'weights'), and for a model its architecture, the epoch and the
  optimizer's state_dict;
- ``weights/<key>``: the model's state_dict under PyTorch's keys (``weights/0.weight``);
- ``arrays/<n>``: the other arrays the header refers to (optimizer moments, loss weights).

The header's JSON keeps Python's types exactly: a tuple is ``{"tuple": [...]}``, a dict is
``{"dict": [[key, value], ...]}`` (so int keys stay ints), an array is ``{"array": "arrays/3"}``.
An architecture node is ``{"class", "training", "args"}`` for a layer, or ``{"class":
"Sequential", "training", "children": [[name, node], ...]}``. Only minicnn.nn's public classes
may be named; a layer's constructor arguments are read back from the attributes it keeps under
the arguments' names, as PyTorch's layers do.

A file is written to a temporary file in the destination folder (the folder is created when
missing), flushed and fsync'ed, then renamed onto ``path``: a crash mid-write leaves the
previous file intact.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import numbers
import os
import zipfile
from collections import OrderedDict

import numpy as np

from minicnn import nn
from minicnn import random as mc_random
from minicnn.atomic_write import atomic_write
from minicnn.backend import to_device
from minicnn.nn._checks import is_array
from minicnn.nn.module import IncompatibleKeys, Module
from minicnn.optim.optimizer import Optimizer

FORMAT, VERSION = "minicnn", 1
HEADER, WEIGHTS, ARRAYS = "__minicnn__", "weights/", "arrays/"

# The classes an architecture may name: minicnn.nn's public Module classes, nothing else.
LAYERS = {
    name: obj for name in nn.__all__
    if isinstance(obj := getattr(nn, name), type) and issubclass(obj, Module) and obj is not Module
}
# PyTorch's deprecated loss flags: the constructor folds them into ``reduction``.
_FOLDED_ARGUMENTS = ("size_average", "reduce")


# --- public functions ---------------------------------------------------------------------------


def save(
    model: Module, path: str | os.PathLike, *, optimizer: Optimizer | None = None,
    epoch: int | None = None,
) -> None:
    """Write ``model`` (architecture and weights), and optionally ``optimizer.state_dict()`` and
    ``epoch``, to the one file ``path`` (no extension added; missing folders are created). The
    model must be built from minicnn.nn layers and Sequential; ``save_weights`` takes any."""
    path = _as_path(path)
    _check_model(model, path)
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{path}: optimizer must be a minicnn optimizer, got {type(optimizer).__name__}"
        )
    if epoch is not None:
        if not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool):
            raise TypeError(f"{path}: epoch must be None or an int, got {epoch!r}")
        if epoch < 0:
            raise ValueError(f"{path}: epoch must be >= 0, got {epoch}")
    arrays: dict[str, np.ndarray] = {}
    header = {
        "format": FORMAT, "version": VERSION, "kind": "model",
        "architecture": _describe(model, arrays, path),
        "epoch": None if epoch is None else int(epoch),
        "optimizer": None if optimizer is None else _encode(optimizer.state_dict(), arrays, path),
        # a training checkpoint keeps minicnn's generator (Dropout masks, shuffles), so that
        # training resumed from it draws what an uninterrupted run would have drawn
        "rng_state": None if epoch is None else mc_random.get_state(),
    }
    _write(path, header, {**arrays, **_weight_entries(model)})


def load(path: str | os.PathLike) -> Module:
    """The model saved at ``path`` by ``save``, rebuilt on the CPU with its weights and dtype."""
    return load_checkpoint(path)["model"]


def load_checkpoint(path: str | os.PathLike) -> dict:
    """``{"model": Module, "optimizer": state_dict or None, "epoch": int or None, "rng_state":
    dict or None}`` from a file written by ``save``. To resume training exactly:
    ``optimizer.load_state_dict(ckpt["optimizer"])``, ``minicnn.random.set_state(
    ckpt["rng_state"])`` (saved with the epoch), then ``fit(..., initial_epoch=ckpt["epoch"])``."""
    path = _as_path(path)
    header, arrays = _read(path)
    if header["kind"] != "model":
        raise ValueError(
            f"{path}: holds weights only (written by save_weights), not a model; load them into "
            f"a model built in code with load_weights(model, path)"
        )
    state = mc_random.get_state()  # building draws initial weights: keep the seeded stream
    try:
        model = _build(header.get("architecture"), arrays, path)
    finally:
        mc_random.set_state(state)
    try:
        model.load_state_dict(_weights(arrays))
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{path}: the weights do not fit the architecture: {error}") from error
    optimizer = _decode(header.get("optimizer"), arrays, path)
    if optimizer is not None and (
        not isinstance(optimizer, dict) or set(optimizer) != {"state", "param_groups"}
    ):
        raise ValueError(f"{path}: corrupt optimizer state (not an optimizer's state_dict)")
    epoch = header.get("epoch")
    if epoch is not None and (not isinstance(epoch, int) or isinstance(epoch, bool)):
        raise ValueError(f"{path}: corrupt epoch {epoch!r} (expected an int or null)")
    rng_state = header.get("rng_state")
    if rng_state is not None and (
        not isinstance(rng_state, dict) or rng_state.get("bit_generator") != "PCG64"
    ):
        raise ValueError(f"{path}: corrupt rng_state (not a PCG64 generator state)")
    return {"model": model, "optimizer": optimizer, "epoch": epoch, "rng_state": rng_state}


def save_weights(model: Module, path: str | os.PathLike) -> None:
    """Write ``model.state_dict()`` alone to ``path``; any Module, user-defined ones included."""
    path = _as_path(path)
    _require_module(model, path)
    header = {"format": FORMAT, "version": VERSION, "kind": "weights"}
    _write(path, header, _weight_entries(model))


def load_weights(model: Module, path: str | os.PathLike, strict: bool = True) -> IncompatibleKeys:
    """Load the weights in ``path`` (written by ``save_weights`` or ``save``) into ``model`` with
    ``model.load_state_dict(weights, strict)`` and return its result; its errors name the file."""
    path = _as_path(path)
    _require_module(model, path)
    _, arrays = _read(path)
    try:
        return model.load_state_dict(_weights(arrays), strict=strict)
    except (RuntimeError, TypeError) as error:
        raise type(error)(f"{path}: {error}") from error


# --- architecture -------------------------------------------------------------------------------


def _require_module(model, path: str) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{path}: expected a minicnn Module, got {type(model).__name__}")


def _check_model(module: Module, path: str) -> None:
    """Only minicnn.nn's own classes (not subclasses of them) can be rebuilt from a file."""
    _require_module(module, path)
    cls = type(module)
    if LAYERS.get(cls.__name__) is not cls:
        raise TypeError(
            f"{path}: cannot save the architecture of {cls.__module__}.{cls.__qualname__}: only "
            f"minicnn.nn layers in (nested) Sequentials can be rebuilt from a file; save the "
            f"weights with save_weights(model, path) and rebuild the model in code"
        )


def _describe(module: Module, arrays: dict, path: str) -> dict:
    """The JSON node of ``module``: its class and constructor arguments, or its children."""
    _check_model(module, path)
    node = {"class": type(module).__name__, "training": module.training}
    if isinstance(module, nn.Sequential):
        node["children"] = [
            [name, _describe(child, arrays, path)] for name, child in module.named_children()
        ]
    else:
        node["args"] = {
            name: _encode(value, arrays, path) for name, value in _arguments(module, path).items()
        }
    return node


def _arguments(module: Module, path: str) -> dict:
    """The constructor arguments of a layer, read from the attributes it keeps under the
    arguments' names. A Parameter argument (``bias``) becomes its flag, ``dtype`` the parameters'
    dtype; ``device`` is left out (files load on the CPU)."""
    args = {}
    signature = inspect.signature(type(module).__init__)
    for name, parameter in list(signature.parameters.items())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name == "device" or name in _FOLDED_ARGUMENTS:
            continue
        if name == "dtype":
            first = next(module.parameters(), None)
            if first is not None:
                args[name] = first.dtype.name
        elif name in module._parameters:
            args[name] = module._parameters[name] is not None
        elif name in vars(module):
            args[name] = vars(module)[name]
        else:
            raise TypeError(
                f"{path}: cannot save {type(module).__name__}: it keeps no attribute for its "
                f"constructor argument {name!r}"
            )
    return args


def _build(node, arrays: dict, path: str) -> Module:
    """The module a JSON node describes; only classes in LAYERS are ever called."""
    if not isinstance(node, dict) or not isinstance(node.get("class"), str):
        raise ValueError(f"{path}: corrupt architecture: expected a layer node, got {node!r:.80}")
    name = node["class"]
    cls = LAYERS.get(name)
    if cls is None:
        raise ValueError(
            f"{path}: the architecture names class {name!r}, which is not a minicnn.nn layer; "
            f"refusing to build it (allowed: {', '.join(sorted(LAYERS))})"
        )
    if cls is nn.Sequential:
        children = node.get("children")
        if not isinstance(children, list) or not all(
            isinstance(child, list) and len(child) == 2 and isinstance(child[0], str)
            for child in children
        ):
            raise ValueError(f"{path}: corrupt architecture: bad children list in Sequential")
        module = nn.Sequential(
            OrderedDict((child, _build(grandchild, arrays, path)) for child, grandchild in children)
        )
    else:
        args = node.get("args")
        if not isinstance(args, dict):
            raise ValueError(f"{path}: corrupt architecture: no argument dict for {name}")
        args = {key: _decode(value, arrays, path) for key, value in args.items()}
        try:
            module = cls(**args)
        except (TypeError, ValueError, MemoryError) as error:
            raise ValueError(f"{path}: cannot rebuild {name} from {args!r}: {error}") from error
    if not isinstance(node.get("training"), bool):
        raise ValueError(f"{path}: corrupt architecture: no training flag for {name}")
    module.training = node["training"]
    return module


# --- values in JSON -----------------------------------------------------------------------------


def _encode(value, arrays: dict, path: str):
    """``value`` as JSON that ``_decode`` turns back into an equal value of the same type;
    arrays are put into ``arrays`` (on the CPU) and referred to by name."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_encode(item, arrays, path) for item in value]
        return {"tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {"dict": [[_encode(k, arrays, path), _encode(v, arrays, path)]
                         for k, v in value.items()]}
    if is_array(value):
        name = f"{ARRAYS}{len(arrays)}"
        arrays[name] = to_device(value, "cpu")
        return {"array": name}
    raise TypeError(f"{path}: cannot store a value of type {type(value).__name__}: {value!r:.80}")


def _decode(value, arrays: dict, path: str):
    """The Python value ``_encode`` wrote as ``value``."""
    if isinstance(value, list):
        return [_decode(item, arrays, path) for item in value]
    if not isinstance(value, dict):
        return value
    tag, inner = next(iter(value.items())) if len(value) == 1 else (None, None)
    if tag == "tuple" and isinstance(inner, list):
        return tuple(_decode(item, arrays, path) for item in inner)
    if tag == "array" and isinstance(inner, str) and inner.startswith(ARRAYS) and inner in arrays:
        return arrays[inner]
    if tag == "dict" and isinstance(inner, list) and all(
        isinstance(pair, list) and len(pair) == 2 for pair in inner
    ):
        pairs = [(_decode(k, arrays, path), _decode(v, arrays, path)) for k, v in inner]
        with contextlib.suppress(TypeError):  # an unhashable key
            return dict(pairs)
    raise ValueError(f"{path}: corrupt header: cannot read the value {value!r:.80}")


# --- files --------------------------------------------------------------------------------------


def _as_path(path) -> str:
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
        raise TypeError(f"expected a file path (str or pathlib.Path), got {path!r}")
    return os.fspath(path)


def _weight_entries(model: Module) -> dict:
    """The state_dict as archive entries, on the CPU."""
    return {WEIGHTS + key: to_device(value, "cpu") for key, value in model.state_dict().items()}


def _weights(arrays: dict) -> OrderedDict:
    """The state_dict stored in an archive's entries."""
    return OrderedDict(
        (name[len(WEIGHTS):], value) for name, value in arrays.items() if name.startswith(WEIGHTS)
    )


def _write(path: str, header: dict, arrays: dict) -> None:
    """Write the archive through ``atomic_write``: readers, and a crash, see the old file or
    the new one, never half of one."""
    entries = {HEADER: np.array(json.dumps(header)), **arrays}
    for name, value in entries.items():
        if np.asarray(value).dtype.kind == "O":  # would be pickled: refuse before writing
            raise TypeError(f"{path}: entry {name!r} is an object array, which cannot be saved")
    with atomic_write(path, "model.npz") as file:
        np.savez(file, **entries)  # every entry is a plain array: nothing is pickled


def _read(path: str) -> tuple[dict, dict]:
    """The checked header and every array of a minicnn file; errors name the file and what is
    wrong with it. Nothing is unpickled: object arrays are refused by ``allow_pickle=False``."""
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path}: not a minicnn checkpoint: cannot read it as an .npz archive "
            f"(truncated, corrupt, or another format): {error}"
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not a minicnn checkpoint: it holds one .npy array, not an .npz")
    with archive:
        if HEADER not in archive.files:
            raise ValueError(
                f"{path}: not a minicnn checkpoint: no {HEADER!r} entry (its entries: "
                f"{', '.join(archive.files[:10]) or 'none'})"
            )
        try:
            arrays = {name: archive[name] for name in archive.files}
            text = arrays.pop(HEADER)
            is_text = text.dtype.kind == "U" and text.ndim == 0
            header = json.loads(str(text[()])) if is_text else None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, RecursionError) as error:
            raise ValueError(f"{path}: truncated or corrupt checkpoint: {error}") from error
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a minicnn checkpoint: its {HEADER!r} entry is not a header")
    version = header.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ValueError(
            f"{path}: checkpoint format version {version!r} is not one this minicnn reads "
            f"(1 to {VERSION}); it may come from a newer minicnn"
        )
    if header.get("kind") not in ("model", "weights"):
        raise ValueError(f"{path}: corrupt header: unknown kind {header.get('kind')!r}")
    return header, arrays
