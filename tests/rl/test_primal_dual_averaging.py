"""Our additions to the primal-dual steps (34)-(36): running averages of the iterates and the
augmented-Lagrangian damping of (34), checked against explicit loops of the formulas, the
closed-form eigenvalues of the linearized recursion, and the unchanged default numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.rl.primal_dual import PrimalDual, PrimalDualConfig

F64 = torch.float64


def _loop(rate: float, l_r: float, steps: int, *, tau: float, rho: float, ell: float = 3.0
          ) -> np.ndarray:
    """The printed steps (34)-(36), with the damping term, in plain Python floats, one user:
    rows (x, λ, μ) after each update."""
    x, lam, mu = 0.0, 1.0, 0.0
    out = []
    for _ in range(steps):
        x = min(max(x + tau * (1.0 - lam - rho * (x - rate)), 0.0), 20.0)
        lam = max(lam - tau * (rate - x), 0.0)
        mu = max(mu - tau * (ell - l_r), 0.0)
        out.append((x, lam, mu))
    return np.array(out)


def _run(cfg: PrimalDualConfig, rate: float, l_r: float, steps: int) -> tuple[PrimalDual,
                                                                                np.ndarray]:
    pd = PrimalDual(cfg, dtype=F64)
    rows = []
    for _ in range(steps):
        d = pd.update(torch.tensor([rate], dtype=F64), torch.tensor([l_r], dtype=F64))
        rows.append((float(d["x"][0]), float(d["lam"][0]), float(d["mu"][0])))
    return pd, np.array(rows)


def test_default_is_the_printed_recursion_and_never_damps() -> None:
    # constant rate 2: the undamped (x, λ) pair rotates around (2, 1) with unit determinant;
    # the amplitude of λ - 1 does not decay over many periods
    tau = 0.05
    pd, hist = _run(PrimalDualConfig(num_rates=1, tau_x=tau, tau_lambda=tau, tau_mu=tau),
                    2.0, 4.0, 2000)
    np.testing.assert_allclose(hist, _loop(2.0, 4.0, 2000, tau=tau, rho=0.0), atol=1e-12)
    assert pd.state.x_avg is None and "lam_avg" not in pd.update(
        torch.tensor([2.0], dtype=F64), torch.tensor([4.0], dtype=F64))
    swing_early = np.ptp(hist[200:700, 1])
    swing_late = np.ptp(hist[-500:, 1])
    assert swing_early > 0.5 and swing_late == pytest.approx(swing_early, rel=0.05)


def test_damping_matches_the_loop_and_converges_at_the_closed_form_rate() -> None:
    tau, rho = 0.05, 3.0  # overdamped: two distinct real eigenvalues
    cfg = PrimalDualConfig(num_rates=1, tau_x=tau, tau_lambda=tau, tau_mu=tau, damping=rho)
    pd, hist = _run(cfg, 2.0, 4.0, 3000)
    np.testing.assert_allclose(hist, _loop(2.0, 4.0, 3000, tau=tau, rho=rho), atol=1e-12)
    assert abs(hist[-1, 1] - 1.0) < 1e-6 and abs(hist[-1, 0] - 2.0) < 1e-6
    # linearized recursion of (e = x - r, λ): z' = A z with the eigenvalues of A giving the
    # decay of |λ - 1| per step; compare with the measured envelope
    a = np.array([[1 - tau * rho, -tau], [tau * (1 - tau * rho), 1 - tau * tau]])
    decay = max(abs(np.linalg.eigvals(a)))
    assert decay < 1.0
    err = np.abs(hist[:, 1] - 1.0)
    measured = (err[400] / err[300]) ** (1.0 / 100)
    assert measured == pytest.approx(decay, rel=1e-3)


def test_running_averages_equal_the_mean_of_the_iterates() -> None:
    tau = 0.05
    cfg = PrimalDualConfig(num_rates=1, tau_x=tau, tau_lambda=tau, tau_mu=tau, average=True)
    pd, hist = _run(cfg, 2.0, 2.5, 3000)
    s = pd.state
    assert s.x_avg is not None and s.lam_avg is not None and s.mu_avg is not None
    ref = hist.mean(0)
    np.testing.assert_allclose([float(s.x_avg[0]), float(s.lam_avg[0]), float(s.mu_avg[0])],
                               ref, rtol=1e-10)
    # the iterates are those of the default (reporting only)
    np.testing.assert_allclose(hist, _loop(2.0, 2.5, 3000, tau=tau, rho=0.0), atol=1e-12)
    # the ergodic mean of λ is far closer to the saddle value 1 than the iterates' swing
    assert abs(float(s.lam_avg[0]) - 1.0) < 0.05 < 0.5 < np.ptp(hist[-1000:, 1])
    # the averages travel through the state dict
    other = PrimalDual(cfg, dtype=F64)
    other.load_state_dict(pd.state_dict())
    assert other.state.lam_avg is not None and torch.equal(other.state.lam_avg, s.lam_avg)
    with pytest.raises(ShapeError):
        other.load_state_dict(PrimalDual(PrimalDualConfig(num_rates=1)).state_dict())


def test_bad_damping() -> None:
    with pytest.raises(ConfigError):
        PrimalDualConfig(num_rates=1, damping=-1.0)
    with pytest.raises(ConfigError):
        PrimalDualConfig(num_rates=1, damping=float("inf"))
