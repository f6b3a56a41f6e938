"""Shared test settings: hypothesis profiles (HYPOTHESIS_PROFILE=thorough for 300 fresh random
examples per property), and one torch thread. pytest puts this folder on sys.path, so tests
import torch_reference."""

import os

import torch
from hypothesis import HealthCheck, settings

# The default profile (CI, the README's command) draws the same examples every run, so that a
# run's verdict does not depend on luck; 'thorough' explores new random examples each time.
settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

torch.set_num_threads(1)
