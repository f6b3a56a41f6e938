"""LambdaCallback: a callback made of plain functions, one per hook (Keras's)."""

from __future__ import annotations

from collections.abc import Callable

from minicnn.training.callbacks.base import Callback

# Keras's names for the training-batch hooks, which minicnn calls on_batch_begin / on_batch_end.
ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _bind(function: Callable, hook: str) -> Callable:
    """The hook calling ``function`` with all its arguments passed positionally, ``logs``
    included (None when the caller leaves it out), as Keras's functions expect them."""
    if hook in ("on_train_begin", "on_train_end"):
        return lambda logs=None: function(logs)
    return lambda index, logs=None: function(index, logs)


class LambdaCallback(Callback):
    """Call the given functions at the matching hooks, with the hook's positional arguments:
    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``,
    ``on_train_end(logs)``, ``on_batch_begin(batch, logs)``, ``on_batch_end(batch, logs)``.
    Keras's ``on_train_batch_begin`` / ``on_train_batch_end`` are accepted for the batch hooks;
    hooks left as None do nothing.
    """

    def __init__(
        self,
        on_epoch_begin: Callable | None = None,
        on_epoch_end: Callable | None = None,
        on_train_begin: Callable | None = None,
        on_train_end: Callable | None = None,
        on_batch_begin: Callable | None = None,
        on_batch_end: Callable | None = None,
        **kwargs: Callable,
    ) -> None:
        super().__init__()
        functions = {
            "on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin, "on_train_end": on_train_end,
            "on_batch_begin": on_batch_begin, "on_batch_end": on_batch_end,
        }
        for name, function in kwargs.items():
            hook = ALIASES.get(name)
            if hook is None:
                raise TypeError(
                    f"LambdaCallback got an unexpected argument {name!r}; the hooks are "
                    f"{', '.join(functions)} (or Keras's {', '.join(ALIASES)})"
                )
            if functions[hook] is not None:
                raise TypeError(
                    f"LambdaCallback got both {hook} and its Keras alias {name}; pass only one"
                )
            functions[hook] = function
        for hook, function in functions.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(
                    f"LambdaCallback: {hook} must be a function, got {type(function).__name__}"
                )
            setattr(self, hook, _bind(function, hook))
