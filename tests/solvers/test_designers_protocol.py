"""One protocol test run on every communication-only designer class."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from isaclearn.channels import DownlinkIsacScenario, RicianChannel
from isaclearn.core import Design, Designer, fro_norm_sq
from isaclearn.solvers import MMSE, MRT, WMMSE, ZF

DESIGNERS = [
    pytest.param(MRT, {}, "mrt", id="MRT"),
    pytest.param(ZF, {}, "zf", id="ZF"),
    pytest.param(MMSE, {}, "mmse", id="MMSE"),
    pytest.param(WMMSE, {"max_iter": 15}, "wmmse", id="WMMSE"),
]


@pytest.mark.parametrize(("cls", "kwargs", "name"), DESIGNERS)
def test_designer_protocol(cls, kwargs, name, cdtype, device, gen):
    scenario = DownlinkIsacScenario(channel=RicianChannel(num_antennas=6, num_users=4),
                                    snr_db=15.0, power=2.0, csi_error_mu=0.1)
    problem = scenario.sample(5, generator=gen, dtype=cdtype)
    designer = cls(**kwargs)
    assert isinstance(designer, Designer)
    assert designer.name == name
    for key, value in kwargs.items():  # the constructor only stores hyperparameters
        assert getattr(designer, key) == value

    design = designer.design(problem)
    assert isinstance(design, Design)
    w = design.w
    assert w.shape == (5, 6, 4) and w.dtype == cdtype and w.device == problem.h.device
    assert bool(torch.isfinite(w).all())
    # Power constraint ||W||_F^2 <= P, met with equality up to rounding.
    power = fro_norm_sq(w)
    rel = 1e-5 if cdtype == torch.complex64 else 1e-12
    assert bool((power <= 2.0 * (1 + rel)).all()) and bool((power >= 2.0 * (1 - 1e-4)).all())
    # Deterministic.
    assert torch.equal(designer.design(problem).w, w)
    # Uses the estimate, never the true channel.
    assert problem.h_est is not None
    swapped = replace(problem, h=problem.h_est, h_est=None)
    torch.testing.assert_close(designer.design(swapped).w, w, rtol=0.0, atol=0.0)


def test_wmmse_designer_info(gen):
    problem = DownlinkIsacScenario(channel=RicianChannel(num_antennas=6, num_users=4)).sample(
        3, generator=gen
    )
    design = WMMSE(max_iter=7, tol=0.0).design(problem)
    assert design.info["iterations"] == 7
    assert len(design.info["init_used"]) == 3
    assert set(design.info["init_used"]) <= {"mrt", "zf", "rzf"}
    assert design.info["objective"].shape == (3, 8)
    assert design.info["converged"].shape == (3,)
