"""Shared fixtures: every test runs on each available device, with a fixed seed."""

from __future__ import annotations

import pytest
import torch

from isaclearn.core import make_generator

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# The tests use small tensors, for which intra-op threads cost more than they give (measured 2-3x
# slower with two threads on the 2-core CI machine); one thread also keeps timings stable.
torch.set_num_threads(1)


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[torch.complex64, torch.complex128], ids=["c64", "c128"])
def cdtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def gen(device: str) -> torch.Generator:
    return make_generator(1234, device)
