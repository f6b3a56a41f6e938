"""The GPU end to end: moving models, optimizer state and batches between devices, clear errors
when devices mix, checkpoints across devices, the Trainer and its callbacks, and the CLI.

Every test here needs CuPy and an NVIDIA GPU and skips, with the reason, without them. The
layers, losses and optimizers themselves are checked on the GPU against PyTorch by the normal
suites run with MINICNN_TEST_DEVICE=cuda (see tests/torch_reference.py).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from gpu_support import host, requires_gpu

import minicnn as mc
from minicnn import callbacks, nn, optim
from minicnn.data import DataLoader, TensorDataset

pytestmark = requires_gpu


def cupy():
    import cupy as cp

    return cp


def lenet(dtype=np.float32) -> nn.Sequential:
    mc.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, dtype=dtype), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 32, dtype=dtype), nn.Tanh(), nn.Dropout(0.25),
        nn.Linear(32, 10, dtype=dtype),
    )


def digits(count: int = 128, dtype=np.float32):
    rng = np.random.default_rng(0)
    return rng.random((count, 1, 28, 28)).astype(dtype), rng.integers(0, 10, count)


def train_steps(model, optimizer, x, y, steps: int) -> list[float]:
    """``steps`` plain training steps on one batch; the losses as floats."""
    loss_fn, losses = nn.CrossEntropyLoss(), []
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        model.backward(loss_fn.backward())
        optimizer.step()
        losses.append(float(loss))
    return losses


def test_to_moves_parameters_and_gradients_there_and_back():
    model = lenet()
    before = {key: value.copy() for key, value in model.state_dict().items()}
    x, y = digits(8)
    train_steps(model, optim.SGD(model.parameters(), lr=0.0), x, y, 1)  # grads, same weights
    assert model.to("cuda") is model
    for name, param in model.named_parameters():
        assert isinstance(param.data, cupy().ndarray), name
        assert isinstance(param.grad, cupy().ndarray), name
        np.testing.assert_array_equal(host(param.data), before[name])
    model.to("cpu")
    for name, param in model.named_parameters():
        assert isinstance(param.data, np.ndarray) and isinstance(param.grad, np.ndarray), name
        np.testing.assert_array_equal(param.data, before[name])


def test_layers_built_on_the_gpu_and_summary():
    layer = nn.Conv2d(3, 4, 3, device="cuda")
    assert isinstance(layer.weight.data, cupy().ndarray)
    assert isinstance(nn.Linear(3, 2, device="cuda").bias.data, cupy().ndarray)
    assert "Conv2d" in lenet().to("cuda").summary((1, 28, 28))


def test_mixing_devices_names_both():
    model = lenet().to("cuda")
    x, y = digits(4)
    with pytest.raises(TypeError, match=r"Conv2d.*on device 'cpu'.*parameters are on 'cuda'"):
        model(x)
    scores = model(cupy().asarray(x))
    with pytest.raises(TypeError, match=r"target is on device 'cpu'.*input is on 'cuda'"):
        nn.CrossEntropyLoss()(scores, y)
    cpu_model = lenet()
    with pytest.raises(TypeError, match=r"on device 'cuda'.*parameters are on 'cpu'"):
        cpu_model(cupy().asarray(x))
    param = nn.Parameter(np.zeros(3, np.float32))
    param.grad = cupy().zeros(3, np.float32)
    with pytest.raises(TypeError, match=r"gradient on device 'cuda' for a parameter on 'cpu'"):
        optim.SGD([param], lr=0.1).step()


@pytest.mark.parametrize("name, options", [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}), ("Adam", {"lr": 1e-3}),
    ("AdamW", {"lr": 1e-3, "amsgrad": True}), ("RMSprop", {"lr": 1e-3, "centered": True}),
    ("Adagrad", {"lr": 1e-2}),
])
def test_optimizer_state_follows_the_model_between_devices(name, options):
    """3 steps on the CPU, 3 on the GPU, 3 on the CPU equal 9 on the CPU (float64)."""
    x, y = digits(16, np.float64)
    reference = lenet(np.float64).eval()
    expected = train_steps(reference, getattr(optim, name)(reference.parameters(), **options),
                           x, y, 9)
    model = lenet(np.float64).eval()
    optimizer = getattr(optim, name)(model.parameters(), **options)
    losses = train_steps(model, optimizer, x, y, 3)
    model.to("cuda")
    losses += train_steps(model, optimizer, cupy().asarray(x), cupy().asarray(y), 3)
    for state in optimizer.state.values():
        for value in state.values():
            assert not isinstance(value, np.ndarray)
    model.to("cpu")
    losses += train_steps(model, optimizer, x, y, 3)
    np.testing.assert_allclose(losses, expected, rtol=1e-10)
    for (key, got), want in zip(model.state_dict().items(), reference.state_dict().values(),
                                strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=key)


def test_checkpoints_saved_on_the_gpu_load_on_the_cpu_and_back(tmp_path):
    model = lenet().to("cuda")
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    x, y = digits(16)
    train_steps(model, optimizer, cupy().asarray(x), cupy().asarray(y), 2)
    mc.save(model, tmp_path / "model.npz", optimizer=optimizer, epoch=2)
    checkpoint = mc.load_checkpoint(tmp_path / "model.npz")
    loaded = checkpoint["model"]
    for key, value in loaded.state_dict().items():
        assert isinstance(value, np.ndarray)
        np.testing.assert_array_equal(value, host(model.state_dict()[key]))
    # the optimizer's state continues on either device
    loaded.to("cuda")
    resumed = optim.Adam(loaded.parameters(), lr=1e-3)
    resumed.load_state_dict(checkpoint["optimizer"])
    assert all(isinstance(v, cupy().ndarray) for s in resumed.state.values()
               for v in s.values() if hasattr(v, "shape"))
    cpu_twin = mc.load(tmp_path / "model.npz")
    cpu_optimizer = optim.Adam(cpu_twin.parameters(), lr=1e-3)
    cpu_optimizer.load_state_dict(checkpoint["optimizer"])
    gpu_losses = train_steps(loaded.eval(), resumed, cupy().asarray(x), cupy().asarray(y), 2)
    cpu_losses = train_steps(cpu_twin.eval(), cpu_optimizer, x, y, 2)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4)
    mc.save_weights(model, tmp_path / "weights.npz")
    fresh = lenet().to("cuda")
    mc.load_weights(fresh, tmp_path / "weights.npz")
    for key, value in fresh.state_dict().items():
        assert isinstance(value, cupy().ndarray)
        np.testing.assert_array_equal(host(value), host(model.state_dict()[key]))


def test_the_data_loader_hands_batches_to_the_gpu():
    x, y = digits(10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=1,
                              device="cuda"))
    cpu_batches = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=1))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    for (gx, gy), (cx, cy) in zip(batches, cpu_batches, strict=True):
        assert isinstance(gx, cupy().ndarray) and isinstance(gy, cupy().ndarray)
        np.testing.assert_array_equal(host(gx), cx)
        np.testing.assert_array_equal(host(gy), cy)
    on_gpu = TensorDataset(cupy().asarray(x), cupy().asarray(y))  # a dataset already there
    gx, gy = next(iter(DataLoader(on_gpu, batch_size=3, shuffle=True, seed=1)))
    order = np.random.default_rng((1, 0)).permutation(10)[:3]
    np.testing.assert_array_equal(host(gx), x[order])
    np.testing.assert_array_equal(host(gy), y[order])


def test_fit_on_the_gpu_follows_the_cpu_run_with_its_callbacks(tmp_path):
    """The same seeded run on both devices: same logs (to float32 rounding), same decisions of
    EarlyStopping / ReduceLROnPlateau, a checkpoint file from the GPU run; predict returns on
    the input's device."""
    x, y = digits(96)
    histories = {}
    for device in ("cpu", "cuda"):
        model = lenet().to(device)
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        trainer = mc.Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=["accuracy"])
        schedule = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        hooks = [
            callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True),
            callbacks.ReduceLROnPlateau(monitor="val_loss", patience=0, factor=0.5),
            callbacks.ModelCheckpoint(str(tmp_path / device / "best.npz"), save_best_only=True),
            callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs, s=schedule: s.step()),
        ]
        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
        mc.manual_seed(1)  # the same Dropout masks on both devices
        history = trainer.fit(loader, epochs=4, validation_data=(x[:32], y[:32]),
                              callbacks=hooks, verbose=0)
        histories[device] = history.history
        assert (tmp_path / device / "best.npz").exists()
        predicted = trainer.predict(x[:40], batch_size=16)
        assert isinstance(predicted, np.ndarray) and predicted.shape == (40, 10)
        on_gpu = trainer.predict(cupy().asarray(x[:40]), batch_size=16)
        assert isinstance(on_gpu, cupy().ndarray)
        np.testing.assert_allclose(host(on_gpu), predicted, rtol=1e-5, atol=1e-6)
        assert trainer.evaluate((x, y))["loss"] > 0
    assert sorted(histories["cpu"]) == sorted(histories["cuda"])
    for key, values in histories["cpu"].items():
        np.testing.assert_allclose(histories["cuda"][key], values, rtol=1e-3, err_msg=key)


def test_cli_trains_on_the_gpu(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "minicnn", "train", "--device", "cuda", "--epochs", "1",
         "--verbose", "0", "--checkpoint", str(tmp_path / "run.npz")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    accuracy = float(result.stdout.split("test accuracy: ")[1].split("%")[0])
    assert accuracy > 80
    assert isinstance(mc.load(tmp_path / "run.npz").state_dict()["0.weight"], np.ndarray)
