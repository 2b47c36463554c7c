"""ding_dt: the PCRB against a Monte-Carlo EKF inside the digital twin (spec §7 "PCRB vs Monte
Carlo").

One vehicle drives past RSU 1 at 30 m/s, served by RSU 1 with f = √P a(φ̂) in every slot; ``R``
independent runs (batched) differ in the track-start error and the measurement noise. The
steady-state mean squared error of each state component over the runs must lie in
PCRB·[1 − 3√(2/R), 1.2], the mean NEES must lie in the 95 % band of χ²₃ averaged over ``R``
runs, and the RMSE must show no spike above 3× its steady level where the vehicle crosses
φ = 0 (the vehicle is exactly at x = 0 in one slot, inside the guard of (19)).
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from isaclearn.channels.highway import Traffic, steering
from isaclearn.core.design import Design
from isaclearn.core.random import make_generator
from isaclearn.systems.ding_dt import make_settings, run_twin
from isaclearn.systems.ding_dt.evaluation import TwinProblem


class Pin:
    """Every vehicle served by RSU 1 with the full-power beam at the predicted angle."""

    name = "pin"

    def design(self, p: TwinProblem) -> Design:
        w = torch.zeros_like(p.h)
        w[:, 0] = steering(p.num_tx, p.state[:, 0, :, 0]) * math.sqrt(p.power)
        return Design(w=w, extras={"assign": torch.zeros_like(p.mask, dtype=torch.int64)})


def _monte_carlo(runs: int, slots: int, x_start: float, antennas: int
                 ) -> dict[str, torch.Tensor]:
    s = make_settings(num_antennas=antennas, power_db=0.0, sensing_constraint="none")
    hw = s.highway
    one = torch.ones(runs, 1, dtype=torch.float64)
    tr = Traffic(arrival_s=-(x_start + hw.half_length_m) / 30.0 * one, direction=one,
                 speed_mps=30.0 * one, lane_y_m=hw.lane_y_m[0] * one,
                 mask=torch.ones(runs, 1, dtype=torch.bool), wrap=False)
    trace = run_twin(s, tr, Pin(), slots, generator=make_generator(3), record=True)
    assert trace.records is not None
    err = torch.stack([r["err"][:, 0] for r in trace.records])  # [T, R, 3]
    cov = torch.stack([r["cov"][:, 0] for r in trace.records])
    bound = torch.stack([r["bound_diag"][:, 0] for r in trace.records])
    truth = torch.stack([r["state_true"][:, 0] for r in trace.records])
    nees = (err[..., None, :] @ torch.linalg.solve(cov, err[..., None]))[..., 0, 0]
    return {"mse": err.square().mean(1), "pcrb": bound.mean(1), "nees": nees.mean(1),
            "phi": truth[:, 0, 0]}


def _check(runs: int, slots: int, x_start: float, settle: int, antennas: int = 32) -> None:
    mc = _monte_carlo(runs, slots, x_start, antennas)
    w = slice(settle, slots)
    ratio = mc["mse"][w].mean(0) / mc["pcrb"][w].mean(0)  # per component
    low = 1 - 3 * math.sqrt(2 / runs)
    assert bool((ratio >= low).all()) and bool((ratio <= 1.2).all()), ratio
    # NEES: mean over the runs of a chi2_3 variable, averaged over the window's slots
    band = (stats.chi2.ppf(0.025, 3 * runs) / runs, stats.chi2.ppf(0.975, 3 * runs) / runs)
    per_slot = mc["nees"][w]
    inside = ((per_slot >= band[0]) & (per_slot <= band[1])).double().mean()
    assert float(inside) >= 0.85, (per_slot, band)  # 95 % expected per slot
    assert band[0] <= float(per_slot.mean()) <= band[1] + 0.05
    # the phi = 0 crossing: the vehicle is exactly at x = 0 in one slot
    cross = int(mc["phi"].abs().argmin())
    assert float(mc["phi"][cross].abs()) < 1e-9
    rmse = mc["mse"].sqrt()
    steady = rmse[w].median(0).values
    near = rmse[max(settle, cross - 3):cross + 4]
    assert bool((near <= 3 * steady).all()), (near, steady)


def test_pcrb_bounds_a_monte_carlo_ekf_small() -> None:
    """100 runs, N = 16, 20 slots crossing phi = 0 at slot 10 (fast version)."""
    _check(runs=100, slots=20, x_start=-6.0, settle=3, antennas=16)


@pytest.mark.slow
def test_pcrb_bounds_a_monte_carlo_ekf() -> None:
    """10^4 runs over 100 slots (the vehicle from x = -30 m, at x = 0 in slot 50)."""
    _check(runs=10_000, slots=100, x_start=-30.0, settle=5)
