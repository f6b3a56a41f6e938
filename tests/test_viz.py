"""minicnn.viz: every plot writes an image without a display, feature_maps equals running the
layers by hand and leaves the model as it was, the errors, and matplotlib stays optional."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from gpu_support import requires_gpu

import minicnn as mc
from minicnn import nn, optim, viz

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="needs matplotlib (pip install minicnn[plot])",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 100
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def lenet_like() -> nn.Sequential:
    mc.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 14 * 14, 10))


def images(count: int = 4, channels: int = 1, size: int = 28, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count, channels, size, size)).astype(np.float32)


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions save, to look inside them."""
    from matplotlib.figure import Figure

    saved, original = [], Figure.savefig

    def savefig(self, *args, **kwargs):
        saved.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_visible()]


def suptitle(fig) -> str:
    """The figure's title (Figure.get_suptitle is matplotlib 3.8+)."""
    return fig.get_suptitle() if hasattr(fig, "get_suptitle") else fig._suptitle.get_text()


# --- matplotlib stays optional ----------------------------------------------------------------


def test_import_does_not_load_matplotlib():
    code = (
        "import sys, minicnn, minicnn.viz; from minicnn.viz import feature_maps; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_says_what_to_install(monkeypatch, tmp_path):
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import matplotlib...` fail
    with pytest.raises(ImportError, match=r"pip install minicnn\[plot\]"):
        viz.plot_images(images(), tmp_path / "x.png")
    with pytest.raises(ImportError, match=r"pip install minicnn\[plot\]"):
        viz.plot_history({"loss": [1.0]}, tmp_path / "h.png")
    assert not list(tmp_path.iterdir())
    # feature_maps is NumPy only
    assert viz.feature_maps(lenet_like(), images()[0], 0).shape == (6, 28, 28)


# --- feature_maps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(0, (6, 28, 28)), (1, (6, 28, 28)), (2, (6, 14, 14)), (3, (1176,)), (4, (10,))],
)
def test_feature_maps_equal_the_layers_run_by_hand(layer, shape):
    model, x = lenet_like(), images()
    expected = x[1:2]
    for module in list(model)[: layer + 1]:
        expected = module(expected)
    maps = viz.feature_maps(model, x[1], layer)
    assert isinstance(maps, np.ndarray) and maps.shape == shape and maps.dtype == np.float32
    np.testing.assert_array_equal(maps, expected[0])


def test_feature_maps_of_the_first_conv_are_its_output_for_that_sample():
    model, x = lenet_like(), images()
    by_hand = model[0](x)[2]  # the whole batch, then sample 2
    np.testing.assert_allclose(viz.feature_maps(model, x[2], 0), by_hand, rtol=1e-5, atol=1e-6)


def test_feature_maps_names_the_layer_in_every_way():
    model, x = lenet_like(), images()[0]
    expected = viz.feature_maps(model, x, 2)
    for layer in (2, -3, "2", model[2]):
        np.testing.assert_array_equal(viz.feature_maps(model, x, layer), expected)
    np.testing.assert_array_equal(viz.feature_maps(model, x[None], 2), expected)  # (1, C, H, W)


def test_feature_maps_with_named_layers():
    mc.manual_seed(0)
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 3, 3), act=nn.ReLU()))
    x = images(1, size=8)
    np.testing.assert_array_equal(viz.feature_maps(model, x[0], "act"), model(x)[0])
    with pytest.raises(ValueError, match=r"'conv', 'act'"):
        viz.feature_maps(model, x[0], "0")


def test_feature_maps_cast_the_sample_to_the_model_dtype():
    model, x = lenet_like(), images()
    maps = viz.feature_maps(model, x[0].astype(np.float64), 0)
    assert maps.dtype == np.float32
    np.testing.assert_array_equal(maps, model[0](x[:1])[0])


def test_feature_maps_run_in_eval_mode_and_restore_the_modes():
    mc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Dropout(0.9), nn.ReLU())
    x = images(1, size=8)
    model.train()
    model[2].eval()  # a mixed state comes back as it was
    before = [module.training for module in model.modules()]
    maps = viz.feature_maps(model, x[0], 2)
    np.testing.assert_array_equal(maps, np.maximum(model[0](x), 0)[0])  # Dropout off
    assert [module.training for module in model.modules()] == before
    model.eval()
    viz.feature_maps(model, x[0], 1)
    assert not any(module.training for module in model.modules())


def test_feature_maps_keep_the_last_forward_for_backward():
    """A forward, feature_maps, then backward: the gradients are the batch's, unchanged."""
    model, x = lenet_like(), images(8)
    loss_fn, y = nn.CrossEntropyLoss(), np.arange(8)

    def gradients(peek: bool) -> list[np.ndarray]:
        model.zero_grad()
        loss_fn(model(x), y)
        if peek:
            viz.feature_maps(model, x[0], 2)
        model.backward(loss_fn.backward())
        return [param.grad.copy() for param in model.parameters()]

    for plain, peeked in zip(gradients(False), gradients(True), strict=True):
        np.testing.assert_array_equal(plain, peeked)


def test_feature_maps_errors():
    model, x = lenet_like(), images()
    with pytest.raises(TypeError, match="nn.Sequential"):
        viz.feature_maps(model[0], x[0], 0)
    with pytest.raises(IndexError, match=r"0\.\.4.*'0', '1', '2', '3', '4'"):
        viz.feature_maps(model, x[0], 5)
    with pytest.raises(IndexError, match="out of range"):
        viz.feature_maps(model, x[0], -6)
    with pytest.raises(ValueError, match=r"no layer named 'conv'.*'0', '1'"):
        viz.feature_maps(model, x[0], "conv")
    with pytest.raises(ValueError, match="not a child"):
        viz.feature_maps(model, x[0], nn.ReLU())
    with pytest.raises(TypeError, match="layer must be"):
        viz.feature_maps(model, x[0], 1.0)
    with pytest.raises(TypeError, match="layer must be"):
        viz.feature_maps(model, x[0], True)
    with pytest.raises(ValueError, match="batch of 4 samples"):
        viz.feature_maps(model, x, 0)


# --- plot_history -----------------------------------------------------------------------------


def fitted_history() -> mc.History:
    mc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    x, y = images(24, size=8), np.random.default_rng(1).integers(0, 3, 24)
    trainer = mc.Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05),
                         metrics=["accuracy"])
    return trainer.fit((x, y), epochs=2, validation_data=(x[:8], y[:8]), verbose=0)


@needs_matplotlib
def test_plot_history_of_a_fit(tmp_path, figures):
    history = fitted_history()
    assert {"loss", "val_loss", "accuracy", "val_accuracy", "lr"} <= set(history.history)
    path = viz.plot_history(history, tmp_path / "runs" / "curves.png")
    assert path == tmp_path / "runs" / "curves.png" and isinstance(path, Path)
    assert_png(path)
    fig = figures[-1]
    axes = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert list(axes) == ["loss", "accuracy", "lr"]
    loss_lines = axes["loss"].get_lines()
    assert [line.get_label() for line in loss_lines] == ["training", "validation"]
    np.testing.assert_array_equal(loss_lines[0].get_xdata(), [1, 2])
    np.testing.assert_allclose(loss_lines[1].get_ydata(), history.history["val_loss"])
    assert axes["lr"].get_yscale() == "log" and axes["loss"].get_yscale() == "linear"


@needs_matplotlib
def test_plot_history_keys_and_plain_dicts(tmp_path, figures):
    record = {"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0], "accuracy": [0.1, 0.5, 0.9],
              "val_accuracy": [0.1, 0.4, 0.8], "lr": [0.1, 0.05, 0.025]}
    assert_png(viz.plot_history(record, tmp_path / "all.png"))
    assert titles(figures[-1]) == ["loss", "accuracy", "lr"]
    assert_png(viz.plot_history(record, str(tmp_path / "loss.png"), keys=["loss"]))
    assert titles(figures[-1]) == ["loss"]
    assert len(figures[-1].axes[0].get_lines()) == 2  # val_loss comes along
    viz.plot_history(record, tmp_path / "acc.png", keys=["val_accuracy", "lr"])
    assert titles(figures[-1]) == ["accuracy", "lr"]
    viz.plot_history({"val_loss": [1.0, 0.5]}, tmp_path / "val.png", keys="loss")
    assert titles(figures[-1]) == ["loss"]


def test_plot_history_errors(tmp_path):
    with pytest.raises(ValueError, match=r"'top_5_accuracy'.*available keys: \['loss', 'lr'\]"):
        viz.plot_history({"loss": [1.0], "lr": [0.1]}, tmp_path / "h.png",
                         keys=["loss", "top_5_accuracy"])
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history(mc.History(), tmp_path / "h.png")
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history({"loss": []}, tmp_path / "h.png")
    with pytest.raises(TypeError, match="History or a dict"):
        viz.plot_history([1.0, 0.5], tmp_path / "h.png")
    assert not list(tmp_path.iterdir())


# --- plot_feature_maps, plot_filters, plot_images ---------------------------------------------


@needs_matplotlib
def test_plot_feature_maps(tmp_path, figures):
    model, x = lenet_like(), images()
    path = viz.plot_feature_maps(model, x[0], 0, tmp_path / "a" / "b" / "maps.png", max_maps=4)
    assert path == tmp_path / "a" / "b" / "maps.png"
    assert_png(path)
    assert titles(figures[-1]) == ["input", "0", "1", "2", "3"]
    assert "6 maps of 28x28" in suptitle(figures[-1])
    assert_png(viz.plot_feature_maps(model, x[0], 2, tmp_path / "pool.png"))
    assert titles(figures[-1]) == ["input", "0", "1", "2", "3", "4", "5"]
    assert_png(viz.plot_feature_maps(model, x[0], -1, tmp_path / "logits.png"))  # bars
    with pytest.raises(ValueError, match="max_maps"):
        viz.plot_feature_maps(model, x[0], 0, tmp_path / "bad.png", max_maps=0)


@needs_matplotlib
def test_plot_filters(tmp_path, figures):
    model = lenet_like()
    assert_png(viz.plot_filters(model[0], tmp_path / "filters.png"))
    fig = figures[-1]
    assert "input channel 0" in suptitle(fig)
    assert titles(fig)[:6] == ["0", "1", "2", "3", "4", "5"]
    limit = float(np.abs(model[0].weight.data).max())
    for image in fig.axes[0].get_images():
        np.testing.assert_allclose(image.get_clim(), (-limit, limit))

    mc.manual_seed(1)
    conv = nn.Conv2d(3, 10, 3)
    assert_png(viz.plot_filters(conv, tmp_path / "rgb.png", max_filters=4))
    fig = figures[-1]
    assert "mean over the 3 input channels" in suptitle(fig)
    assert "the first 4 of 10" in suptitle(fig)
    shown = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(shown) == 4
    means = conv.weight.data[:4].mean(axis=1)
    np.testing.assert_allclose(shown[1].get_array(), means[1], rtol=1e-6)
    limit = float(np.abs(means).max())
    assert shown[0].get_clim() == pytest.approx((-limit, limit))

    with pytest.raises(TypeError, match="nn.Conv2d"):
        viz.plot_filters(model[4], tmp_path / "linear.png")
    with pytest.raises(ValueError, match="max_filters"):
        viz.plot_filters(conv, tmp_path / "bad.png", max_filters=-1)


@needs_matplotlib
def test_plot_images(tmp_path, figures):
    x = images(6)
    assert_png(viz.plot_images(x, tmp_path / "digits.png", labels=np.arange(6) % 3))
    assert titles(figures[-1]) == ["0", "1", "2", "0", "1", "2"]
    assert_png(viz.plot_images(x[:, 0], tmp_path / "plain.png", max_images=2))
    assert titles(figures[-1]) == ["", ""]
    assert_png(viz.plot_images(images(2, channels=3), tmp_path / "rgb.png", labels=["a", "b"]))
    with pytest.raises(ValueError, match="2 labels for 6 images"):
        viz.plot_images(x, tmp_path / "bad.png", labels=[1, 2])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        viz.plot_images(images(2, channels=2), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="max_images"):
        viz.plot_images(x, tmp_path / "bad.png", max_images=0)


@needs_matplotlib
def test_saving_other_formats_leaves_no_temporary_files(tmp_path):
    x = images(2)
    svg = viz.plot_images(x, tmp_path / "grid.svg")
    assert b"<svg" in svg.read_bytes()[:500]
    assert viz.plot_images(x, tmp_path / "grid.pdf").read_bytes()[:5] == b"%PDF-"
    assert_png(viz.plot_images(x, tmp_path / "grid"))  # no suffix: PNG
    viz.plot_images(x, tmp_path / "grid.png")
    viz.plot_images(x, tmp_path / "grid.png")  # overwriting
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "grid", "grid.pdf", "grid.png", "grid.svg",
    ]
    with pytest.raises(IsADirectoryError):
        viz.plot_images(x, tmp_path)
    with pytest.raises(ValueError, match="not supported"):
        viz.plot_images(x, tmp_path / "grid.xyz")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@requires_gpu
def test_cupy_arrays_and_a_model_on_the_gpu(tmp_path):
    import cupy

    model, x = lenet_like(), images()
    on_cpu = [viz.feature_maps(model, x[0], layer) for layer in range(len(model))]
    model.to("cuda")
    for sample in (x[0], cupy.asarray(x[0])):
        for layer, expected in enumerate(on_cpu):
            maps = viz.feature_maps(model, sample, layer)
            assert isinstance(maps, np.ndarray)
            np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-5)
    if importlib.util.find_spec("matplotlib") is None:
        return
    assert_png(viz.plot_feature_maps(model, cupy.asarray(x[0]), 0, tmp_path / "maps.png"))
    assert_png(viz.plot_filters(model[0], tmp_path / "filters.png"))
    assert_png(viz.plot_images(cupy.asarray(x), tmp_path / "x.png", labels=cupy.arange(4)))
    assert_png(viz.plot_history({"loss": [cupy.asarray(1.0), cupy.asarray(0.5)]},
                                tmp_path / "h.png"))
