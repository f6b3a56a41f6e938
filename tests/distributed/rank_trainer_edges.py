"""Run by test_mpi_trainer.py under mpiexec, in one of three modes (argument 2):

- 'nan': rank 1's first batch holds a NaN, TerminateOnNaN stops it: every rank must stop there;
- 'uneven': the ranks hold 64 and 72 samples: fit must refuse, on every rank, instead of hanging;
- 'ignored': lr 0 and unevenly ignored targets: the logs must equal one process's on all data.
Each rank writes rank<R>.json (its logs, or its error) to the output folder (argument 1)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import minicnn as mc
from minicnn import callbacks, distributed, nn, optim
from minicnn.data import DataLoader, TensorDataset

output, mode = Path(sys.argv[1]), sys.argv[2]
rank = distributed.rank()
mc.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64))
rng = np.random.default_rng(0)
x, y = rng.standard_normal((64, 4)), rng.integers(0, 3, 64)
result: dict = {}
if mode == "nan":
    if rank == 1:
        x[0, 0] = np.nan
    trainer = mc.Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    loader = DataLoader(TensorDataset(x, y), batch_size=8)  # each rank its own data
    history = trainer.fit(loader, epochs=3, callbacks=[callbacks.TerminateOnNaN()], verbose=0)
    result = {"epochs": len(history.history.get("loss", []))}
elif mode == "uneven":
    if rank == 1:  # 72 samples: 9 batches against rank 0's 8
        x, y = rng.standard_normal((72, 4)), rng.integers(0, 3, 72)
    trainer = mc.Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    try:
        trainer.fit(loader, epochs=1, verbose=0)
        result = {"error": None}
    except ValueError as error:
        result = {"error": str(error)}
elif mode == "ignored":
    y[rng.random(64) < 0.6] = -100
    loss = nn.CrossEntropyLoss(ignore_index=-100)
    trainer = mc.Trainer(model, loss, optim.SGD(model.parameters(), lr=0.0), metrics=["accuracy"])
    history = trainer.fit((x, y), epochs=1, validation_data=(x, y), verbose=0)
    result = {key: values[-1] for key, values in history.history.items()}
(output / f"rank{rank}.json").write_text(json.dumps(result))
