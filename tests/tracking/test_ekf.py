"""The batched EKF (isaclearn.tracking.ekf) against filterpy, closed forms and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from filterpy.kalman import ExtendedKalmanFilter as FpEKF
from filterpy.kalman import KalmanFilter as FpKF
from scipy.stats import chi2

from isaclearn.core import ConfigError, ShapeError, SolverError, ValueRangeError, make_generator
from isaclearn.tracking import (
    ExtendedKalmanFilter,
    ekf_predict,
    ekf_update,
    value_and_jacobian,
)

F64 = torch.float64


def _spd(*batch: int, n: int, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    a = torch.randn(*batch, n, n, dtype=F64, generator=gen)
    return scale * (a @ a.mT / n + 0.5 * torch.eye(n, dtype=F64))


# -------------------------------------------------------------------- models used by the tests


def _cv_matrix(dt: torch.Tensor) -> torch.Tensor:
    """Constant-velocity transition [px, py, vx, vy] for one step of length ``dt``."""
    f = torch.eye(4, dtype=dt.dtype, device=dt.device)
    return f + dt * torch.tensor([[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
                                 dtype=dt.dtype, device=dt.device)


def _cv_g(x: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    return _cv_matrix(dt) @ x


def _pos_h(x: torch.Tensor) -> torch.Tensor:
    return x[:2]


DT = 0.1
DRAG = 0.05


def _drag_g(x: torch.Tensor) -> torch.Tensor:
    """Nonlinear transition: p' = p + T v, v' = v − T c‖v‖v (quadratic drag)."""
    p, v = x[:2], x[2:]
    return torch.cat([p + DT * v, v - DT * DRAG * torch.linalg.vector_norm(v) * v])


def _drag_g_np(x: np.ndarray) -> np.ndarray:
    p, v = x[:2], x[2:]
    return np.concatenate([p + DT * v, v - DT * DRAG * np.linalg.norm(v) * v])


def _drag_jac_np(x: np.ndarray) -> np.ndarray:
    v = x[2:, 0]
    s = np.linalg.norm(v)
    jac = np.eye(4)
    jac[:2, 2:] = DT * np.eye(2)
    jac[2:, 2:] = np.eye(2) - DT * DRAG * (s * np.eye(2) + np.outer(v, v) / s)
    return jac


def _rb_h(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Range and bearing of the position from a sensor at ``s`` (a per-element argument)."""
    dx, dy = x[0] - s[0], x[1] - s[1]
    return torch.stack([torch.sqrt(dx * dx + dy * dy), torch.atan2(dy, dx)])


def _rb_h_np(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    dx, dy = x[0, 0] - s[0], x[1, 0] - s[1]
    return np.array([[math.hypot(dx, dy)], [math.atan2(dy, dx)]])


def _rb_jac_np(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    dx, dy = x[0, 0] - s[0], x[1, 0] - s[1]
    r2 = dx * dx + dy * dy
    r = math.sqrt(r2)
    return np.array([[dx / r, dy / r, 0.0, 0.0], [-dy / r2, dx / r2, 0.0, 0.0]])


def _rb_jac_torch(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    dx, dy = x[0] - s[0], x[1] - s[1]
    r2 = dx * dx + dy * dy
    r = torch.sqrt(r2)
    z = torch.zeros_like(r)
    return torch.stack([torch.stack([dx / r, dy / r, z, z]),
                        torch.stack([-dy / r2, dx / r2, z, z])])


T_SLOT, FC, C = 0.02, 30e9, 3e8


def _cosine_law_g(x: torch.Tensor) -> torch.Tensor:
    """ding_dt's (19) in the (u, d_n) form: straight-line motion of x = [φ, d, v̇]."""
    phi, d, vdot = x[0], x[1], x[2]
    v = vdot / phi
    d_n = torch.sqrt(d * d + v * v * T_SLOT**2 - 2 * d * vdot * T_SLOT)
    phi_n = (d * phi - v * T_SLOT) / d_n
    return torch.stack([phi_n, d_n, v * phi_n])


def _echo_h(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """A ding_dt-like observation with a complex per-element beam ``f`` ``[N]``: the echo
    b(φ)aᴴ(φ)f / d stacked as [Re, Im], then the delay and Doppler scaled to O(1)."""
    n = f.shape[-1]
    idx = torch.arange(n, dtype=x.dtype)
    steer = torch.exp(-1j * math.pi * idx * x[0]) / math.sqrt(n)
    r = steer * (steer.conj() @ f) / x[1]
    return torch.cat([r.real, r.imag, torch.stack([2 * x[1] / C * 1e7, 2 * x[2] * FC / C])])


# ------------------------------------------------------------------ (1) linear limit vs filterpy


def test_linear_limit_equals_filterpy_kalman_filter_step_by_step() -> None:
    gen = make_generator(11)
    b, k, n, m, steps = 2, 3, 4, 2, 20
    dt = 0.05 + 0.2 * torch.rand(b, k, generator=gen, dtype=F64)  # per-element transition arg
    x = torch.randn(b, k, n, dtype=F64, generator=gen)
    cov = _spd(b, k, n=n, gen=gen)
    e_cov = _spd(b, k, n=n, gen=gen, scale=0.01)  # full process noise per element
    r_var = 0.1 + torch.rand(b, k, m, generator=gen, dtype=F64)  # diagonal per element
    ys = 3 * torch.randn(steps, b, k, m, dtype=F64, generator=gen)

    kfs = []
    for i in range(b):
        for j in range(k):
            kf = FpKF(dim_x=n, dim_z=m)
            kf.x = x[i, j].numpy().reshape(n, 1).copy()
            kf.P = cov[i, j].numpy().copy()
            kf.F = _cv_matrix(dt[i, j]).numpy()
            kf.Q = e_cov[i, j].numpy()
            kf.H = np.eye(m, n)
            kf.R = np.diag(r_var[i, j].numpy())
            kfs.append(kf)

    for t in range(steps):
        pred = ekf_predict(x, cov, _cv_g, e_cov, dt)  # one call for all B*K filters
        upd = ekf_update(pred.x, pred.cov, ys[t], _pos_h, r_var)
        for kf in kfs:
            kf.predict()
        want_xp = torch.tensor(np.stack([kf.x[:, 0] for kf in kfs])).reshape(b, k, n)
        want_pp = torch.tensor(np.stack([kf.P for kf in kfs])).reshape(b, k, n, n)
        for idx, kf in enumerate(kfs):
            kf.update(ys[t].reshape(-1, m)[idx].numpy())
        want_x = torch.tensor(np.stack([kf.x[:, 0] for kf in kfs])).reshape(b, k, n)
        want_p = torch.tensor(np.stack([kf.P for kf in kfs])).reshape(b, k, n, n)
        want_s = torch.tensor(np.stack([kf.S for kf in kfs])).reshape(b, k, m, m)
        torch.testing.assert_close(pred.x, want_xp, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(pred.cov, want_pp, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(upd.x, want_x, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(upd.cov, want_p, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(upd.innovation_cov, want_s, rtol=1e-10, atol=1e-10)
        x, cov = upd.x, upd.cov


# --------------------------------------------------------- (2) nonlinear model vs filterpy's EKF


@pytest.mark.parametrize("user_jacobian", [False, True], ids=["jacfwd", "user"])
def test_nonlinear_model_equals_filterpy_ekf(user_jacobian: bool) -> None:
    gen = make_generator(12)
    b, k, n, m, steps = 2, 2, 4, 2, 15
    x = torch.tensor([20.0, 10.0, 3.0, 1.0], dtype=F64) + torch.randn(b, k, n, generator=gen,
                                                                       dtype=F64)
    cov = _spd(b, k, n=n, gen=gen)
    e_var = torch.tensor([1e-3, 1e-3, 1e-2, 1e-2], dtype=F64).expand(b, k, n)
    sensor = torch.randn(b, k, 2, dtype=F64, generator=gen)  # per-element extra argument
    r_var = torch.tensor([0.1, 1e-3], dtype=F64).expand(b, k, m)
    ekf = ExtendedKalmanFilter(_drag_g, _rb_h, e_var,
                               observation_jacobian_fn=_rb_jac_torch if user_jacobian else None)

    fps = []
    for i in range(b):
        for j in range(k):
            f = FpEKF(dim_x=n, dim_z=m)
            f.x = x[i, j].numpy().reshape(n, 1).copy()
            f.P = cov[i, j].numpy().copy()
            f.Q = np.diag(e_var[i, j].numpy())
            f.R = np.diag(r_var[i, j].numpy())

            def predict_x(u: object = 0, f: FpEKF = f) -> None:
                f.x = _drag_g_np(f.x)

            f.predict_x = predict_x
            fps.append((f, sensor[i, j].numpy()))

    for _ in range(steps):
        pred = ekf.predict(x, cov)
        # measurements around the prediction, so that the bearing never wraps
        y = pred.x[..., :2].new_empty(b, k, m)
        y[..., 0] = torch.linalg.vector_norm(pred.x[..., :2] - sensor, dim=-1) + 0.3
        y[..., 1] = torch.atan2(pred.x[..., 1] - sensor[..., 1],
                                pred.x[..., 0] - sensor[..., 0]) - 0.02
        upd = ekf.update(pred.x, pred.cov, y, r_var, sensor)
        for idx, (f, s) in enumerate(fps):
            f.F = _drag_jac_np(f.x)
            f.predict()
            f.update(y.reshape(-1, m)[idx].numpy().reshape(m, 1), _rb_jac_np, _rb_h_np,
                     args=(s,), hx_args=(s,))
        want_x = torch.tensor(np.stack([f.x[:, 0] for f, _ in fps])).reshape(b, k, n)
        want_p = torch.tensor(np.stack([f.P for f, _ in fps])).reshape(b, k, n, n)
        torch.testing.assert_close(upd.x, want_x, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(upd.cov, want_p, rtol=1e-10, atol=1e-10)
        x, cov = upd.x, upd.cov


# ------------------------------------------------------------ (3) Jacobians vs finite differences


def _central_fd(fn: object, x: torch.Tensor, *args: torch.Tensor, step: float = 1e-6
                ) -> torch.Tensor:
    n = x.shape[-1]
    cols = []
    for j in range(n):
        dx = torch.zeros(n, dtype=F64)
        dx[j] = step * x[..., j].abs().clamp_min(1.0).max()
        hi, _ = value_and_jacobian(fn, x + dx, *args)  # type: ignore[arg-type]
        lo, _ = value_and_jacobian(fn, x - dx, *args)  # type: ignore[arg-type]
        cols.append((hi - lo) / (2 * dx[j]))
    return torch.stack(cols, dim=-1)


def test_jacfwd_equals_central_finite_differences() -> None:
    gen = make_generator(13)
    b, k, nt = 2, 3, 8
    # [φ, d, v̇] with |φ| away from 0 and a vehicle moving along the road
    phi = 0.2 + 0.6 * torch.rand(b, k, generator=gen, dtype=F64)
    d = 20.0 + 10 * torch.rand(b, k, generator=gen, dtype=F64)
    x = torch.stack([phi, d, 30.0 * phi], dim=-1)
    _, g_jac = value_and_jacobian(_cosine_law_g, x)
    g_fd = _central_fd(_cosine_law_g, x)
    torch.testing.assert_close(g_jac, g_fd, rtol=1e-6, atol=1e-6 * g_fd.abs().max().item())

    beam = torch.randn(b, k, nt, dtype=torch.complex128, generator=gen)  # complex extra arg
    y, h_jac = value_and_jacobian(_echo_h, x, beam)
    assert y.shape == (b, k, 2 * nt + 2) and h_jac.shape == (b, k, 2 * nt + 2, 3)
    h_fd = _central_fd(_echo_h, x, beam)
    torch.testing.assert_close(h_jac, h_fd, rtol=1e-6, atol=1e-6 * h_fd.abs().max().item())


# ----------------------------------------------------------- (4) Joseph form = information form


@pytest.mark.parametrize("full_q", [False, True], ids=["diag_q", "full_q"])
def test_joseph_covariance_equals_information_form(full_q: bool, device: str) -> None:
    gen = make_generator(14)
    b, k, n, m = 3, 4, 3, 5
    x = torch.randn(b, k, n, dtype=F64, generator=gen)
    cov = _spd(b, k, n=n, gen=gen)
    h_mat = torch.randn(b, k, m, n, dtype=F64, generator=gen)  # per-element linear h
    q_var = 0.05 + torch.rand(b, k, m, dtype=F64, generator=gen)
    q = _spd(b, k, n=m, gen=gen, scale=0.2) if full_q else torch.diag_embed(q_var)
    y = torch.randn(b, k, m, dtype=F64, generator=gen)
    x, cov, h_mat, q, q_var, y = (t.to(device) for t in (x, cov, h_mat, q, q_var, y))
    upd = ekf_update(x, cov, y, lambda s, hm: hm @ s, q if full_q else q_var, h_mat)
    assert upd.x.device.type == upd.cov.device.type == upd.nis.device.type == device
    q_inv = torch.linalg.inv(q)
    info = torch.linalg.inv(cov) + h_mat.mT @ q_inv @ h_mat  # (35)/(36)
    want_cov = torch.linalg.inv(info)
    torch.testing.assert_close(upd.cov, want_cov, rtol=1e-9, atol=1e-12)
    # and the state: x̃ = x̂ + M̃ Hᵀ Q⁻¹ (y − H x̂) (the information-form gain)
    want_x = x + (want_cov @ h_mat.mT @ q_inv @ (y - (h_mat @ x[..., None])[..., 0])[..., None]
                  )[..., 0]
    torch.testing.assert_close(upd.x, want_x, rtol=1e-9, atol=1e-12)


# ------------------------------------------------ (5) mask and +inf variances: exact, no NaN


def test_masked_elements_unchanged_and_nan_free(device: str) -> None:
    gen = make_generator(15)
    b, k, n, m = 2, 4, 3, 4
    mask = torch.tensor([[True, True, False, False], [True, False, True, False]])
    x = torch.randn(b, k, n, dtype=F64, generator=gen) + 2.0
    cov = _spd(b, k, n=n, gen=gen)
    x[~mask] = 0.0  # padding: h divides by x[1] = 0, covariance singular, measurement NaN
    cov[~mask] = 0.0
    y = torch.randn(b, k, m, dtype=F64, generator=gen)
    y[~mask] = math.nan

    def h(s: torch.Tensor) -> torch.Tensor:
        return torch.stack([s[0] / s[1], s[1], s[2] ** 2, s[0] * s[2]])

    def g(s: torch.Tensor) -> torch.Tensor:
        return torch.stack([s[0] + 0.1 / s[1], s[1], s[2]])

    r_var = torch.full((b, k, m), 0.1, dtype=F64)
    x, cov, y, mask, r_var = (t.to(device) for t in (x, cov, y, mask, r_var))
    for gain in ("standard", "paper"):
        upd = ekf_update(x, cov, y, h, r_var, mask=mask, gain=gain)  # type: ignore[arg-type]
        assert torch.equal(upd.x[~mask], x[~mask]) and torch.equal(upd.cov[~mask], cov[~mask])
        for name in ("x", "cov", "innovation", "innovation_cov", "gain", "jacobian", "y_pred",
                     "nis"):
            assert torch.isfinite(getattr(upd, name)).all(), (gain, name)
        assert (upd.dof[~mask] == 0).all() and (upd.dof[mask] == m).all()
        # active elements equal the same update run on them alone
        ref = ekf_update(x[mask], cov[mask], y[mask], h, r_var[mask], gain=gain)  # type: ignore
        torch.testing.assert_close(upd.x[mask], ref.x, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(upd.cov[mask], ref.cov, rtol=1e-12, atol=1e-14)
    pred = ekf_predict(x, cov, g, torch.full((b, k, n), 1e-3, dtype=F64, device=device),
                       mask=mask)
    assert torch.equal(pred.x[~mask], x[~mask]) and torch.equal(pred.cov[~mask], cov[~mask])
    assert torch.isfinite(pred.x).all() and torch.isfinite(pred.cov).all()
    assert torch.isfinite(pred.jacobian).all()


@pytest.mark.parametrize("full_q", [False, True], ids=["diag_q", "full_q"])
def test_infinite_variance_equals_dropping_the_component(full_q: bool) -> None:
    gen = make_generator(16)
    b, k, n, m, drop = 2, 3, 3, 5, 2
    x = torch.randn(b, k, n, dtype=F64, generator=gen)
    cov = _spd(b, k, n=n, gen=gen)
    h_mat = torch.randn(b, k, m, n, dtype=F64, generator=gen)
    y = torch.randn(b, k, m, dtype=F64, generator=gen)
    q = _spd(b, k, n=m, gen=gen, scale=0.3)
    keep = [i for i in range(m) if i != drop]
    q_inf = q.clone()
    q_inf[..., drop, :] = 0.7  # whatever the correlations, an infinite variance drops the row
    q_inf[..., :, drop] = 0.7
    q_inf[..., drop, drop] = math.inf
    if not full_q:
        q_inf = torch.diagonal(q_inf, dim1=-2, dim2=-1).clone()
        q = torch.diag_embed(torch.diagonal(q, dim1=-2, dim2=-1))
    y_nan = y.clone()
    y_nan[..., drop] = math.nan  # no measurement there at all

    def lin(s: torch.Tensor, hm: torch.Tensor) -> torch.Tensor:
        return hm @ s

    upd = ekf_update(x, cov, y_nan, lin, q_inf, h_mat)
    ref = ekf_update(x, cov, y[..., keep], lin, q[..., keep, :][..., :, keep],
                     h_mat[..., keep, :])
    torch.testing.assert_close(upd.x, ref.x, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(upd.cov, ref.cov, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(upd.nis, ref.nis, rtol=1e-12, atol=1e-14)
    assert (upd.dof == m - 1).all()
    assert not upd.x.isnan().any() and not upd.cov.isnan().any()
    assert not upd.innovation_cov.isnan().any()
    assert torch.isposinf(upd.innovation_cov[..., drop, drop]).all()
    assert (upd.gain[..., :, drop] == 0).all()

    # no information at all: the prediction passes through unchanged
    upd0 = ekf_update(x, cov, y_nan, lin, torch.full((b, k, m), math.inf, dtype=F64), h_mat)
    torch.testing.assert_close(upd0.x, x, rtol=0, atol=0)
    torch.testing.assert_close(upd0.cov, cov, rtol=1e-15, atol=0)
    assert (upd0.dof == 0).all() and (upd0.nis == 0).all()


# ------------------------------------------------- (6) Monte-Carlo consistency: NEES and NIS


def _nees_mc(e_scale: float) -> tuple[float, float, int]:
    """Mean NEES and NIS at the last step over R independent runs of a linear-Gaussian
    constant-acceleration model, simulated and filtered in one batch; the filter assumes the
    process noise ``e_scale * E`` (1 = matched)."""
    gen = make_generator(17)
    runs, steps, n = 4000, 40, 3
    t = 0.1
    f = torch.tensor([[1, t, t * t / 2], [0, 1, t], [0, 0, 1]], dtype=F64)
    e = torch.diag(torch.tensor([1e-4, 1e-3, 1e-2], dtype=F64))
    h = torch.tensor([[1.0, 0.0, 0.0]], dtype=F64)
    r = torch.tensor([0.05], dtype=F64)
    m0 = torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    p0 = torch.diag(torch.tensor([1.0, 0.5, 0.2], dtype=F64))
    truth = m0 + torch.randn(runs, n, dtype=F64, generator=gen) @ torch.linalg.cholesky(p0).mT
    x = m0.expand(runs, n)
    cov = p0.expand(runs, n, n)
    l_e = torch.linalg.cholesky(e)
    for _ in range(steps):
        truth = truth @ f.T + torch.randn(runs, n, dtype=F64, generator=gen) @ l_e.mT
        y = truth @ h.T + r.sqrt() * torch.randn(runs, 1, dtype=F64, generator=gen)
        pred = ekf_predict(x, cov, lambda s: f @ s, (e_scale * e).expand(runs, n, n))
        upd = ekf_update(pred.x, pred.cov, y, lambda s: h @ s, r.expand(runs, 1))
        x, cov = upd.x, upd.cov
    err = (truth - x)[..., None]
    nees = (err.mT @ torch.linalg.solve(cov, err))[..., 0, 0]
    return nees.mean().item(), upd.nis.mean().item(), runs


def test_monte_carlo_nees_and_nis_in_chi2_band() -> None:
    nees, nis, runs = _nees_mc(1.0)
    n, m = 3, 1
    lo, hi = chi2.ppf([0.025, 0.975], runs * n) / runs
    assert lo <= nees <= hi, (nees, lo, hi)
    lo_m, hi_m = chi2.ppf([0.025, 0.975], runs * m) / runs
    assert lo_m <= nis <= hi_m, (nis, lo_m, hi_m)
    # the check can fail: a filter that assumes 10x too little process noise is overconfident
    nees_bad, _, _ = _nees_mc(0.1)
    assert nees_bad > hi, (nees_bad, hi)


# --------------------------------------------------------------------- (7) determinism


def test_same_inputs_give_bit_identical_outputs() -> None:
    gen = make_generator(18)
    b, k = 3, 5
    phi = 0.2 + 0.6 * torch.rand(b, k, generator=gen, dtype=F64)
    x = torch.stack([phi, 25 + torch.rand(b, k, generator=gen, dtype=F64), 30 * phi], dim=-1)
    cov = _spd(b, k, n=3, gen=gen, scale=1e-3)
    beam = torch.randn(b, k, 8, dtype=torch.complex128, generator=gen)
    y = torch.randn(b, k, 18, dtype=F64, generator=gen)
    q = torch.full((b, k, 18), 0.5, dtype=F64)
    e = torch.full((1, 1, 3), 1e-6, dtype=F64)
    outs = []
    for _ in range(2):
        ekf = ExtendedKalmanFilter(_cosine_law_g, _echo_h, e)
        pred = ekf.predict(x, cov)
        upd = ekf.update(pred.x, pred.cov, y, q, beam)
        outs.append([pred.x, pred.cov, upd.x, upd.cov, upd.gain, upd.nis])
    for a, c in zip(*outs):
        assert torch.equal(a, c)


def _textbook_update(x: torch.Tensor, cov: torch.Tensor, y: torch.Tensor, h_mat: torch.Tensor,
                     q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(26), (31) and the Joseph form written out in measurement space, with a generic solve."""
    s = h_mat @ cov @ h_mat.mT + q
    k = torch.linalg.solve(s, h_mat @ cov).mT
    e = y - (h_mat @ x[..., None])[..., 0]
    i_kh = torch.eye(x.shape[-1], dtype=x.dtype) - k @ h_mat
    nis = (e[..., None, :] @ torch.linalg.solve(s, e[..., None]))[..., 0, 0]
    return (x + (k @ e[..., None])[..., 0], i_kh @ cov @ i_kh.mT + k @ q @ k.mT, nis)


def test_singular_prior_covariance_equals_the_textbook_update() -> None:
    """A rank-deficient M̂ (no Cholesky factor) takes the eigen-root path."""
    gen = make_generator(22)
    b, n, m = 4, 3, 4
    x = torch.randn(b, n, dtype=F64, generator=gen)
    v = torch.randn(b, n, 2, dtype=F64, generator=gen)
    cov = v @ v.mT  # rank 2
    h_mat = torch.randn(b, m, n, dtype=F64, generator=gen)
    q = _spd(b, n=m, gen=gen, scale=0.5)
    y = torch.randn(b, m, dtype=F64, generator=gen)
    upd = ekf_update(x, cov, y, lambda s, hm: hm @ s, q, h_mat)
    want_x, want_cov, want_nis = _textbook_update(x, cov, y, h_mat, q)
    torch.testing.assert_close(upd.x, want_x, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(upd.cov, want_cov, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(upd.nis, want_nis, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(upd.gain, torch.linalg.solve(
        h_mat @ cov @ h_mat.mT + q, h_mat @ cov).mT, rtol=1e-10, atol=1e-12)


def test_update_on_ding_dt_scales_matches_a_50_digit_reference() -> None:
    """Variances from 1e-22 (delay, s²) to 1e-8 (echo) and a measurement-dominated angle: the
    result equals the update (26)/(31)/Joseph evaluated with 50-digit arithmetic."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    gen = make_generator(23)
    nr, n = 16, 3
    m = 2 * nr + 2
    h_mat = torch.zeros(m, n, dtype=F64)
    h_mat[: 2 * nr, 0] = 3e3 * torch.randn(2 * nr, dtype=F64, generator=gen)
    h_mat[: 2 * nr, 1] = 1e-3 * torch.randn(2 * nr, dtype=F64, generator=gen)
    h_mat[2 * nr, 1] = 2 / C
    h_mat[2 * nr + 1, 2] = 2 * FC / C
    q = torch.cat([torch.full((2 * nr,), 5e-9, dtype=F64),
                   torch.tensor([8.8e-12**2, 0.26**2], dtype=F64)])
    a0 = torch.randn(n, n, dtype=F64, generator=gen)
    cov = torch.diag(torch.tensor([1e-6, 4e-4, 2.5e-3], dtype=F64)) + 1e-8 * a0 @ a0.T
    # a linear h about x̂ = 0, so that the innovation e = y is exact in both computations
    x = torch.zeros(n, dtype=F64)
    y = h_mat @ torch.tensor([3e-4, 2e-2, 5e-2], dtype=F64) + q.sqrt() * torch.randn(
        m, dtype=F64, generator=gen)
    upd = ekf_update(x, cov, y, lambda s: h_mat @ s, q)

    hm, mm = mpmath.matrix(h_mat.tolist()), mpmath.matrix(cov.tolist())
    qm = mpmath.diag(q.tolist())
    k = mm * hm.T * (qm + hm * mm * hm.T) ** -1
    i_kh = mpmath.eye(n) - k * hm
    p = i_kh * mm * i_kh.T + k * qm * k.T
    dx = k * (mpmath.matrix(y.tolist()) - hm * mpmath.matrix(x.tolist()))
    want_dx = torch.tensor([float(dx[i]) for i in range(n)], dtype=F64)
    want_cov = torch.tensor([[float(p[i, j]) for j in range(n)] for i in range(n)], dtype=F64)
    torch.testing.assert_close(upd.x - x, want_dx, rtol=1e-12, atol=0)
    torch.testing.assert_close(upd.cov, want_cov, rtol=1e-12, atol=0)


# ---------------------------------------------------------------- the paper's gain (30)/(32)


def test_paper_gain_matches_its_closed_form_for_isotropic_noise() -> None:
    """With Q = σ²I the paper's gain reduces (module Notes) to x̃ = x̂ + (1 − σ²/‖Pe‖²) δ and
    M̃ = σ²(‖Pe‖² − σ²) δδᵀ/‖Pe‖⁴, δ = H_L⁻¹e, P = H H_L⁻¹; here S_e is singular (rank m−n+1)."""
    gen = make_generator(19)
    b, k, n, m = 2, 3, 3, 8
    x = torch.randn(b, k, n, dtype=F64, generator=gen)
    cov = _spd(b, k, n=n, gen=gen)
    h_mat = torch.randn(b, k, m, n, dtype=F64, generator=gen)
    sigma2 = 0.3
    y = torch.randn(b, k, m, dtype=F64, generator=gen)
    # a small innovation for one element: ‖Pe‖² < σ², so its (32) is negative semi-definite
    y[0, 0] = h_mat[0, 0] @ x[0, 0] + 0.05 * y[0, 0]
    upd = ekf_update(x, cov, y, lambda s, hm: hm @ s, torch.full((b, k, m), sigma2, dtype=F64),
                     h_mat, gain="paper")
    e = y - (h_mat @ x[..., None])[..., 0]
    h_l = torch.linalg.solve(h_mat.mT @ h_mat, h_mat.mT)  # (HᵀH)⁻¹Hᵀ
    delta = (h_l @ e[..., None])[..., 0]
    pe2 = ((h_mat @ delta[..., None])[..., 0] ** 2).sum(-1)
    want_x = x + (1 - sigma2 / pe2)[..., None] * delta
    want_cov = (sigma2 * (pe2 - sigma2) / pe2**2)[..., None, None] * (
        delta[..., :, None] * delta[..., None, :])
    torch.testing.assert_close(upd.x, want_x, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(upd.cov, want_cov, rtol=1e-7, atol=1e-10)
    eig = torch.linalg.eigvalsh(_sym(upd.cov[0, 0]))
    assert eig.max() <= 1e-15 and eig.min() < -1e-3  # not a covariance
    # the standard innovation covariance is still reported
    std = ekf_update(x, cov, y, lambda s, hm: hm @ s, torch.full((b, k, m), sigma2, dtype=F64),
                     h_mat)
    torch.testing.assert_close(upd.innovation_cov, std.innovation_cov, rtol=0, atol=0)


def _sym(a: torch.Tensor) -> torch.Tensor:
    return 0.5 * (a + a.mT)


def test_paper_gain_runs_on_a_ding_dt_shaped_batch() -> None:
    gen = make_generator(20)
    b, k, nt = 2, 4, 8
    phi = 0.2 + 0.6 * torch.rand(b, k, generator=gen, dtype=F64)
    x = torch.stack([phi, 25 + torch.rand(b, k, generator=gen, dtype=F64), 30 * phi], dim=-1)
    cov = _spd(b, k, n=3, gen=gen, scale=1e-3)
    beam = torch.randn(b, k, nt, dtype=torch.complex128, generator=gen)
    y = torch.randn(b, k, 2 * nt + 2, dtype=F64, generator=gen)
    q = torch.full((b, k, 2 * nt + 2), 0.5, dtype=F64)
    q[1, :, -2:] = math.inf  # no echo delay/Doppler for the second seed
    mask = torch.ones(b, k, dtype=torch.bool)
    mask[0, -1] = False
    upd = ekf_update(x, cov, y, _echo_h, q, beam, mask=mask, gain="paper")
    assert upd.x.shape == (b, k, 3) and upd.cov.shape == (b, k, 3, 3)
    assert upd.gain.shape == (b, k, 3, 2 * nt + 2)
    assert torch.isfinite(upd.x).all() and torch.isfinite(upd.cov).all()
    assert (upd.gain[1, :, :, -2:] == 0).all()
    assert torch.equal(upd.x[0, -1], x[0, -1])


# ------------------------------------------------------------------------- API and errors


def test_forward_filter_equals_manual_loop_and_user_jacobians_equal_jacfwd() -> None:
    gen = make_generator(21)
    b, k, steps = 2, 3, 5
    x0 = torch.tensor([20.0, 10.0, 3.0, 1.0], dtype=F64).expand(b, k, 4).clone()
    cov0 = torch.eye(4, dtype=F64).expand(b, k, 4, 4)
    sensor = torch.randn(steps, b, k, 2, dtype=F64, generator=gen)
    y = torch.stack([torch.full((b, k), 22.0, dtype=F64),
                     torch.full((b, k), 0.45, dtype=F64)], -1).expand(steps, b, k, 2)
    r = torch.tensor([0.1, 1e-3], dtype=F64).expand(steps, b, k, 2)
    e = torch.full((1, 1, 4), 1e-2, dtype=F64)
    mask = torch.ones(steps, b, k, dtype=torch.bool)
    mask[2:, 1, 2] = False  # a vehicle leaves after two slots
    ekf = ExtendedKalmanFilter(_drag_g, _rb_h, e)
    trace = ekf.forward_filter(x0, cov0, y, r, observation_args=(sensor,), mask=mask)
    ekf_j = ExtendedKalmanFilter(_drag_g, _rb_h, e, observation_jacobian_fn=_rb_jac_torch,
                                 transition_jacobian_fn=torch.func.jacrev(_drag_g))
    x, cov = x0, cov0
    for t in range(steps):
        upd = ekf_j.update(x, cov, y[t], r[t], sensor[t], mask=mask[t])
        pred = ekf_j.predict(upd.x, upd.cov, mask=mask[t])
        torch.testing.assert_close(trace.x[t], upd.x, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(trace.cov_pred[t], pred.cov, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(trace.nis[t], upd.nis, rtol=1e-12, atol=1e-12)
        x, cov = pred.x, pred.cov
    assert trace.x.shape == (steps, b, k, 4) and trace.innovation.shape == (steps, b, k, 2)
    assert torch.equal(trace.x[4, 1, 2], trace.x[2, 1, 2])  # frozen once masked
    assert torch.equal(trace.x[2, 1, 2], trace.x_pred[1, 1, 2])


def test_float32_follows_the_inputs() -> None:
    x = torch.ones(2, 3, dtype=torch.float32)
    cov = torch.eye(3).expand(2, 3, 3)
    pred = ekf_predict(x, cov, lambda s: 2 * s, torch.full((2, 3), 0.1))
    upd = ekf_update(pred.x, pred.cov, torch.zeros(2, 2), lambda s: s[:2],
                     torch.full((2, 2), 0.1))
    assert pred.x.dtype == upd.x.dtype == upd.cov.dtype == upd.nis.dtype == torch.float32
    assert torch.isfinite(upd.cov).all()


def test_empty_batch() -> None:
    x = torch.zeros(2, 0, 3, dtype=F64)
    cov = torch.zeros(2, 0, 3, 3, dtype=F64)
    pred = ekf_predict(x, cov, lambda s: s, torch.ones(1, 1, 3, dtype=F64))
    upd = ekf_update(x, cov, torch.zeros(2, 0, 4, dtype=F64), lambda s: torch.cat([s, s[:1]]),
                     torch.ones(1, 1, 4, dtype=F64))
    assert pred.x.shape == (2, 0, 3) and upd.cov.shape == (2, 0, 3, 3)
    assert upd.gain.shape == (2, 0, 3, 4)


def test_bad_inputs_raise_clear_errors() -> None:
    x = torch.zeros(4, 3, dtype=F64)
    cov = torch.eye(3, dtype=F64).expand(4, 3, 3)
    y = torch.zeros(4, 2, dtype=F64)
    q = torch.ones(4, 2, dtype=F64)

    def h(s: torch.Tensor) -> torch.Tensor:
        return s[:2]

    with pytest.raises(ConfigError, match="gain"):
        ekf_update(x, cov, y, h, q, gain="kalman")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="dtype"):
        ekf_update(x, cov, y.float(), h, q)
    with pytest.raises(ShapeError, match="measurement_cov"):
        ekf_update(x, cov, y, h, torch.ones(2, dtype=F64))  # rank of neither form
    with pytest.raises(ShapeError, match="observation_fn"):
        ekf_update(x, cov, torch.zeros(4, 3, dtype=F64), h, torch.ones(4, 3, dtype=F64))
    with pytest.raises(ShapeError, match="cov"):
        ekf_predict(x, torch.eye(3, dtype=F64), lambda s: s, torch.ones(4, 3, dtype=F64))
    with pytest.raises(ShapeError, match="real vector"):
        value_and_jacobian(lambda s: s.sum(), x)
    with pytest.raises(ShapeError, match="mask"):
        ekf_predict(x, cov, lambda s: s, torch.ones(4, 3, dtype=F64), mask=torch.ones(4))
    with pytest.raises(TypeError, match="extra argument"):
        ekf_update(x, cov, y, lambda s, c: c * s[:2], q, 2.0)  # type: ignore[arg-type]
    with pytest.raises(SolverError, match="positive semi-definite"):
        ekf_update(x, -cov, y, h, q)
    with pytest.raises(ValueRangeError, match="positive variances"):
        ekf_update(x, cov, y, h, torch.tensor([1.0, 0.0], dtype=F64).expand(4, 2))
    with pytest.raises(ValueRangeError, match="positive definite"):
        ekf_update(x, cov, y, h, -torch.eye(2, dtype=F64).expand(4, 2, 2))
    # ... but not for a masked element
    q_bad = q.clone()
    q_bad[0] = -1.0
    ekf_update(x, cov, y, h, q_bad, mask=torch.tensor([False, True, True, True]))
