"""Checkpoints: every layer round-trips (repr, weights, dtype, outputs), optimizer states resume
the same trajectory, writes are atomic, and hostile or broken files are refused by name."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_reference import DTYPES

import minicnn as mc
from minicnn import nn, optim
from minicnn import random as mc_random
from minicnn.serialization import load, load_checkpoint, load_weights, save, save_weights

# (factory of the layer for a dtype, input shape); the pooling and activation layers have no
# parameters, so the dtype only reaches their input.
LAYERS = {
    "conv": (lambda d: nn.Conv2d(3, 4, 3, dtype=d), (2, 3, 8, 8)),
    "conv-options": (
        lambda d: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), dtype=d),
        (2, 3, 9, 8),
    ),
    "conv-same-groups-reflect": (
        lambda d: nn.Conv2d(4, 6, 3, padding="same", groups=2, bias=False,
                            padding_mode="reflect", dtype=d),
        (2, 4, 7, 7),
    ),
    "conv-valid-circular": (
        lambda d: nn.Conv2d(3, 3, 3, padding="valid", groups=3, padding_mode="circular",
                            dtype=d),
        (3, 6, 6),
    ),
    "conv-replicate": (
        lambda d: nn.Conv2d(2, 2, 2, padding=1, padding_mode="replicate", dtype=d), (1, 2, 5, 5),
    ),
    "maxpool": (lambda d: nn.MaxPool2d(2), (2, 3, 8, 8)),
    "maxpool-options": (
        lambda d: nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
        (2, 3, 9, 9),
    ),
    "maxpool-indices": (lambda d: nn.MaxPool2d(2, 1, return_indices=True), (2, 3, 5, 5)),
    "avgpool": (lambda d: nn.AvgPool2d((2, 3)), (2, 3, 8, 8)),
    "avgpool-options": (
        lambda d: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False,
                               divisor_override=2),
        (2, 3, 8, 8),
    ),
    "lppool": (lambda d: nn.LPPool2d(2, 2), (2, 3, 8, 8)),
    "lppool-inf": (lambda d: nn.LPPool2d(float("inf"), (2, 3), stride=1, ceil_mode=True),
                   (2, 3, 8, 8)),
    "lppool-float-norm": (lambda d: nn.LPPool2d(4.0, [3, 2], stride=[2, 1]), (2, 3, 8, 8)),
    "adaptive": (lambda d: nn.AdaptiveAvgPool2d(3), (2, 3, 8, 7)),
    "adaptive-none": (lambda d: nn.AdaptiveAvgPool2d((None, 2)), (2, 3, 8, 7)),
    "adaptive-list": (lambda d: nn.AdaptiveAvgPool2d([2, None]), (2, 3, 8, 7)),
    "flatten": (lambda d: nn.Flatten(), (2, 3, 4, 4)),
    "flatten-dims": (lambda d: nn.Flatten(0, -2), (2, 3, 4, 4)),
    "linear": (lambda d: nn.Linear(12, 5, dtype=d), (4, 12)),
    "linear-no-bias": (lambda d: nn.Linear(12, 5, bias=False, dtype=d), (2, 3, 12)),
    "dropout": (lambda d: nn.Dropout(0.3), (4, 6)),
    "dropout-inplace": (lambda d: nn.Dropout(1, inplace=True), (4, 6)),
    "relu": (lambda d: nn.ReLU(), (4, 6)),
    "relu-inplace": (lambda d: nn.ReLU(inplace=True), (4, 6)),
    "sigmoid": (lambda d: nn.Sigmoid(), (4, 6)),
    "tanh": (lambda d: nn.Tanh(), (4, 6)),
    "softmax": (lambda d: nn.Softmax(), (3, 4, 5)),
    "softmax-dim": (lambda d: nn.Softmax(dim=-1), (3, 4, 5)),
    "logsoftmax": (lambda d: nn.LogSoftmax(), (4, 5)),
    "logsoftmax-dim": (lambda d: nn.LogSoftmax(dim=0), (4, 5)),
    "nested-sequential": (
        lambda d: nn.Sequential(OrderedDict(
            features=nn.Sequential(nn.Conv2d(1, 2, 3, dtype=d), nn.ReLU(), nn.MaxPool2d(2)),
            head=nn.Sequential(OrderedDict(flat=nn.Flatten(), fc=nn.Linear(18, 3, dtype=d))),
            out=nn.LogSoftmax(dim=1),
        )),
        (2, 1, 8, 8),
    ),
    "empty-sequential": (lambda d: nn.Sequential(), (2, 3)),
}


def lenet(dtype=np.float32) -> nn.Sequential:
    """The model of API.md."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120, dtype=dtype), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(120, 10, dtype=dtype),
    )


def assert_same_model(loaded, model, x) -> None:
    """Same class, repr, modes, state_dict (keys, dtypes, values) and eval outputs."""
    assert type(loaded) is type(model)
    assert repr(loaded) == repr(model)
    assert [m.training for m in loaded.modules()] == [m.training for m in model.modules()]
    ours, theirs = loaded.state_dict(), model.state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype, key
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    outputs = [m.eval()(x.copy()) for m in (loaded, model)]  # copies: inplace layers
    for ours, theirs in zip(*(o if isinstance(o, tuple) else (o,) for o in outputs), strict=True):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def rewrite(path, edit) -> None:
    """Rewrite a checkpoint with ``edit(header)`` applied to its JSON header."""
    with np.load(path) as archive:
        entries = dict(archive)
    header = json.loads(str(entries["__minicnn__"]))
    edit(header)
    entries["__minicnn__"] = np.array(json.dumps(header))
    with open(path, "wb") as file:
        np.savez(file, **entries)


# --- round trips --------------------------------------------------------------------------------


@DTYPES
@pytest.mark.parametrize("case", list(LAYERS))
def test_every_layer_round_trips(case, dtype, tmp_path):
    factory, shape = LAYERS[case]
    model = factory(dtype)
    path = tmp_path / "model.npz"
    save(model, path)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    assert_same_model(load(path), model, x)


@pytest.mark.parametrize("case", ["conv", "maxpool-options", "nested-sequential"])
def test_module_names_in_the_file_are_pytorch_keys(case, tmp_path):
    model = LAYERS[case][0](np.float32)
    save(model, tmp_path / "m")
    with np.load(tmp_path / "m") as archive:
        weights = sorted(name for name in archive.files if name.startswith("weights/"))
    assert weights == sorted(f"weights/{key}" for key in model.state_dict())


@settings(max_examples=25)
@given(
    groups=st.sampled_from([1, 2]), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.integers(1, 2), dilation=st.integers(1, 2), bias=st.booleans(),
    padding=st.sampled_from([0, 1, (2, 1), "same", "valid"]),
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_any_conv2d_round_trips(groups, kernel, stride, dilation, bias, padding, mode, dtype):
    stride = 1 if padding == "same" else stride
    model = nn.Conv2d(2 * groups, 3 * groups, kernel, stride, padding, dilation, groups, bias,
                      mode, dtype=dtype)
    x = np.random.default_rng(1).standard_normal((2, 2 * groups, 9, 9)).astype(dtype)
    with tempfile.TemporaryDirectory() as folder:
        save(model, os.path.join(folder, "conv.npz"))
        assert_same_model(load(os.path.join(folder, "conv.npz")), model, x)


def test_training_modes_round_trip(tmp_path):
    model = lenet().eval()
    model[9].train()
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert [m.training for m in loaded.modules()] == [m.training for m in model.modules()]
    assert loaded[9].training and not loaded.training


def test_losses_round_trip_with_array_arguments(tmp_path):
    losses = nn.Sequential(
        nn.CrossEntropyLoss(weight=np.array([0.5, 2.0]), label_smoothing=0.1),
        nn.FocalLoss(gamma=1.5, alpha=0.25, reduction="sum"),
        nn.NLLLoss(ignore_index=3), nn.MSELoss(reduction="none"),
    )
    save(losses, tmp_path / "losses.npz")
    loaded = load(tmp_path / "losses.npz")
    assert repr(loaded) == repr(losses)
    np.testing.assert_array_equal(loaded[0].weight, losses[0].weight)
    assert (loaded[0].label_smoothing, loaded[1].gamma, loaded[1].alpha) == (0.1, 1.5, 0.25)
    assert (loaded[1].reduction, loaded[2].ignore_index, loaded[3].reduction) == (
        "sum", 3, "none")


def test_loading_leaves_the_random_stream_alone(tmp_path):
    save(lenet(), tmp_path / "m.npz")
    mc.manual_seed(5)
    expected = mc_random.generator().random(3)
    mc.manual_seed(5)
    load(tmp_path / "m.npz")
    np.testing.assert_array_equal(mc_random.generator().random(3), expected)


# --- optimizer state and epoch ------------------------------------------------------------------

OPTIMIZERS = {
    "sgd-momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                        weight_decay=1e-3),
    "adam-amsgrad": lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99), amsgrad=True),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
}


def train(model, optimizer, steps: int) -> None:
    rng = np.random.default_rng(7)
    x = rng.random((6, 1, 28, 28), dtype=np.float64)
    y = rng.integers(0, 10, 6)
    criterion = nn.CrossEntropyLoss()
    for _ in range(steps):
        optimizer.zero_grad()
        criterion(model(x), y)
        model.backward(criterion.backward())
        optimizer.step()


def assert_same_state_dict(actual: dict, expected: dict) -> None:
    assert actual["param_groups"] == expected["param_groups"]
    assert list(actual["state"]) == list(expected["state"])
    for index, values in expected["state"].items():
        assert list(actual["state"][index]) == list(values)
        for name, value in values.items():
            loaded = actual["state"][index][name]
            assert type(loaded) is type(value), (index, name)
            if isinstance(value, np.ndarray):
                assert loaded.dtype == value.dtype
                np.testing.assert_array_equal(loaded, value)
            else:
                assert loaded == value


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_resumes_the_same_trajectory(name, tmp_path):
    mc.manual_seed(0)
    model = lenet(np.float64).eval()  # eval: no Dropout draws, so both runs see the same net
    optimizer = OPTIMIZERS[name](model.parameters())
    train(model, optimizer, 3)
    save(model, tmp_path / "ckpt.npz", optimizer=optimizer, epoch=3)
    train(model, optimizer, 3)

    checkpoint = load_checkpoint(tmp_path / "ckpt.npz")
    resumed = checkpoint["model"]
    fresh = type(optimizer)(resumed.parameters())  # default hyper-parameters: the file has them
    fresh.load_state_dict(checkpoint["optimizer"])
    train(resumed, fresh, 3)

    for (key, ours), theirs in zip(resumed.state_dict().items(), model.state_dict().values(),
                                   strict=True):
        np.testing.assert_array_equal(ours, theirs, err_msg=key)
    assert_same_state_dict(fresh.state_dict(), optimizer.state_dict())
    assert checkpoint["epoch"] == 3


def test_optimizer_state_dict_round_trips_exactly(tmp_path):
    model = nn.Linear(4, 3)
    optimizer = optim.Adam([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}],
                           amsgrad=True)
    model.weight.grad = np.ones((3, 4), np.float32)
    model.bias.grad = np.ones(3, np.float32)
    optimizer.step()
    save(model, tmp_path / "m", optimizer=optimizer)
    loaded = load_checkpoint(tmp_path / "m")["optimizer"]
    assert_same_state_dict(loaded, optimizer.state_dict())
    assert loaded["param_groups"][0]["betas"] == (0.9, 0.999)
    assert isinstance(loaded["state"][1]["step"], float)


@pytest.mark.parametrize("epoch", [None, 0, 7, np.int64(12)])
def test_epoch_round_trips(epoch, tmp_path):
    save(nn.ReLU(), tmp_path / "m", epoch=epoch)
    checkpoint = load_checkpoint(tmp_path / "m")
    assert checkpoint["epoch"] == epoch and checkpoint["optimizer"] is None
    assert checkpoint["epoch"] is None or type(checkpoint["epoch"]) is int


@pytest.mark.parametrize(("epoch", "error"), [(1.0, TypeError), (True, TypeError),
                                              (-1, ValueError)])
def test_bad_epoch_or_optimizer_is_refused(epoch, error, tmp_path):
    with pytest.raises(error, match="epoch"):
        save(nn.ReLU(), tmp_path / "m", epoch=epoch)
    with pytest.raises(TypeError, match="optimizer"):
        save(nn.ReLU(), tmp_path / "m", optimizer={"state": {}})
    assert not (tmp_path / "m").exists()


# --- weights only -------------------------------------------------------------------------------


@DTYPES
def test_weights_round_trip(dtype, tmp_path):
    model, other = lenet(dtype), lenet(dtype)
    save_weights(model, tmp_path / "w.npz")
    assert load_weights(other, str(tmp_path / "w.npz")) == ([], [])
    x = np.random.default_rng(0).random((2, 1, 28, 28)).astype(dtype)
    assert_same_model(other, model, x)


def test_load_weights_reads_a_full_checkpoint_too(tmp_path):
    model, other = lenet(), lenet()
    save(model, tmp_path / "m.npz", optimizer=optim.SGD(model.parameters()), epoch=1)
    load_weights(other, tmp_path / "m.npz")
    assert_same_model(other, model, np.zeros((1, 1, 28, 28), np.float32))


def test_weights_of_a_user_module_round_trip(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

    model, other = Net(), Net()
    save_weights(model, tmp_path / "w")
    load_weights(other, tmp_path / "w")
    np.testing.assert_array_equal(other.fc.weight.data, model.fc.weight.data)


def test_load_weights_mismatches_name_the_file_and_the_keys(tmp_path):
    save_weights(nn.Sequential(nn.Linear(3, 4)), tmp_path / "w.npz")
    with pytest.raises(RuntimeError, match=r"(?s)w\.npz.*size mismatch for 0\.weight"):
        load_weights(nn.Sequential(nn.Linear(5, 4)), tmp_path / "w.npz")
    with pytest.raises(RuntimeError, match=r'(?s)w\.npz.*Missing key.*"1\.weight"'):
        load_weights(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4)), tmp_path / "w.npz")
    result = load_weights(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4)), tmp_path / "w.npz",
                          strict=False)
    assert result.missing_keys == ["1.weight", "1.bias"] and result.unexpected_keys == []


def test_load_of_a_weights_file_points_to_load_weights(tmp_path):
    save_weights(nn.Linear(2, 2), tmp_path / "w.npz")
    with pytest.raises(ValueError, match=r"w\.npz.*weights only.*load_weights"):
        load(tmp_path / "w.npz")


# --- files: one file at path, atomic writes -----------------------------------------------------


@pytest.mark.parametrize("name", ["ckpt", "model.bin", "model.npz"])
def test_one_file_exactly_at_path(name, tmp_path):
    save(nn.Linear(2, 2), str(tmp_path / name))
    assert os.listdir(tmp_path) == [name]
    save_weights(nn.Linear(2, 2), tmp_path / name)  # overwrites in place
    assert os.listdir(tmp_path) == [name]


def test_missing_folders_are_created(tmp_path):
    save(nn.Tanh(), tmp_path / "a" / "b" / "m.npz")
    assert repr(load(tmp_path / "a" / "b" / "m.npz")) == "Tanh()"


def test_a_folder_as_path_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save(nn.Tanh(), tmp_path)


def test_a_crash_before_the_rename_keeps_the_previous_file(tmp_path, monkeypatch):
    path, model = tmp_path / "m.npz", lenet()
    save(model, path, epoch=1)

    def crash(*args):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        save(lenet(), path, epoch=2)
    monkeypatch.undo()
    checkpoint = load_checkpoint(path)
    assert checkpoint["epoch"] == 1
    assert_same_model(checkpoint["model"], model, np.zeros((1, 1, 28, 28), np.float32))
    assert os.listdir(tmp_path) == ["m.npz"]  # the temporary file is cleaned up


@pytest.mark.parametrize("error", [OSError("no space left"), KeyboardInterrupt()])
def test_a_crash_midway_through_writing_keeps_the_previous_file(error, tmp_path, monkeypatch):
    path, model = tmp_path / "m.npz", lenet()
    save_weights(model, path)
    write_array, calls = np.lib.format.write_array, []

    def crash_on_third_array(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise error
        write_array(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crash_on_third_array)
    with pytest.raises(type(error)):
        save(lenet(), path)
    monkeypatch.undo()
    assert len(calls) == 3
    other = lenet()
    load_weights(other, path)
    assert_same_model(other, model, np.zeros((1, 1, 28, 28), np.float32))


# --- refused files ------------------------------------------------------------------------------


class Evil:
    """Unpickling this creates ``marker``: a stand-in for code a hostile file would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_pickled_objects_are_never_unpickled(tmp_path):
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Evil(proof))).close()
    assert proof.exists()  # the payload works when unpickled

    marker = tmp_path / "marker"
    payload = np.array([Evil(marker)], dtype=object)
    np.save(tmp_path / "object.npy", payload, allow_pickle=True)
    os.replace(tmp_path / "object.npy", tmp_path / "object.npz")
    (tmp_path / "raw.npz").write_bytes(pickle.dumps(Evil(marker)))
    save(nn.Linear(2, 2), tmp_path / "inside.npz")
    with np.load(tmp_path / "inside.npz") as archive:
        entries = {**archive, "weights/weight": payload}
    with open(tmp_path / "inside.npz", "wb") as file:
        np.savez(file, allow_pickle=True, **entries)

    for name in ("object.npz", "raw.npz", "inside.npz"):
        for read in (load, lambda p: load_weights(nn.Linear(2, 2), p)):
            with pytest.raises(ValueError, match=name):
                read(tmp_path / name)
    assert not marker.exists()


def test_a_foreign_npz_is_refused(tmp_path):
    np.savez(tmp_path / "foreign.npz", weight=np.ones((2, 2)), bias=np.ones(2))
    for read in (load, load_checkpoint, lambda p: load_weights(nn.Linear(2, 2), p)):
        with pytest.raises(ValueError, match=r"foreign\.npz: not a minicnn checkpoint"):
            read(tmp_path / "foreign.npz")
    np.save(tmp_path / "array.npy", np.ones(3))
    with pytest.raises(ValueError, match=r"array\.npy.*one \.npy array"):
        load(tmp_path / "array.npy")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match=r"text\.npz: not a minicnn checkpoint"):
        load(tmp_path / "text.npz")


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_a_truncated_file_is_refused(fraction, tmp_path):
    path = tmp_path / "m.npz"
    save(lenet(), path, optimizer=optim.SGD(lenet().parameters()))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError, match=r"m\.npz: "):
        load(path)


def test_a_corrupt_byte_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    save(nn.Linear(200, 100), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # in the weights' bytes: the zip CRC catches it
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"m\.npz: truncated or corrupt"):
        load(path)


def test_a_missing_file_is_named(tmp_path):
    for read in (load, load_checkpoint, lambda p: load_weights(nn.Linear(2, 2), p)):
        with pytest.raises(FileNotFoundError, match=r"nothing\.npz: no such file"):
            read(tmp_path / "nothing.npz")


@pytest.mark.parametrize(
    "name", ["os.system", "posix.system", "Module", "Parameter", "SpatialModule", "Loss",
             "minicnn.nn.Linear", "__import__"],
)
def test_an_architecture_naming_another_class_is_refused(name, tmp_path):
    path = tmp_path / "m.npz"
    save(nn.Sequential(nn.Linear(2, 2)), path)

    def edit(header):
        header["architecture"]["children"][0][1]["class"] = name

    rewrite(path, edit)
    with pytest.raises(ValueError, match=rf"m\.npz: .*class '{name}'.*not a minicnn\.nn layer"):
        load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: h.update(version=2), "version 2"),
        (lambda h: h.update(format="other"), "not a minicnn checkpoint"),
        (lambda h: h.update(kind="pickle"), "unknown kind"),
        (lambda h: h.update(epoch="3"), "corrupt epoch"),
        (lambda h: h.update(optimizer=[1]), "corrupt optimizer"),
        (lambda h: h.update(optimizer={"set": [1]}), "cannot read the value"),
        (lambda h: h["architecture"]["args"].update(out_features=3), "do not fit"),
        (lambda h: h["architecture"]["args"].update(in_features=0), "cannot rebuild Linear"),
        (lambda h: h["architecture"]["args"].update(eval="1"), "cannot rebuild Linear"),
        (lambda h: h["architecture"].pop("training"), "training flag"),
        (lambda h: h["architecture"].update(args=[2, 2]), "no argument dict"),
    ],
)
def test_an_edited_header_is_refused(edit, message, tmp_path):
    path = tmp_path / "m.npz"
    save(nn.Linear(2, 2), path)
    rewrite(path, edit)
    with pytest.raises(ValueError, match=rf"m\.npz: .*{message}"):
        load_checkpoint(path)


def test_user_modules_refuse_to_save(tmp_path):
    class Net(nn.Module):
        pass

    class Linear(nn.Linear):  # same name as a minicnn layer, but not minicnn's class
        pass

    for model, name in [(Net(), "Net"), (Linear(2, 2), "Linear"),
                        (nn.Sequential(nn.ReLU(), Net()), "Net")]:
        with pytest.raises(TypeError, match=rf"m\.npz: cannot save .*\.{name}: .*save_weights"):
            save(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("path", [None, 3, b"m.npz"])
def test_paths_must_be_str_or_pathlike(path):
    with pytest.raises(TypeError, match="file path"):
        save(nn.ReLU(), path)


def test_non_modules_are_refused(tmp_path):
    with pytest.raises(TypeError, match="expected a minicnn Module"):
        save({"weight": np.ones(2)}, tmp_path / "m")
    with pytest.raises(TypeError, match="expected a minicnn Module"):
        save_weights(None, tmp_path / "m")
