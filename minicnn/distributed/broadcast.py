"""Start identical: rank root's parameters and optimizer state copied to every rank.

Call both once, after building the model and optimizer (and after loading a checkpoint on the
root), so that every rank starts from the same weights; averaged gradients then keep them equal.
"""

from __future__ import annotations

from collections.abc import Iterable

from minicnn.backend import device_of, to_device
from minicnn.distributed import world
from minicnn.distributed.buckets import BUCKET_BYTES, check_bucket_bytes, pack, plan_buckets, unpack
from minicnn.distributed.parameters import named_parameters
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter
from minicnn.optim.optimizer import Optimizer

_SAME_MODEL = (
    "every rank must build the same model (same layers, sizes and dtype) before broadcasting it"
)


def broadcast_parameters(
    model: Module | Iterable[Parameter], root: int = 0, *, bucket_bytes: int = BUCKET_BYTES
) -> None:
    """Copy rank ``root``'s parameters into every rank's, in place, in one ``Bcast`` per bucket.

    First every rank compares the parameters' shapes and dtypes with every other rank's: a
    difference raises the same ValueError on every rank (no rank is left waiting), naming the
    parameter. The identity in a world of one.
    """
    caller = "broadcast_parameters"
    root = world.check_root(root, caller)
    bucket_bytes = check_bucket_bytes(bucket_bytes, caller)
    named = named_parameters(model, caller)
    comm = world.communicator()
    if comm is None:
        return
    layout = [(name, tuple(param.shape), param.dtype.name) for name, param in named]
    _check_same_layout(comm.allgather(layout), root)
    for bucket in plan_buckets([param for _, param in named], bucket_bytes):
        buffer = pack(bucket, [param.data for param in bucket])
        comm.Bcast(buffer, root=root)
        if comm.Get_rank() != root:
            for param, value in unpack(buffer, bucket):
                param.data[...] = to_device(value, device_of(param.data))


def _check_same_layout(layouts: list[list[tuple]], root: int) -> None:
    """Raise, on every rank alike, if some rank's (name, shape, dtype) list differs from root's."""
    ours = layouts[root]
    for rank, theirs in enumerate(layouts):
        if len(theirs) != len(ours):
            raise ValueError(
                f"broadcast_parameters: rank {root} has {len(ours)} parameters, rank {rank} has "
                f"{len(theirs)}; {_SAME_MODEL}"
            )
        for (name, shape, dtype), (their_name, their_shape, their_dtype) in zip(
            ours, theirs, strict=True
        ):
            if (shape, dtype) != (their_shape, their_dtype):
                raise ValueError(
                    f"broadcast_parameters: parameter {name!r} has shape {shape} and dtype "
                    f"{dtype} on rank {root}, but {their_name!r} has shape {their_shape} and "
                    f"dtype {their_dtype} on rank {rank}; {_SAME_MODEL}"
                )


def broadcast_optimizer_state(optimizer: Optimizer, root: int = 0) -> None:
    """Load rank ``root``'s ``optimizer.state_dict()`` (hyper-parameters, momentum buffers,
    running averages, step counts) into every other rank's optimizer. If some rank cannot load
    it (another number of parameters or shapes), every rank raises the same ValueError. The
    identity in a world of one."""
    caller = "broadcast_optimizer_state"
    root = world.check_root(root, caller)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{caller}: expected a minicnn optimizer, got {type(optimizer).__name__}")
    comm = world.communicator()
    if comm is None:
        return
    state = _on_host(optimizer.state_dict()) if comm.Get_rank() == root else None
    state = comm.bcast(state, root=root)
    error = None
    if comm.Get_rank() != root:
        try:
            optimizer.load_state_dict(state)
        except (ValueError, TypeError) as failure:
            error = str(failure)
    for rank, message in enumerate(comm.allgather(error)):
        if message is not None:
            raise ValueError(
                f"{caller}: rank {rank} cannot load rank {root}'s optimizer state: {message}"
            )


def _on_host(state_dict: dict) -> dict:
    """The state_dict with GPU arrays copied to the host, to pickle them for the broadcast."""
    state = {
        index: {key: to_device(value, "cpu") if device_of(value) == "cuda" else value
                for key, value in values.items()}
        for index, values in state_dict["state"].items()
    }
    return {"state": state, "param_groups": state_dict["param_groups"]}
