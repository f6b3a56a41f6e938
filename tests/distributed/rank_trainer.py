"""Run by test_mpi_trainer.py under mpiexec: Trainer.fit on (x, y) arrays with EarlyStopping,
ReduceLROnPlateau and ModelCheckpoint; each rank writes its history, its decisions and its
final parameters to rank<R>.npz in the output folder (argument 1). Rank 1 starts from other
weights on purpose: fit must broadcast rank 0's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import minicnn as mc
from minicnn import callbacks, distributed, nn, optim

output = Path(sys.argv[1])
rank = distributed.rank()
mc.manual_seed(rank)  # different initial weights per rank
model = nn.Sequential(nn.Linear(6, 16, dtype=np.float64), nn.Tanh(),
                      nn.Linear(16, 3, dtype=np.float64))
rng = np.random.default_rng(0)  # the same data on every rank
x, y = rng.standard_normal((96, 6)), rng.integers(0, 3, 96)
x_val, y_val = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)  # unrelated: overfitting
optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
trainer = mc.Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=["accuracy"])
stopper = callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
hooks = [stopper, callbacks.ReduceLROnPlateau(monitor="val_loss", patience=0, factor=0.5),
         callbacks.ModelCheckpoint(str(output / f"best-rank{rank}.npz"), save_best_only=True)]
history = trainer.fit((x, y), epochs=25, validation_data=(x_val, y_val), callbacks=hooks,
                      verbose=2)
np.savez(output / f"rank{rank}.npz", history=json.dumps(history.history),
         stopped=stopper.stopped_epoch, world=distributed.world_size(),
         lr=optimizer.param_groups[0]["lr"],
         **{key: value for key, value in model.state_dict().items()})
