"""The package as a whole: what ``import minicnn`` loads."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_numba():
    """``import minicnn`` stays fast: Numba is imported on the first kernel call only."""
    code = "import sys, minicnn; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cuda_is_available_answers_without_a_gpu():
    code = (
        "import sys, minicnn; assert 'cupy' not in sys.modules; "
        "print(minicnn.cuda.is_available())"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True)
    assert result.stdout.strip() in ("True", "False")
