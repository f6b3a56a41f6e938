"""Two ranks with half a global batch each train exactly as one process with the whole batch:
the same parameters after 20 SGD-momentum and 20 Adam steps (float64 within 1e-12 relative,
float32 within 1e-5), and the two ranks' parameters bit for bit equal."""

from __future__ import annotations

import numpy as np
import pytest
from mpi_launch import check_success, launch
from rank_equivalence import CONFIGS, train

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict[str, np.ndarray]]:
    output = tmp_path_factory.mktemp("equivalence")
    check_success(launch("rank_equivalence.py", output))
    results = [dict(np.load(output / f"rank{rank}.npz")) for rank in range(2)]
    assert [int(result.pop("world_size")) for result in results] == [2, 2]
    return results


@pytest.mark.parametrize(("dtype", "name"), CONFIGS)
def test_two_ranks_match_one_process_with_the_global_batch(ranks, dtype, name):
    single = train(dtype, name)  # this test's own process: a world of one, the whole batch
    for key, expected in single.items():
        first, second = (rank[f"{dtype}/{name}/{key}"] for rank in ranks)
        assert first.dtype == expected.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(first, second, err_msg=f"ranks differ on {key}")
        tolerance = TOLERANCE[dtype]
        np.testing.assert_allclose(
            first, expected, rtol=tolerance, atol=tolerance * np.abs(expected).max(),
            err_msg=f"{dtype} {name}: {key} after 20 steps on 2 ranks vs 1",
        )


def test_training_moved_the_parameters(ranks):
    """The comparison means something: 20 steps changed every parameter."""
    import minicnn as mc
    from minicnn import nn

    mc.manual_seed(0)
    start = nn.Sequential(nn.Conv2d(1, 4, 3, dtype="float64"), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 3, dtype="float64")).state_dict()
    for key, initial in start.items():
        assert np.abs(ranks[0][f"float64/sgd/{key}"] - initial).max() > 1e-3
