"""Callbacks: early stopping, a learning rate that drops on plateaus, and best-only checkpoints.

``Trainer.fit`` runs epochs; after each one it hands ONE logs dict (``loss``, ``accuracy``,
``val_loss``, ``val_accuracy`` and ``lr``, the learning rate that epoch used) to every callback
in turn, and a callback may change the run. This example uses three together, as Keras does:

- ``EarlyStopping(monitor="val_loss", patience=P, restore_best_weights=True)``: stop once the
  validation loss has not improved for P epochs in a row, then load the weights of the best
  epoch back into the model (the last epochs were worse, that is why it stopped);
- ``ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)``: halve the learning rate
  each time the validation loss fails to improve, to take finer steps near a minimum;
- ``ModelCheckpoint(path, save_best_only=True)``: write the model to a file only in the epochs
  where the validation loss reaches a new best. ``path`` holds ``{epoch}`` and ``{val_loss}``,
  so every file written has its own name, and the last one is the best model.

The validation split is held out of the training digits: the model never trains on it, so its
loss measures generalisation. To make early stopping happen within seconds, the model trains
on a deliberately small set (1000 digits; 100 with ``--fast``) with Adam at a fairly high
learning rate (3e-3): it overfits in about ten epochs, the training loss keeps falling while the
validation loss stalls or turns back up, which is exactly the moment early stopping is for.

    python examples/callbacks.py [--train-size 1000] [--max-epochs 40] [--out DIR] [--plot PATH]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import minicnn as mc
from minicnn import nn, optim
from minicnn.data import DataLoader, Digits, TensorDataset


def small_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 24 -> 12
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # 12 -> 8 -> 4
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )


class EpochTable:
    """Print one row per epoch: the logs, the lr after the callbacks ran, and the checkpoint
    written in the epoch if any (a file in ``folder`` that is new or newer than before)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.written, self.rows = folder, [], []

    def _files(self) -> dict:
        return {path: path.stat().st_mtime_ns for path in self.folder.glob("*.npz")}

    def on_epoch_begin(self, epoch, logs) -> None:
        self.before = self._files()

    def on_epoch_end(self, epoch, logs, optimizer) -> None:
        new = [path for path, stamp in self._files().items() if self.before.get(path) != stamp]
        if new:
            self.written.append(new[0])
        lr_next = optimizer.param_groups[0]["lr"]
        reduced = f"-> {lr_next:.2g}" if lr_next != logs["lr"] else ""
        saved = new[0].name if new else "-"
        self.rows.append({**logs, "epoch": epoch + 1})
        print(f"{epoch + 1:>5} {logs['loss']:>8.4f} {logs['val_loss']:>9.4f} "
              f"{logs['val_accuracy']:>8.1%} {logs['lr']:>9.2g} {reduced:>10}  {saved}")


def save_plot(rows: list, best_epoch: int, path: str) -> bool:
    """Training and validation loss per epoch and the lr; False if matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    epochs = [row["epoch"] for row in rows]
    figure = Figure(figsize=(10, 4))
    losses, rates = figure.subplots(1, 2)
    losses.plot(epochs, [row["loss"] for row in rows], marker="o", label="training loss")
    losses.plot(epochs, [row["val_loss"] for row in rows], marker="o", label="validation loss")
    losses.axvline(best_epoch, color="gray", linestyle="--", label=f"best epoch ({best_epoch})")
    losses.set(xlabel="epoch", ylabel="cross-entropy", yscale="log",
               title="early stopping: the validation loss turns up")
    losses.legend()
    rates.step(epochs, [row["lr"] for row in rows], where="mid", marker="o")
    rates.set(xlabel="epoch", ylabel="learning rate", yscale="log",
              title="ReduceLROnPlateau halves it on each plateau")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def run(args, folder: Path) -> None:
    x, y = Digits(train=True).arrays()
    order = np.random.default_rng(args.seed).permutation(len(y))
    train_idx = order[: args.train_size]  # the validation split: other training digits
    val_idx = order[args.train_size : args.train_size + args.val_size]
    train = DataLoader(TensorDataset(x[train_idx], y[train_idx]), batch_size=16, shuffle=True,
                       seed=args.seed)
    val = DataLoader(TensorDataset(x[val_idx], y[val_idx]), batch_size=500)

    mc.manual_seed(args.seed)
    model = small_cnn()
    trainer = mc.Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=args.lr),
                         metrics=["accuracy"])
    early = mc.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience,
                                       restore_best_weights=True)
    reduce_lr = mc.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1,
                                               min_lr=1e-5)
    checkpoint = mc.callbacks.ModelCheckpoint(folder / "best-{epoch:02d}-{val_loss:.4f}.npz",
                                              monitor="val_loss", save_best_only=True)
    table = EpochTable(folder)
    show = mc.callbacks.LambdaCallback(  # last: it sees what the three others did this epoch
        on_epoch_begin=table.on_epoch_begin,
        on_epoch_end=lambda epoch, logs: table.on_epoch_end(epoch, logs, trainer.optimizer),
    )

    print(f"{len(train_idx)} training digits, {len(val_idx)} validation digits, Adam lr="
          f"{args.lr:g}, at most {args.max_epochs} epochs;\nEarlyStopping(patience="
          f"{args.patience}), ReduceLROnPlateau(factor=0.5, patience=1), "
          "ModelCheckpoint(save_best_only=True)")
    print(f"{'epoch':>5} {'loss':>8} {'val_loss':>9} {'val_acc':>8} {'lr used':>9} "
          f"{'new lr':>10}  checkpoint written")
    history = trainer.fit(train, epochs=args.max_epochs, validation_data=val,
                          callbacks=[early, reduce_lr, checkpoint, show], verbose=0)

    epochs_run = len(history.history["loss"])
    best_epoch = early.best_epoch + 1  # the hooks count epochs from 0, the table from 1
    if early.stopped_epoch:
        print(f"early stopping: stopped after epoch {epochs_run} of at most {args.max_epochs}, "
              f"{args.patience} epochs after the best one (epoch {best_epoch}, val_loss "
              f"{early.best:.4f})")
    else:
        print(f"no early stop: ran all {epochs_run} epochs; best epoch {best_epoch}")

    # The model now holds the best epoch's weights (restore_best_weights), and the last
    # checkpoint written is that same epoch's: compare them weight by weight.
    best_file = table.written[-1]
    saved = mc.load(best_file)  # the architecture and the weights, from the file alone
    restored, from_file = model.state_dict(), saved.state_dict()
    equal = restored.keys() == from_file.keys() and all(
        np.array_equal(restored[key], from_file[key]) for key in restored)
    print(f"best checkpoint: {best_file.name} (epoch {mc.load_checkpoint(best_file)['epoch']})")
    print(f"restored weights equal the best checkpoint: {equal}")
    fresh = small_cnn()
    mc.load_weights(fresh, best_file)  # weights into a model built in code
    checker = mc.Trainer(fresh, nn.CrossEntropyLoss(), optim.SGD(fresh.parameters()))
    print(f"val_loss: last epoch {history.history['val_loss'][-1]:.4f}, restored model "
          f"{trainer.evaluate(val)['loss']:.4f}, checkpoint loaded into a new model "
          f"{checker.evaluate(val)['loss']:.4f}")
    print(f"{len(table.written)} checkpoints written to {folder}")
    if args.plot:
        if save_plot(table.rows, best_epoch, args.plot):
            print(f"plot saved to {args.plot}")
        else:
            print("(install matplotlib to save the plot: pip install minicnn[plot])")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--val-size", type=int, default=1000)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=3, help="EarlyStopping's patience")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", metavar="DIR", help="where the checkpoints go (default: a "
                        "temporary folder, deleted at the end)")
    parser.add_argument("--plot", metavar="PATH", help="save the loss and lr curves (PNG)")
    parser.add_argument("--fast", action="store_true",
                        help="a quick run: 100 training and 300 validation digits, 30 epochs")
    args = parser.parse_args(argv)
    if args.fast:
        args.train_size, args.val_size, args.max_epochs = 100, 300, 30

    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        run(args, folder)
    else:
        with tempfile.TemporaryDirectory(prefix="minicnn-callbacks-") as temporary:
            run(args, Path(temporary))
            print("(the temporary folder is deleted now; pass --out DIR to keep the files)")


if __name__ == "__main__":
    main()
