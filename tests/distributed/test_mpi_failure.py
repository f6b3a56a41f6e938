"""A rank that raises ends the whole job within seconds, with its message, instead of leaving
the other ranks waiting in a collective."""

from __future__ import annotations

import time

import pytest
from mpi_launch import launch


@pytest.mark.parametrize("failing", [0, 1])
def test_an_exception_on_one_rank_aborts_the_job(tmp_path, failing):
    start = time.monotonic()
    result = launch("rank_failure.py", tmp_path, str(failing), timeout=30)
    elapsed = time.monotonic() - start
    assert result.returncode != 0, result.stdout
    assert elapsed < 10, f"the job took {elapsed:.1f} s to end:\n{result.stdout}"
    assert f"rank {failing}: ValueError: rank {failing} gave up on purpose" in result.stdout
    assert f"rank {failing}: Traceback (most recent call last):" in result.stdout
    assert "did not abort" not in result.stdout
