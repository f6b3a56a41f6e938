"""ModelCheckpoint: the files Keras's rules write (names, contents, when), through
minicnn.serialization."""

import math

import pytest
from fake_trainer import MISSING, FakeTrainer, scripted

from minicnn.training.callbacks import ModelCheckpoint

serialization = pytest.importorskip("minicnn.serialization")

NAN = math.nan


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def saved_epoch(path):
    """The epoch mark of the weights in a weights file."""
    model = FakeTrainer().model
    serialization.load_weights(model, path)
    return float(model[0].weight.data[0, 0])


def run(tmp_path, filepath, values, key="val_loss", trainer=None, **kwargs):
    trainer = trainer or FakeTrainer()
    callback = ModelCheckpoint(str(tmp_path / filepath), monitor=key, **kwargs)
    trainer.fit([callback], scripted(values, key))
    return callback, trainer


def test_saves_every_epoch_under_the_formatted_name_in_a_new_folder(tmp_path):
    run(tmp_path, "ckpt/{epoch:02d}-{val_loss:.2f}.npz", [0.5, 0.25, 0.125])
    assert files(tmp_path) == ["ckpt/01-0.50.npz", "ckpt/02-0.25.npz", "ckpt/03-0.12.npz"]


def test_writes_exactly_the_path_given_without_adding_an_extension(tmp_path):
    run(tmp_path, "a/b/model-{epoch}", [0.5, 0.6], save_weights_only=True)
    assert files(tmp_path) == ["a/b/model-1", "a/b/model-2"]
    assert saved_epoch(tmp_path / "a/b/model-2") == 1


def test_a_full_save_holds_the_model_the_optimizer_and_the_epochs_done(tmp_path):
    _, trainer = run(tmp_path, "model.npz", [0.5, 0.6, 0.7])
    checkpoint = serialization.load_checkpoint(tmp_path / "model.npz")
    assert checkpoint["epoch"] == 3
    assert checkpoint["optimizer"]["param_groups"][1]["lr"] == 0.5
    loaded = checkpoint["model"].state_dict()
    for key, value in trainer.model.state_dict().items():
        assert (loaded[key] == value).all()


def test_save_best_only_keeps_overwriting_one_path_with_the_best(tmp_path):
    run(tmp_path, "best.npz", [1.0, 0.5, 0.7, 0.4, 0.45], save_best_only=True,
        save_weights_only=True)
    assert files(tmp_path) == ["best.npz"] and saved_epoch(tmp_path / "best.npz") == 3


def test_save_best_only_with_an_epoch_template_writes_each_improvement(tmp_path):
    callback, _ = run(tmp_path, "{epoch:02d}.npz", [1.0, 0.5, 0.7, 0.4], save_best_only=True)
    assert files(tmp_path) == ["01.npz", "02.npz", "04.npz"] and callback.best == 0.4


def test_save_best_only_in_max_mode_for_accuracy(tmp_path):
    run(tmp_path, "{epoch}.npz", [0.5, 0.4, 0.7, 0.7], key="val_accuracy", save_best_only=True)
    assert files(tmp_path) == ["1.npz", "3.npz"]


def test_initial_value_threshold_is_the_best_to_beat(tmp_path):
    run(tmp_path, "{epoch}.npz", [1.0, 0.7, 0.5, 0.55], save_best_only=True,
        initial_value_threshold=0.6)
    assert files(tmp_path) == ["3.npz"]


def test_best_is_kept_across_fits(tmp_path):
    trainer = FakeTrainer()
    callback = ModelCheckpoint(str(tmp_path / "{epoch}.npz"), save_best_only=True)
    trainer.fit([callback], scripted([1.0, 0.4]))
    trainer.fit([callback], scripted([0.45, 0.3, 0.35]), initial_epoch=2)
    assert files(tmp_path) == ["1.npz", "2.npz", "4.npz"] and callback.best == 0.3


def test_a_nan_is_never_saved_as_best(tmp_path):
    run(tmp_path, "{epoch}.npz", [NAN, 1.0, NAN, 2.0], save_best_only=True)
    assert files(tmp_path) == ["2.npz"]


def test_a_missing_key_warns_and_saves_nothing_with_save_best_only(tmp_path):
    with pytest.warns(UserWarning, match=r"ModelCheckpoint.*`val_loss`.*loss"):
        run(tmp_path, "{epoch}.npz", [MISSING, 1.0, MISSING], save_best_only=True)
    assert files(tmp_path) == ["2.npz"]


def test_without_save_best_only_the_monitor_is_not_needed(tmp_path):
    run(tmp_path, "{epoch}.npz", [MISSING, MISSING])
    assert files(tmp_path) == ["1.npz", "2.npz"]


def test_an_int_save_freq_counts_batches_across_epochs(tmp_path):
    trainer = FakeTrainer()
    callback = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}-{loss:.1f}.npz"), save_freq=2)
    trainer.fit([callback], scripted([1.0, 1.0]), batch_logs=[{"loss": 0.5}] * 3)
    assert files(tmp_path) == ["e1-b2-0.5.npz", "e2-b1-0.5.npz", "e2-b3-0.5.npz"]


def test_batch_level_save_best_only_watches_the_batch_logs(tmp_path):
    trainer = FakeTrainer()
    callback = ModelCheckpoint(str(tmp_path / "{epoch}-{batch}.npz"), monitor="loss",
                               save_freq=1, save_best_only=True)
    batches = [{"loss": 0.5}, {"loss": 0.6}, {"loss": 0.4}]
    trainer.fit([callback], scripted([1.0]), batch_logs=batches)
    assert files(tmp_path) == ["1-1.npz", "1-3.npz"]


@pytest.mark.parametrize("save_freq", [0, -1, "batch", 2.0, True])
def test_a_bad_save_freq_is_refused(tmp_path, save_freq):
    with pytest.raises(ValueError, match=r"ModelCheckpoint.*save_freq.*'epoch'"):
        ModelCheckpoint(str(tmp_path / "m.npz"), save_freq=save_freq)


def test_a_placeholder_missing_from_the_logs_names_the_available_keys(tmp_path):
    with pytest.raises(KeyError, match=r"ModelCheckpoint.*'val_acc'.*val_loss"):
        run(tmp_path, "{val_acc:.2f}.npz", [1.0])


def test_a_folder_at_the_path_is_refused(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError, match="ModelCheckpoint.*model.npz"):
        run(tmp_path, "taken", [1.0])


def test_auto_mode_cannot_place_an_unknown_name(tmp_path):
    with pytest.raises(ValueError, match=r"ModelCheckpoint.*monitor='f1'"):
        ModelCheckpoint(str(tmp_path / "m.npz"), monitor="f1")


def test_unknown_mode_warns_and_falls_back_to_auto(tmp_path):
    with pytest.warns(UserWarning, match="ModelCheckpoint mode 'best' is unknown"):
        assert ModelCheckpoint(str(tmp_path / "m.npz"), mode="best").mode == "auto"


def test_verbose_messages(tmp_path, capsys):
    path = tmp_path / "m.npz"
    run(tmp_path, "m.npz", [1.0, 0.5, 0.7], save_best_only=True, verbose=1)
    assert capsys.readouterr().out == (
        f"\nEpoch 1: val_loss improved from None to 1.00000, saving model to {path}\n"
        f"\nEpoch 2: val_loss improved from 1.00000 to 0.50000, saving model to {path}\n"
        "\nEpoch 3: val_loss did not improve from 0.50000\n"
    )
    run(tmp_path, "m.npz", [1.0], verbose=1)
    assert capsys.readouterr().out == f"\nEpoch 1: saving model to {path}\n"
