"""Average the gradients: after each rank's backward on its own share of the batch, every
rank holds the gradient of the whole batch.

With a loss that is a mean over the batch and shares of equal size, the mean of the ranks'
gradients is the gradient of the mean loss over the global batch, so N ranks with B / N samples
each take the same step as one process with B (up to rounding).
"""

from __future__ import annotations

from collections.abc import Iterable

from minicnn.backend import device_of, to_device
from minicnn.distributed import world
from minicnn.distributed.buckets import BUCKET_BYTES, check_bucket_bytes, pack, plan_buckets, unpack
from minicnn.distributed.parameters import named_parameters
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter


def allreduce_gradients(
    model_or_params: Module | Iterable[Parameter], *, bucket_bytes: int = BUCKET_BYTES
) -> None:
    """Replace every ``Parameter.grad`` by its mean over the ranks, in place.

    The gradients are concatenated per dtype into contiguous host buffers of at most
    ``bucket_bytes`` (64 MiB), each reduced by one in-place ``Allreduce`` (a sum), divided by
    the world size and copied back. Every rank must pass the same parameters in the same order
    (the same model): that order is the buffers' layout.

    A grad that is None (a parameter this rank's forward did not use) counts as zeros, as in
    PyTorch's DistributedDataParallel: the layout never depends on which grads exist, so no rank
    waits for a call the others skip. Each bucket also carries one count per parameter of the
    ranks that had its grad; a parameter that no rank had a grad for keeps ``grad = None``, one
    that some rank had gets the mean (sum / world size) on every rank. The identity in a world
    of one.
    """
    caller = "allreduce_gradients"
    bucket_bytes = check_bucket_bytes(bucket_bytes, caller)
    params = [param for _, param in named_parameters(model_or_params, caller)]
    comm = world.communicator()
    if comm is None or not params:
        return
    mpi = world.mpi()
    for bucket in plan_buckets(params, bucket_bytes):
        buffer = pack(bucket, [param.grad for param in bucket], extra=len(bucket))
        buffer[-len(bucket) :] = [param.grad is not None for param in bucket]
        comm.Allreduce(mpi.IN_PLACE, buffer, op=mpi.SUM)
        buffer /= comm.Get_size()
        had_grad = buffer[-len(bucket) :] > 0
        for (param, mean), some_rank_had_it in zip(unpack(buffer, bucket), had_grad, strict=True):
            if not some_rank_had_it:
                continue
            if param.grad is None:
                param.grad = to_device(mean.copy(), device_of(param.data))
            else:
                param.grad[...] = to_device(mean, device_of(param.grad))
