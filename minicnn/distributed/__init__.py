"""Data-parallel training over MPI, Horovod's way: ``pip install minicnn[mpi]``, then
``mpiexec -n 4 python train.py``.

Every rank (process) holds the whole model and reads its own share of each batch; after the
backward, the gradients are averaged over the ranks, so every rank takes the same step and the
parameters stay identical, as if one process had trained on the whole batch::

    from minicnn import distributed, nn, optim
    from minicnn.data import DataLoader

    distributed.init()                                    # a world of 1 without mpiexec
    model = ...
    optimizer = distributed.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
    distributed.broadcast_parameters(model)               # every rank starts from rank 0's
    distributed.broadcast_optimizer_state(optimizer)
    loader = DataLoader(dataset, batch_size=64, shuffle=True, seed=0, shard=True)  # per rank
    for x, y in loader:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(); model.backward(loss_fn.backward())
        optimizer.step()                                  # allreduce, then the update

Without an MPI launcher everything here is the identity on a world of one, and mpi4py is not
imported (``import minicnn`` never imports it). In a world of more than one, an uncaught
exception on any rank ends the whole job with that rank's traceback (``install_abort_handler``).
"""

from minicnn.distributed.abort import install_abort_handler
from minicnn.distributed.allreduce import allreduce_gradients
from minicnn.distributed.broadcast import broadcast_optimizer_state, broadcast_parameters
from minicnn.distributed.collectives import any_rank, average, broadcast_object, gather, total
from minicnn.distributed.optimizer import DistributedOptimizer
from minicnn.distributed.sampler import DistributedSampler
from minicnn.distributed.world import (
    barrier,
    init,
    is_initialized,
    is_primary,
    rank,
    world_size,
)

__all__ = [
    "DistributedOptimizer", "DistributedSampler", "allreduce_gradients", "any_rank", "average",
    "barrier", "broadcast_object", "broadcast_optimizer_state", "broadcast_parameters", "gather",
    "init", "install_abort_handler", "is_initialized", "is_primary", "rank", "total",
    "world_size",
]
