"""Pictures of training and of what a network sees: curves, feature maps, filters, images.

``plot_history`` draws a History's curves, ``plot_feature_maps`` one layer's output for a
sample (``feature_maps`` returns the same maps as a NumPy array, without matplotlib),
``plot_filters`` a Conv2d's weights and ``plot_images`` a grid of images. Each plot function
saves the figure to ``path`` (the format from its suffix, PNG without one), creating missing
folders, and returns the path as a ``pathlib.Path``.

matplotlib is optional (``pip install minicnn[plot]``) and imported by the plot functions only:
``import minicnn.viz`` does not import it. The figures are ``matplotlib.figure.Figure`` objects
saved straight to a file, never through pyplot, so they need no display and work under any
backend. CuPy arrays are copied to the host first.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from minicnn.atomic_write import atomic_write
from minicnn.backend import device_of, to_device
from minicnn.nn._checks import positive_int
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.module import Module

__all__ = ["feature_maps", "plot_feature_maps", "plot_filters", "plot_history", "plot_images"]

LR_KEYS = ("lr", "learning_rate")  # drawn alone, on a log scale


# --- the arrays: no matplotlib ----------------------------------------------------------------


def feature_maps(model: Sequential, x, layer: int | str | Module) -> np.ndarray:
    """The output of ``model``'s layer ``layer`` for the one sample ``x``, as a NumPy array.

    Args:
        model: an ``nn.Sequential``; it runs in eval mode (Dropout off) up to ``layer``, and
            every module's train/eval mode and saved backward data are restored afterwards.
        x: one sample, shape (C, H, W) or (1, C, H, W) (any shape the first layer takes per
            sample, with or without a batch axis of 1); NumPy or CuPy. It is moved to the
            model's device and cast to its parameters' dtype.
        layer: the child's index (negative counts from the end), its name ('0', 'conv1', ...)
            or the child module itself.

    Returns:
        (channels, H', W') for a spatial layer (Conv2d, ReLU, MaxPool2d, ...), (features,) for a
        layer with a 1-D output per sample (Flatten, Linear).
    """
    if not isinstance(model, Sequential):
        raise TypeError(
            f"feature_maps: model must be an nn.Sequential, got {type(model).__name__}; "
            "wrap the layers in nn.Sequential(...)"
        )
    index, _ = _resolve_layer(model, layer, "feature_maps")
    batch = _one_sample(x, "feature_maps")
    param = next(iter(model.parameters()), None)
    if param is not None:
        batch = to_device(batch, device_of(param.data)).astype(param.dtype, copy=False)
    elif batch.dtype.kind != "f":
        batch = batch.astype(np.float32)

    saved = [(m, m.training, m._cache, m._out_meta) for m in model.modules()]
    try:
        model.eval()
        out = batch
        for module in list(model.children())[: index + 1]:
            out = module(out)
    finally:
        for module, training, cache, out_meta in saved:
            module.training, module._cache, module._out_meta = training, cache, out_meta
    return np.array(_host(out)[0], copy=True)


def _resolve_layer(model: Sequential, layer, caller: str) -> tuple[int, str]:
    """(index, name) of ``layer`` (an int index, a child's name or a child) in ``model``."""
    named = list(model.named_children())
    names = [name for name, _ in named]
    valid = f"indices 0..{len(named) - 1} (or -{len(named)}..-1), names {names}"
    if isinstance(layer, Module):
        for index, (name, child) in enumerate(named):
            if child is layer:
                return index, name
        raise ValueError(
            f"{caller}: {layer!r} is not a child of the model; pass one of its layers: {valid}"
        )
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"{caller}: the model has no layer named {layer!r}; valid: {valid}")
        return names.index(layer), layer
    if isinstance(layer, numbers.Integral) and not isinstance(layer, bool):
        if not -len(named) <= layer < len(named):
            raise IndexError(
                f"{caller}: layer {layer} is out of range for {len(named)} layers; valid: {valid}"
            )
        index = int(layer) % len(named)
        return index, names[index]
    raise TypeError(
        f"{caller}: layer must be an int index, a layer name or a child module, "
        f"got {type(layer).__name__}"
    )


def _one_sample(x, caller: str):
    """``x`` as a batch of one: (1, ...) from one sample or from a batch of one."""
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{caller}: expected one sample such as (C, H, W), got a scalar")
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(
                f"{caller}: expected one sample (C, H, W) or (1, C, H, W), got a batch of "
                f"{x.shape[0]} samples with shape {tuple(x.shape)}; pass x[i] for sample i"
            )
        return x
    return x[None]


def _host(x) -> np.ndarray:
    """``x`` as a NumPy array (CuPy arrays are copied to the host)."""
    return np.asarray(to_device(x, "cpu"))


# --- matplotlib -------------------------------------------------------------------------------


def _figure(width: float, height: float):
    """A new Figure (no pyplot, no display), or an ImportError that says what to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "minicnn.viz needs matplotlib to draw: install it with `pip install minicnn[plot]` "
            "(or `pip install matplotlib`)"
        ) from error
    return Figure(figsize=(width, height), layout="constrained")


def _grid(count: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) of a near-square grid holding ``count`` panels."""
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    columns = min(columns, count)
    return math.ceil(count / columns), columns


def _image_axes(fig, count: int, panel: float = 1.6) -> list:
    """``count`` axes without ticks, in a grid; the figure is resized to fit them."""
    rows, columns = _grid(count)
    fig.set_size_inches(max(panel * columns + 1.0, 3.5), max(panel * rows + 0.7, 2.0))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[count:]:
        ax.set_visible(False)
    return list(axes[:count])


def _show_image(ax, image: np.ndarray, **kwargs) -> None:
    """Draw (H, W) in gray (unless a cmap is given), or (3, H, W) in colour scaled to [0, 1]."""
    if image.ndim == 3:  # (3, H, W): RGB, scaled to the range imshow expects
        low, high = float(image.min()), float(image.max())
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        ax.imshow(np.moveaxis(image, 0, -1), interpolation="nearest")
        return
    kwargs.setdefault("cmap", "gray")
    ax.imshow(image, interpolation="nearest", **kwargs)


def _save(fig, path: str | os.PathLike) -> Path:
    """Save ``fig`` to ``path`` through ``atomic_write`` (a reader never sees half an image);
    the format comes from the suffix (PNG without one)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a Path, got {type(path).__name__}")
    path = Path(path)
    with atomic_write(path, "plot.png") as file:
        fig.savefig(file, format=path.suffix[1:].lower() or "png")
    return path


# --- the plots --------------------------------------------------------------------------------


def plot_history(history, path: str | os.PathLike, keys: Iterable[str] | None = None) -> Path:
    """Training curves, one panel per metric: 'loss' with 'val_loss', 'accuracy' with
    'val_accuracy', ...; 'lr' alone on a log scale. Epochs on the x axis, from 1.

    Args:
        history: a ``minicnn.History`` (what ``Trainer.fit`` returns) or a dict of
            key -> list of per-epoch values.
        path: the image file to write (.png, .pdf, .svg, ...).
        keys: the metrics to draw (e.g. ['loss']); a key brings its 'val_' twin along.
            Default: all of them.

    Returns:
        ``path`` as a Path.
    """
    record = getattr(history, "history", history)
    if not isinstance(record, dict):
        raise TypeError(
            f"plot_history: expected a minicnn History or a dict of per-epoch lists, "
            f"got {type(history).__name__}"
        )
    record = {key: list(values) for key, values in record.items() if len(values)}
    if not record:
        raise ValueError("plot_history: the history is empty (no epoch was recorded)")
    families: dict[str, list[str]] = {}
    for key in record:
        families.setdefault(key.removeprefix("val_"), []).append(key)
    if keys is not None:
        requested = [keys] if isinstance(keys, str) else list(keys)
        if not requested:
            raise ValueError(f"plot_history: keys is empty; available keys: {sorted(record)}")
        missing = [key for key in requested if key not in record and key not in families]
        if missing:
            raise ValueError(
                f"plot_history: no key {', '.join(map(repr, missing))} in the history; "
                f"available keys: {sorted(record)}"
            )
        chosen = {key.removeprefix("val_") if key in record else key for key in requested}
        families = {name: members for name, members in families.items() if name in chosen}

    fig = _figure(1, 1)
    rows, columns = _grid(len(families), columns=3)
    fig.set_size_inches(4.5 * columns, 3.4 * rows)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[len(families):]:
        ax.set_visible(False)
    from matplotlib.ticker import MaxNLocator

    for ax, (name, members) in zip(axes, families.items(), strict=False):
        positive = True
        for key in sorted(members, key=lambda k: k.startswith("val_")):
            values = np.array(
                [np.nan if v is None else float(_host(v)) for v in record[key]], dtype=np.float64
            )
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, marker="o" if len(values) < 30 else None, markersize=3,
                    label="validation" if key.startswith("val_") else "training")
            positive = positive and bool(np.all(values[np.isfinite(values)] > 0))
        if name in LR_KEYS and positive:
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if len(members) > 1:
            ax.legend()
    return _save(fig, path)


def plot_feature_maps(
    model: Sequential, x, layer: int | str | Module, path: str | os.PathLike, max_maps: int = 16
) -> Path:
    """The input sample, then ``layer``'s output for it: one image per channel, titled with
    the channel number (the first ``max_maps`` channels); a 1-D output (Linear) as bars.

    Args:
        model, x, layer: as for ``feature_maps``.
        path: the image file to write.
        max_maps: how many channels to show at most.

    Returns:
        ``path`` as a Path.
    """
    max_maps = positive_int(max_maps, "max_maps", "plot_feature_maps")
    maps = feature_maps(model, x, layer)
    index, name = _resolve_layer(model, layer, "plot_feature_maps")
    kind = type(list(model.children())[index]).__name__
    sample = _host(_one_sample(x, "plot_feature_maps"))[0].astype(np.float64)

    fig = _figure(6, 3)
    if maps.ndim == 1:  # one value per feature: bars beside the input
        fig.set_size_inches(9, 3.2)
        image_ax, bar_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.5]})
        image_ax.set_xticks([])
        image_ax.set_yticks([])
        _draw_input(image_ax, sample)
        bar_ax.bar(np.arange(len(maps)), maps, width=1.0 if len(maps) > 50 else 0.8)
        bar_ax.set_xlabel("feature")
        bar_ax.set_title(f"{len(maps)} features")
        fig.suptitle(f"layer {name} ({kind})")
        return _save(fig, path)

    if maps.ndim == 2:  # one map per sample, e.g. a layer that kept (N, H, W)
        maps = maps[None]
    elif maps.ndim != 3:
        raise ValueError(
            f"plot_feature_maps: layer {name} ({kind}) gives {maps.shape} per sample; "
            "expected (channels, H, W) or (features,)"
        )
    shown = min(len(maps), max_maps)
    axes = _image_axes(fig, shown + 1)
    _draw_input(axes[0], sample)
    for channel, ax in enumerate(axes[1:]):
        _show_image(ax, maps[channel], cmap="viridis")
        ax.set_title(str(channel), fontsize=9)
    of = f", the first {shown}" if shown < len(maps) else ""
    fig.suptitle(f"layer {name} ({kind}): {len(maps)} maps of "
                 f"{maps.shape[1]}x{maps.shape[2]}{of}")
    return _save(fig, path)


def _draw_input(ax, sample: np.ndarray) -> None:
    """The input sample: gray for one channel, colour for three, else its channel 0."""
    if sample.ndim == 3 and sample.shape[0] == 3:
        _show_image(ax, sample)
        ax.set_title("input", fontsize=9)
    elif sample.ndim == 3:
        _show_image(ax, sample[0])
        ax.set_title("input" if len(sample) == 1 else "input (ch 0)", fontsize=9)
    elif sample.ndim == 2:
        _show_image(ax, sample)
        ax.set_title("input", fontsize=9)
    else:  # a vector: one row
        _show_image(ax, sample.reshape(1, -1), aspect="auto")
        ax.set_title("input", fontsize=9)


def plot_filters(conv: Conv2d, path: str | os.PathLike, max_filters: int = 64) -> Path:
    """A Conv2d's weights, one kh x kw image per output channel (the first ``max_filters``):
    the weights themselves for one input channel, their mean over the input channels otherwise
    (the title says which). One colour scale for the figure, symmetric around 0: red positive,
    blue negative, white 0.

    Args:
        conv: an ``nn.Conv2d``.
        path: the image file to write.
        max_filters: how many output channels to show at most.

    Returns:
        ``path`` as a Path.
    """
    if not isinstance(conv, Conv2d):
        raise TypeError(
            f"plot_filters: expected an nn.Conv2d, got {type(conv).__name__}; "
            "pass a convolution layer, e.g. model[0]"
        )
    max_filters = positive_int(max_filters, "max_filters", "plot_filters")
    weight = _host(conv.weight.data).astype(np.float64)  # (out, in, kh, kw)
    out_channels, in_channels = weight.shape[:2]
    if in_channels == 1:
        images, shown_as = weight[:, 0], "input channel 0 (the only one)"
    else:
        images, shown_as = weight.mean(axis=1), f"mean over the {in_channels} input channels"
    images = images[:max_filters]
    limit = float(np.abs(images).max()) or 1.0

    fig = _figure(6, 6)
    axes = _image_axes(fig, len(images), panel=1.2)
    for index, (ax, image) in enumerate(zip(axes, images, strict=True)):
        drawn = ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(str(index), fontsize=8)
    fig.colorbar(drawn, ax=axes, shrink=0.8)
    if len(images) < out_channels:
        count = f"the first {len(images)} of {out_channels} filters"
    else:
        count = f"{out_channels} filter{'s' if out_channels > 1 else ''}"
    kh, kw = weight.shape[2:]
    fig.suptitle(f"Conv2d({in_channels}, {out_channels}, kernel_size=({kh}, {kw}))\n"
                 f"{count}: {shown_as}", fontsize=9)
    return _save(fig, path)


def plot_images(
    images, path: str | os.PathLike, labels: Sequence | None = None, max_images: int = 25
) -> Path:
    """A grid of images (the first ``max_images``), each titled with its label if given.

    Args:
        images: (N, H, W) or (N, 1, H, W) gray images, or (N, 3, H, W) colour ones.
        path: the image file to write.
        labels: N labels (class numbers or names) or None.
        max_images: how many images to show at most.

    Returns:
        ``path`` as a Path.
    """
    max_images = positive_int(max_images, "max_images", "plot_images")
    images = _host(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[1] == 3)) or not len(images):
        raise ValueError(
            f"plot_images: expected images of shape (N, H, W), (N, 1, H, W) or (N, 3, H, W) "
            f"with N >= 1, got {images.shape}"
        )
    if labels is not None:
        labels = list(_host(labels)) if hasattr(labels, "shape") else list(labels)
        if len(labels) != len(images):
            raise ValueError(
                f"plot_images: got {len(labels)} labels for {len(images)} images"
            )
    shown = images[:max_images].astype(np.float64)
    fig = _figure(6, 6)
    axes = _image_axes(fig, len(shown))
    for index, (ax, image) in enumerate(zip(axes, shown, strict=True)):
        _show_image(ax, image)
        if labels is not None:
            ax.set_title(str(labels[index]), fontsize=9)
    return _save(fig, path)
