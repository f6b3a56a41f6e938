"""CSVLogger: Keras's file layout: an 'epoch' column, then the first epoch's keys, sorted."""

import csv

import numpy as np
import pytest
from fake_trainer import FakeTrainer

from minicnn.training.callbacks import CSVLogger

LOGS = [
    {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625, "val_accuracy": 0.5, "lr": 0.1},
    {"loss": 0.25, "accuracy": 0.875, "val_loss": 0.5, "val_accuracy": 0.75, "lr": 0.01},
]


def rows(path, delimiter=","):
    with open(path, newline="") as file:
        return list(csv.reader(file, delimiter=delimiter))


def test_header_then_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    FakeTrainer().fit([CSVLogger(path)], LOGS)
    assert rows(path) == [
        ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"],
        ["0", "0.75", "0.5", "0.1", "0.5", "0.625"],
        ["1", "0.875", "0.25", "0.01", "0.75", "0.5"],
    ]
    assert path.read_bytes().startswith(b"epoch,accuracy,loss,lr,val_accuracy,val_loss\r\n")


def test_separator(tmp_path):
    path = tmp_path / "log.tsv"
    FakeTrainer().fit([CSVLogger(str(path), separator="\t")], LOGS[:1])
    assert path.read_text().splitlines()[0] == "epoch\taccuracy\tloss\tlr\tval_accuracy\tval_loss"


def test_overwrites_unless_append(tmp_path):
    path = tmp_path / "log.csv"
    FakeTrainer().fit([CSVLogger(path)], LOGS)
    FakeTrainer().fit([CSVLogger(path)], LOGS[:1])
    assert len(rows(path)) == 2
    FakeTrainer().fit([CSVLogger(path, append=True)], LOGS[1:], initial_epoch=1)
    assert [row[0] for row in rows(path)] == ["epoch", "0", "1"]


def test_append_to_a_missing_or_empty_file_writes_the_header(tmp_path):
    path = tmp_path / "log.csv"
    FakeTrainer().fit([CSVLogger(path, append=True)], LOGS[:1])
    assert rows(path)[0][0] == "epoch"
    path.write_text("")
    FakeTrainer().fit([CSVLogger(path, append=True)], LOGS[:1])
    assert [row[0] for row in rows(path)] == ["epoch", "0"]


def test_a_reused_logger_starts_a_new_file_each_fit(tmp_path):
    path = tmp_path / "log.csv"
    logger, trainer = CSVLogger(path), FakeTrainer()
    trainer.fit([logger], LOGS)
    trainer.fit([logger], [{"loss": 1.0}])
    assert rows(path) == [["epoch", "loss"], ["0", "1.0"]]
    assert logger.csv_file.closed


def test_keys_come_from_the_first_epoch_and_missing_values_are_na(tmp_path):
    path = tmp_path / "log.csv"
    FakeTrainer().fit([CSVLogger(path)], [{"loss": 1.0}, {"val_loss": 2.0}])
    assert rows(path) == [["epoch", "loss"], ["0", "1.0"], ["1", "NA"]]


def test_arrays_and_strings(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"a": np.array([1, 2]), "b": np.float32(0.5), "c": "x", "d": np.array(3.0)}]
    FakeTrainer().fit([CSVLogger(path)], logs)
    assert rows(path)[1] == ["0", '"[1, 2]"', "0.5", "x", "3.0"]


@pytest.mark.parametrize("separator", ["", ";;", 1])
def test_a_separator_must_be_one_character(tmp_path, separator):
    with pytest.raises(ValueError, match=r"CSVLogger: separator.*separator=','"):
        CSVLogger(tmp_path / "log.csv", separator=separator)
