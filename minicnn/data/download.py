"""Fetch a file over the network, checked and written atomically."""

from __future__ import annotations

from pathlib import Path

from minicnn.atomic_write import atomic_write


def download_file(urls: list[str], path: Path, md5: str, timeout: float = 30.0) -> None:
    """Download the first of ``urls`` that works to ``path``, check its MD5 sum, and move it
    into place (a failed or interrupted download never leaves a partial file at ``path``)."""
    import hashlib  # here, not at the top, as they cost `import minicnn` 45 ms
    import urllib.request

    path.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                content = response.read()
        except OSError as error:  # URLError, HTTPError and timeouts are OSErrors
            failures.append(f"{url}: {error}")
            continue
        digest = hashlib.md5(content).hexdigest()
        if digest != md5:
            failures.append(f"{url}: MD5 {digest}, expected {md5}")
            continue
        with atomic_write(path, example="data/train-images-idx3-ubyte.gz") as file:
            file.write(content)
        return
    raise OSError(f"could not download {path.name}: " + "; ".join(failures))
