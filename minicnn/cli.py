"""The ``minicnn`` command. ``minicnn train`` trains a LeNet-style CNN on the embedded digits
(offline, by default) or on MNIST / Fashion-MNIST, and prints the test accuracy;
``minicnn gradcheck LAYER`` checks a layer's backward by finite differences."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from minicnn import cli_gradcheck

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
DATASETS = ("digits", "mnist", "fashion-mnist")


def lenet5(dropout: float = 0.25):
    """LeNet-5 with ReLU and max pooling, for (N, 1, 28, 28) images and 10 classes."""
    from minicnn import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def load_datasets(name: str, data_dir: str | None, download: bool):
    """(train, test) datasets: the embedded digits, or MNIST / Fashion-MNIST from data_dir."""
    from minicnn import data

    if name == "digits":
        return data.Digits(train=True), data.Digits(train=False)
    if data_dir is None:
        raise SystemExit(f"minicnn train: --dataset {name} needs --data-dir (the folder of its "
                         "IDX files; add --download to fetch them)")
    dataset = data.MNIST if name == "mnist" else data.FashionMNIST
    return dataset(data_dir, True, download), dataset(data_dir, False, download)


def make_optimizer(name: str, params, lr: float | None):
    from minicnn import optim

    defaults = {"adam": 1e-3, "adamw": 1e-3, "sgd": 0.05, "rmsprop": 1e-3, "adagrad": 1e-2}
    lr = defaults[name] if lr is None else lr
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    classes = {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
               "adagrad": optim.Adagrad}
    return classes[name](params, lr=lr)


def continue_schedule(optimizer, epoch: int, epochs: int) -> None:
    """On resuming at ``epoch``: keep the checkpoint's learning rate when it is where this
    run's cosine schedule (over ``epochs``, from this run's lr) would be, so that the run is
    exactly the uninterrupted one; otherwise (another --epochs or --lr) move it there."""
    base_lr = optimizer.defaults["lr"]
    expected = base_lr * (1 + math.cos(math.pi * epoch / epochs)) / 2
    for group in optimizer.param_groups:
        if not math.isclose(group["lr"], expected, rel_tol=1e-9, abs_tol=1e-15):
            print(f"learning rate {group['lr']:.3g} -> {expected:.3g}: the cosine schedule now "
                  f"spans {epochs} epochs from lr {base_lr:g}")
            group["lr"] = expected
        group["initial_lr"] = base_lr


def train(args: argparse.Namespace) -> float:
    """Train and evaluate; returns the test accuracy."""
    import minicnn as mc
    from minicnn import callbacks, nn, optim
    from minicnn.data import DataLoader

    if args.device == "cuda" and not mc.cuda.is_available():
        raise SystemExit("minicnn train: --device cuda needs CuPy (pip install minicnn[gpu]) "
                         "and an NVIDIA GPU; none was found")
    primary = True
    if args.distributed:
        from minicnn import distributed

        distributed.init()
        primary = distributed.is_primary()
        if distributed.world_size() == 1:
            print("--distributed: not launched by mpiexec (or no mpi4py: pip install "
                  "minicnn[mpi]); training as one process")
    say = print if primary else (lambda *_: None)  # rank 0 alone reports
    mc.manual_seed(args.seed)
    train_set, test_set = load_datasets(args.dataset, args.data_dir, args.download)
    model = lenet5().to(args.device)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr)
    initial_epoch = 0
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    if checkpoint is not None and checkpoint.exists():
        state = mc.load_checkpoint(checkpoint)
        model.load_state_dict(state["model"].state_dict())
        if state["optimizer"] is not None:
            optimizer.load_state_dict(state["optimizer"])
        initial_epoch = state["epoch"] or 0
        if state["rng_state"] is not None:  # Dropout masks continue where they stopped
            mc.random.set_state(state["rng_state"])
        say(f"resuming from {checkpoint} after epoch {initial_epoch}")
    say(f"{type(train_set).__name__}: {len(train_set)} training and {len(test_set)} test images")
    if args.verbose:
        say(model.summary((1, 28, 28)))
    trainer = mc.Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=["accuracy"])
    shard = {"shard": True} if args.distributed else {}  # each rank its share of the images
    train_loader = DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed,
                              device=args.device, **shard)
    test_loader = DataLoader(test_set, 500, device=args.device)
    # the learning rate follows half a cosine down to 0 over the epochs (lr_scheduler's rule)
    if initial_epoch:
        continue_schedule(optimizer, initial_epoch, args.epochs)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs,
                                                    last_epoch=initial_epoch - 1)
    hooks = [callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: schedule.step())]
    if checkpoint is not None and primary:
        hooks.append(callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: mc.save(model, checkpoint, optimizer=optimizer,
                                                     epoch=epoch + 1)
        ))
    start = time.perf_counter()
    trainer.fit(train_loader, epochs=args.epochs, validation_data=test_loader, callbacks=hooks,
                initial_epoch=initial_epoch, verbose=args.verbose if primary else 0)
    accuracy = trainer.evaluate(test_loader)["accuracy"]
    say(f"test accuracy: {accuracy:.2%} ({len(test_set)} images), trained in "
          f"{time.perf_counter() - start:.1f}s")
    return accuracy


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="minicnn", description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)
    run = commands.add_parser("train", help="train a LeNet-style CNN and print its test accuracy")
    run.add_argument("--dataset", choices=DATASETS, default="digits",
                     help="digits (embedded, offline; the default), mnist or fashion-mnist")
    run.add_argument("--data-dir", help="the folder of the MNIST / Fashion-MNIST IDX files")
    run.add_argument("--download", action="store_true", help="fetch missing IDX files")
    run.add_argument("--epochs", type=int, default=20)
    run.add_argument("--batch-size", type=int, default=32)
    run.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    run.add_argument("--lr", type=float, help="learning rate (default: the optimizer's usual)")
    run.add_argument("--checkpoint", help="save model, optimizer and epoch here after every "
                                          "epoch; resume from it when it exists")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                     help="train on the CPU (NumPy + Numba) or on an NVIDIA GPU (CuPy)")
    run.add_argument("--distributed", action="store_true",
                     help="data-parallel over the ranks of `mpiexec -n N` (pip install "
                          "minicnn[mpi]); each rank takes its share of every epoch")
    run.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    cli_gradcheck.add_parser(commands)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "gradcheck":
        return cli_gradcheck.run(args)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
