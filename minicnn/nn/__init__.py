"""Layers with explicit forward and backward, named as in ``torch.nn``."""

from minicnn.nn import init
from minicnn.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.dropout import Dropout
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Linear
from minicnn.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    FocalLoss,
    MSELoss,
    NLLLoss,
    class_weights,
)
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter
from minicnn.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, LPPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "Conv2d",
    "CrossEntropyLoss", "Dropout", "Flatten", "FocalLoss", "LPPool2d", "Linear", "LogSoftmax",
    "MSELoss", "MaxPool2d", "Module", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid",
    "Softmax", "Tanh", "class_weights", "init",
]
