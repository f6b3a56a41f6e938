"""The models the benchmarks train, written once for minicnn.nn, torch.nn and the textbook engine.

``build(lib)`` takes the library's layer namespace; this module imports none of them, so the
memory and start-up child processes can load it without importing PyTorch.
"""

from __future__ import annotations


def lenet5(lib):
    """LeNet-5 for 1x28x28 inputs."""
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(16 * 5 * 5, 120), lib.ReLU(),
        lib.Linear(120, 84), lib.ReLU(), lib.Linear(84, 10),
    )


def cifar_cnn(lib):
    """The small CIFAR CNN of issue 7, for 3x32x32 inputs."""
    return lib.Sequential(
        lib.Conv2d(3, 32, 3, padding=1), lib.ReLU(), lib.Conv2d(32, 32, 3, padding=1), lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Conv2d(32, 64, 3, padding=1), lib.ReLU(), lib.Conv2d(64, 64, 3, padding=1), lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(64 * 8 * 8, 256), lib.ReLU(), lib.Dropout(0.5),
        lib.Linear(256, 10),
    )


BUILDERS = {"lenet5": lenet5, "cifar_cnn": cifar_cnn}
# (name, builder, input shape): the training steps of python -m benchmarks
TRAINING_MODELS = [("LeNet-5 b64", lenet5, (64, 1, 28, 28)),
                   ("LeNet-5 b256", lenet5, (256, 1, 28, 28)),
                   ("CIFAR CNN b128", cifar_cnn, (128, 3, 32, 32))]
