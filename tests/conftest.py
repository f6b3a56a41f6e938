"""Shared test settings: hypothesis profiles (HYPOTHESIS_PROFILE=thorough for 300 examples),
and one torch thread. pytest puts this folder on sys.path, so tests import torch_reference."""

import os

import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

torch.set_num_threads(1)
