"""Without mpiexec: a world of one, where every collective is the identity and mpi4py is never
imported (``import minicnn`` does not import it either)."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import minicnn as mc
from minicnn import distributed, nn, optim
from minicnn.distributed.world import LAUNCHER_VARIABLES


def run_python(code: str, **variables: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh Python, outside any MPI launcher (plus ``variables``)."""
    env = {key: value for key, value in os.environ.items() if key not in LAUNCHER_VARIABLES}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, **variables}, timeout=120)


def test_a_world_of_one_never_imports_mpi4py():
    code = (
        "import sys, numpy as np, minicnn\n"
        "assert 'mpi4py' not in sys.modules, 'import minicnn imported mpi4py'\n"
        "from minicnn import distributed\n"
        "from minicnn.data import DataLoader, TensorDataset\n"
        "assert 'mpi4py' not in sys.modules and not distributed.is_initialized()\n"
        "loader = DataLoader(TensorDataset(np.zeros((5, 1)), np.arange(5)), 2, shard=True)\n"
        "assert distributed.is_initialized() and len(loader) == 3\n"
        "assert (distributed.rank(), distributed.world_size()) == (0, 1)\n"
        "assert 'mpi4py' not in sys.modules, 'a world of one imported mpi4py'\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_a_launcher_without_mpi4py_is_an_error_not_a_silent_world_of_one():
    code = (
        "import sys\n"
        "sys.modules['mpi4py'] = None  # as if it were not installed\n"
        "from minicnn import distributed\n"
        "distributed.init()\n"
    )
    result = run_python(code, OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="0")
    assert result.returncode != 0
    assert "started by an MPI launcher with 2 processes, but mpi4py is not installed" in (
        result.stderr
    )
    assert "pip install minicnn[mpi]" in result.stderr


@pytest.fixture
def world_of_one():
    distributed.init()
    distributed.init()  # idempotent
    if distributed.world_size() != 1:
        pytest.skip("this test process runs under an MPI launcher with several ranks")


def small_cnn(seed: int = 0) -> nn.Module:
    mc.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 2, 3, dtype="float64"), nn.ReLU(), nn.Flatten(),
                         nn.Linear(2 * 4 * 4, 3, dtype="float64"))


def test_every_collective_is_the_identity(world_of_one):
    assert distributed.is_initialized() and distributed.is_primary()
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    distributed.barrier()
    average = distributed.average({"loss": 0.25, "nan": math.nan, "count": 3})
    assert average["loss"] == 0.25 and math.isnan(average["nan"]) and average["count"] == 3.0
    token = object()
    assert distributed.broadcast_object(token) is token
    model = small_cnn()
    before = {key: (param.data, param.data.copy()) for key, param in model.named_parameters()}
    distributed.broadcast_parameters(model)
    for key, param in model.named_parameters():
        assert param.data is before[key][0]
        np.testing.assert_array_equal(param.data, before[key][1])
    params = list(model.parameters())
    params[0].grad = np.ones(params[0].shape)
    distributed.allreduce_gradients(model)
    assert params[0].grad.tolist() == np.ones(params[0].shape).tolist() and params[1].grad is None
    distributed.broadcast_optimizer_state(optim.SGD(params, lr=0.1))
    hook = sys.excepthook
    distributed.install_abort_handler()
    assert sys.excepthook is hook  # nothing to abort in a world of one


def test_arguments_are_checked(world_of_one):
    with pytest.raises(ValueError, match=r"root must be a rank in \[0, 0\], got 1"):
        distributed.broadcast_object(1, root=1)
    with pytest.raises(ValueError, match="root must be a rank"):
        distributed.broadcast_parameters(small_cnn(), root=-1)
    with pytest.raises(TypeError, match="expected a Module or an iterable of Parameters"):
        distributed.allreduce_gradients(3)
    with pytest.raises(TypeError, match="but item 0 is ndarray"):
        distributed.allreduce_gradients([np.zeros(3)])
    with pytest.raises(TypeError, match="not a set"):
        distributed.broadcast_parameters(set(small_cnn().parameters()))
    with pytest.raises(ValueError, match="bucket_bytes must be a positive int"):
        distributed.allreduce_gradients(small_cnn(), bucket_bytes=0)
    with pytest.raises(TypeError, match="expected a minicnn optimizer"):
        distributed.broadcast_optimizer_state(small_cnn())
    with pytest.raises(TypeError, match=r"expected a minicnn optimizer \(e.g. optim.SGD"):
        distributed.DistributedOptimizer(small_cnn())


def test_distributed_optimizer_steps_and_saves_as_the_wrapped_one(world_of_one):
    plain_model, wrapped_model = small_cnn(), small_cnn()
    plain = optim.Adam(plain_model.parameters(), lr=0.01)
    inner = optim.Adam(wrapped_model.parameters(), lr=0.01)
    wrapped = distributed.DistributedOptimizer(inner)
    assert isinstance(wrapped, optim.Optimizer) and "DistributedOptimizer(Adam (" in repr(wrapped)
    assert wrapped.param_groups is inner.param_groups and wrapped.defaults is inner.defaults
    scheduler = optim.lr_scheduler.StepLR(wrapped, step_size=1, gamma=0.5)
    x = np.random.default_rng(0).standard_normal((4, 1, 6, 6))
    for _ in range(3):
        for model, optimizer in ((plain_model, plain), (wrapped_model, wrapped)):
            computed = []

            def closure(model=model, optimizer=optimizer, computed=computed):
                optimizer.zero_grad()
                out = model(x)
                model.backward(np.ones_like(out))
                computed.append(float(out.sum()))
                return computed[-1]

            loss = optimizer.step(closure)
            assert computed == [loss]  # called once, its value returned
        plain.param_groups[0]["lr"] *= 0.5
        scheduler.step()
    for (key, expected), actual in zip(plain_model.state_dict().items(),
                                       wrapped_model.state_dict().values(), strict=True):
        np.testing.assert_array_equal(actual, expected, err_msg=key)
    assert wrapped.state is inner.state and len(inner.state) == 4
    saved = wrapped.state_dict()
    assert saved["param_groups"][0]["lr"] == plain.param_groups[0]["lr"] == 0.01 / 8
    fresh = distributed.DistributedOptimizer(optim.Adam(small_cnn().parameters()))
    fresh.load_state_dict(saved)
    assert fresh.state_dict()["state"][0]["step"] == 3.0
    wrapped.zero_grad()
    assert all(param.grad is None for param in wrapped_model.parameters())


def test_minicnn_distributed_0_keeps_a_launched_process_alone():
    import subprocess
    import sys

    code = ("import sys; from minicnn import distributed; distributed.init(); "
            "assert distributed.world_size() == 1; assert 'mpi4py' not in sys.modules")
    env = {**__import__("os").environ, "OMPI_COMM_WORLD_SIZE": "4", "MINICNN_DISTRIBUTED": "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
