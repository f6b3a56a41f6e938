"""Chunks of a batch whose scratch arrays fit in a memory budget, sharing one workspace."""

from __future__ import annotations

from collections.abc import Iterator

from minicnn.backend import array_module


def batch_chunks(x, entries_per_image: int, budget: int) -> Iterator[tuple[slice, object]]:
    """Yield (images, space) for consecutive chunks of x's batch: ``images`` a slice of it,
    ``space`` the first images * ``entries_per_image`` entries of one workspace (x's dtype)
    that every chunk reuses. A chunk holds as many images as fit in ``budget`` bytes, at least
    one."""
    n = x.shape[0]
    chunk = max(1, min(n, budget // (entries_per_image * x.itemsize)))
    workspace = array_module(x).empty(chunk * entries_per_image, dtype=x.dtype)
    for start in range(0, n, chunk):
        images = slice(start, min(n, start + chunk))
        yield images, workspace[: (images.stop - start) * entries_per_image]
