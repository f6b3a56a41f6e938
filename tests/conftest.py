"""Shared test settings: hypothesis profiles (HYPOTHESIS_PROFILE=thorough for 300 fresh random
examples per property; 'gpu' for 25), and one torch thread. pytest puts this folder on
sys.path, so tests import torch_reference and gpu_support."""

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
# 'gpu': fewer examples, for the GPU suite's short runs on a lent machine.
settings.register_profile(
    "gpu", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

torch.set_num_threads(1)
