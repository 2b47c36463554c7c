"""FP + PGD of ding_dt (solvers.fractional): the projection against CVXPY and its variational
inequality, the FP identities (f_q = sum ln(1+SINR) at gamma*, y*; df_q/dy = 0 at y*), block
monotonicity, the F step against CVXPY (Clarabel), feasibility, batching and bad inputs.

Test instances: two RSUs at (0, +-30) m, vehicles on the lanes y = +-2.5 m with x in [-30, 30],
h = sqrt(N) sqrt(alpha/d^2) a^H(phi) with alpha = sigma_c^2 = -70 dB and P = 40 dB (interference
limited, spec ding_dt §6.1).
"""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest
import torch

from isaclearn.arrays import ula_u, ula_u_derivative
from isaclearn.core import ConfigError, ShapeError, ValueRangeError
from isaclearn.solvers.fractional import (
    FPInfo,
    fp_beamforming,
    fq_objective,
    fq_terms,
    intra_rsu_sinr,
    mrt_beams,
    optimal_gamma,
    optimal_y,
    pgd_beams,
    project_ball_halfspace,
    sca_halfspace,
    serving_mask,
)

NOISE = 1e-7  # -70 dB
POWER = 1e4  # 40 dB


def highway(batch: int, k: int, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Channels [B, 2, K, N], distances [B, 2, K], direction cosines [B, 2, K] (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, k, generator=g, dtype=torch.float64) * 60 - 30
    lane = torch.where(torch.rand(batch, k, generator=g) < 0.5, 2.5, -2.5).double()
    rsu_y = torch.tensor([30.0, -30.0], dtype=torch.float64)
    dx = x[:, None, :].expand(batch, 2, k)
    dy = lane[:, None, :] - rsu_y[None, :, None]
    d = torch.sqrt(dx**2 + dy**2)
    phi = dx / d
    h = math.sqrt(n) * torch.sqrt(1e-7 / d**2)[..., None] * ula_u(n, phi).conj()
    return h, d, phi


def sensing_gram(n: int, phi: torch.Tensor) -> torch.Tensor:
    """A = Pi^H Pi with Pi = d(b a^H)/dphi, N_t = N_r = n."""
    a, ad = ula_u(n, phi), ula_u_derivative(n, phi)
    pi = ad[..., :, None] * a.conj()[..., None, :] + a[..., :, None] * ad.conj()[..., None, :]
    return pi.conj().transpose(-1, -2) @ pi


def sinr_loop(h: torch.Tensor, f: torch.Tensor, assign: torch.Tensor) -> np.ndarray:
    """Eq. (10) by explicit loops: [B, K] SINR at the serving RSU."""
    hb, fb, ab = h.numpy(), f.numpy(), assign.numpy()
    out = np.zeros(ab.shape)
    for b in range(ab.shape[0]):
        for k in range(ab.shape[1]):
            i = ab[b, k]
            sig = abs(hb[b, i, k] @ fb[b, i, k]) ** 2
            intf = sum(abs(hb[b, i, k] @ fb[b, i, m]) ** 2
                       for m in range(ab.shape[1]) if m != k and ab[b, m] == i)
            out[b, k] = sig / (intf + NOISE)
    return out


# --------------------------------------------------------------------------------------------
# projection
# --------------------------------------------------------------------------------------------


def _projection_points(n_pts: int, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Random z, c, b, r that hit cases 0, 1 and 2 (c != 0, non-empty set)."""
    g = torch.Generator().manual_seed(seed)

    def cn(*shape: int) -> torch.Tensor:
        return torch.complex(torch.randn(*shape, generator=g, dtype=torch.float64),
                             torch.randn(*shape, generator=g, dtype=torch.float64))

    z = cn(n_pts, n) * torch.rand(n_pts, 1, generator=g, dtype=torch.float64) * 3
    c = cn(n_pts, n)
    r = 0.5 + torch.rand(n_pts, generator=g, dtype=torch.float64)
    cnorm = torch.linalg.vector_norm(c, dim=-1)
    b = (2 * torch.rand(n_pts, generator=g, dtype=torch.float64) - 1) * 0.95 * r * cnorm
    return z, c, b, r


def test_projection_matches_cvxpy_in_all_three_cases():
    """The optimal distance matches CVXPY (Clarabel) to 1e-7 relative and our point is never
    farther from z; the points agree to Clarabel's point accuracy (about 1e-6 at gap
    tolerance 1e-10: its solution sits slightly inside the sphere, ours on it)."""
    z, c, b, r = _projection_points(60, 4, seed=3)
    p, case = project_ball_halfspace(z, c, b, r, return_case=True)
    assert {0, 1, 2} <= set(case.tolist())
    for j in range(z.shape[0]):
        f = cp.Variable(4, complex=True)
        zc, cc = z[j].numpy(), c[j].numpy()
        prob = cp.Problem(cp.Minimize(cp.norm(f - zc)),
                          [cp.norm(f) <= float(r[j]),
                           cp.real(np.conj(cc) @ f) >= float(b[j])])
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        assert prob.status == "optimal"
        ours = np.linalg.norm(p[j].numpy() - zc)
        scale = 1 + np.linalg.norm(zc)
        assert abs(ours - prob.value) <= 1e-7 * scale, (j, int(case[j]), ours, prob.value)
        assert ours <= prob.value + 1e-9 * scale
        assert np.linalg.norm(p[j].numpy() - f.value) <= 1e-5 * scale


def test_projection_feasible_idempotent_and_variational_inequality():
    z, c, b, r = _projection_points(3000, 6, seed=5)
    p, case = project_ball_halfspace(z, c, b, r, return_case=True)
    counts = torch.bincount(case, minlength=4)
    assert (counts[:3] > 100).all() and counts[3] == 0
    pn = torch.linalg.vector_norm(p, dim=-1)
    cnorm = torch.linalg.vector_norm(c, dim=-1)
    assert bool((pn <= r * (1 + 1e-12)).all())
    assert bool(((c.conj() * p).sum(-1).real >= b - 1e-12 * r * cnorm).all())
    p2 = project_ball_halfspace(p, c, b, r)
    assert torch.allclose(p2, p, rtol=0, atol=1e-12)
    # Optimality: Re<z - p, q - p> <= 0 for feasible q (here: convex combinations of p and the
    # projections of other random points, all feasible).
    q = project_ball_halfspace(z.roll(1, 0) * 2, c, b, r)
    lhs = ((z - p).conj() * (q - p)).sum(-1).real
    assert bool((lhs <= 1e-10 * (1 + torch.linalg.vector_norm(z, dim=-1) ** 2)).all())


def test_projection_special_cases():
    z = torch.tensor([[3.0 + 0j, 0.0], [0.1 + 0j, 0.1], [0.0 + 0j, -2.0], [2.0 + 0j, -1.0]])
    c = torch.tensor([[0.0 + 0j, 0.0], [1.0 + 0j, 0.0], [0.0 + 0j, 1.0], [0.0 + 0j, 1.0]])
    b = torch.tensor([-1.0, 0.5, 5.0, 0.6])  # no half-space; half-space; empty; both active
    p, case = project_ball_halfspace(z, c, b, 1.0, return_case=True)
    assert case.tolist() == [0, 1, 3, 2]
    assert torch.allclose(p[0], torch.tensor([1.0 + 0j, 0.0]))  # ball projection
    assert torch.allclose(p[1], torch.tensor([0.5 + 0j, 0.1]))  # half-space projection
    assert torch.allclose(p[2], torch.tensor([0.0 + 0j, 1.0]))  # empty: r c/|c|
    assert torch.allclose(p[3], torch.tensor([0.8 + 0j, 0.6]), atol=1e-12)  # sphere ∩ plane
    with pytest.raises(ValueRangeError):
        project_ball_halfspace(z, c, b, -1.0)


# --------------------------------------------------------------------------------------------
# FP identities
# --------------------------------------------------------------------------------------------


def _random_design(batch: int = 3, k: int = 5, n: int = 8, seed: int = 0):
    h, d, phi = highway(batch, k, n, seed)
    assign = d.argmin(1)
    g = torch.Generator().manual_seed(seed + 100)
    f = torch.complex(torch.randn(h.shape, generator=g, dtype=torch.float64),
                      torch.randn(h.shape, generator=g, dtype=torch.float64)) * 30
    return h, assign, f


def test_intra_rsu_sinr_matches_explicit_loop():
    h, assign, f = _random_design()
    sinr = intra_rsu_sinr(h, f, assign, NOISE)
    ref = sinr_loop(h, f, assign)
    assert np.allclose(sinr.sum(1).numpy(), ref, rtol=1e-12, atol=0)
    xi = serving_mask(assign, 2)
    assert bool((sinr[~xi] == 0).all())


def test_fq_equals_sum_log_rate_at_optimal_auxiliaries():
    h, assign, f = _random_design()
    xi = serving_mask(assign, 2)
    gamma = optimal_gamma(h, f, xi, NOISE)
    y = optimal_y(h, f, xi, gamma, NOISE)
    fq = fq_objective(h, f, xi, gamma, y, NOISE)
    ref = np.log1p(sinr_loop(h, f, assign)).sum(1)
    assert np.allclose(fq.numpy(), ref, rtol=1e-9, atol=0)
    terms = fq_terms(h, f, xi, gamma, y, NOISE)
    assert torch.allclose(terms.sum(1), torch.log1p(gamma.sum(1)), rtol=1e-9, atol=1e-12)


def test_dfq_dy_vanishes_at_ystar_and_not_elsewhere():
    h, assign, f = _random_design(batch=2, k=4)
    xi = serving_mask(assign, 2)
    gamma = optimal_gamma(h, f, xi, NOISE)
    y = optimal_y(h, f, xi, gamma, NOISE).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fq_objective(h, f, xi, gamma, y, NOISE).sum(), y)
    scale = (y.detach().abs() * (h.abs() ** 2).sum(-1) * POWER).max()
    assert float(grad.abs().max()) <= 1e-9 * float(scale)
    y2 = (y.detach() * 1.1).requires_grad_(True)
    (grad2,) = torch.autograd.grad(fq_objective(h, f, xi, gamma, y2, NOISE).sum(), y2)
    assert float(grad2.abs().max()) > 1e-3 * float(scale)


def test_sca_halfspace_is_an_inner_approximation():
    _, _, phi = highway(4, 3, 8, seed=2)
    a = sensing_gram(8, phi)
    g = torch.Generator().manual_seed(0)
    f0 = torch.complex(torch.randn(4, 2, 3, 8, generator=g, dtype=torch.float64),
                       torch.randn(4, 2, 3, 8, generator=g, dtype=torch.float64))
    f = torch.complex(torch.randn(4, 2, 3, 8, generator=g, dtype=torch.float64),
                      torch.randn(4, 2, 3, 8, generator=g, dtype=torch.float64))
    lam = torch.zeros(4, 2, 3, dtype=torch.float64)
    c, b = sca_halfspace(a, f0, lam)
    lin = (c.conj() * f).sum(-1).real - b  # 2Re{f0^H A f} - f0^H A f0
    quad = torch.einsum("...n,...nm,...m->...", f.conj(), a, f).real
    assert bool((lin <= quad * (1 + 1e-12) + 1e-9).all())
    lin0 = (c.conj() * f0).sum(-1).real - b  # tight at f0
    quad0 = torch.einsum("...n,...nm,...m->...", f0.conj(), a, f0).real
    assert torch.allclose(lin0, quad0, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# FP loop
# --------------------------------------------------------------------------------------------


def _constraint(phi: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gram matrices and thresholds: mostly active, some inactive (<= 0), some infeasible."""
    a = sensing_gram(n, phi)
    lmax = torch.linalg.eigvalsh(a)[..., -1]
    g = torch.Generator().manual_seed(seed)
    frac = torch.rand(lmax.shape, generator=g, dtype=torch.float64) * 1.3 - 0.1
    return a, frac * POWER * lmax


@pytest.mark.parametrize("constrained", [False, True], ids=["none", "sensing"])
def test_fp_block_monotonicity_and_rate_identity(constrained):
    h, d, phi = highway(6, 6, 8, seed=11)
    assign = d.argmin(1)
    kw = {}
    if constrained:
        kw["gram"], kw["threshold"] = _constraint(phi, 8, seed=4)
    f, info = fp_beamforming(h, assign, NOISE, POWER, max_iter=25, **kw)
    assert isinstance(info, FPInfo)
    tr = info.trace
    steps = tr[:, 1:] - tr[:, :-1]
    slack = 1e-9 * tr[:, :-1].abs()
    f_blocks, y_blocks = steps[:, 0::3], steps[:, 2::3]
    assert bool((f_blocks >= -slack[:, 0::3]).all())
    assert bool((y_blocks >= -slack[:, 2::3]).all())
    # after every (gamma, Y) pair f_q is the sum rate, which never decreases (Lemma 2)
    obj = info.objective
    assert torch.equal(obj[:, 1:], tr[:, 3::3])
    assert bool((obj[:, 1:] >= obj[:, :-1] * (1 - 1e-9)).all())
    assert np.allclose(obj[:, -1].numpy(), np.log1p(sinr_loop(h, f, assign)).sum(1),
                       rtol=1e-9)
    assert float(obj[:, -1].mean()) > 1.2 * float(obj[:, 0].mean())  # FP does something


def test_gamma_block_alone_can_decrease_fq():
    """(43) maximises max_y f_q, not f_q at the stale y (module Notes on Lemma 2): inside the
    gamma block alone f_q drops on this instance; the Y block restores it."""
    h, d, _ = highway(6, 6, 8, seed=11)
    _, info = fp_beamforming(h, d.argmin(1), NOISE, POWER, max_iter=10)
    g_blocks = info.trace[:, 2::3] - info.trace[:, 1:-1:3]
    assert float(g_blocks.min()) < 0


def test_fp_feasibility_flags_and_unserved_beams():
    n = 8
    h, d, phi = highway(5, 6, n, seed=21)
    assign = d.argmin(1)
    a, lam = _constraint(phi, n, seed=9)
    f, info = fp_beamforming(h, assign, NOISE, POWER, gram=a, threshold=lam, max_iter=30)
    xi = serving_mask(assign, 2)
    assert bool((f[~xi] == 0).all())
    assert bool(((f.abs() ** 2).sum(-1) <= POWER * (1 + 1e-12)).all())
    lmax = np.linalg.eigvalsh(a.numpy())[..., -1]
    lam_np = lam.numpy()
    want_on = xi.numpy() & (lam_np > 0)
    assert np.array_equal(info.constrained.numpy(), want_on)
    assert np.array_equal(info.infeasible.numpy(), want_on & (lam_np > POWER * lmax))
    assert info.infeasible.any() and (want_on & ~info.infeasible.numpy()).any()
    assert info.threshold is not None
    used = info.threshold.numpy()
    afa = torch.einsum("...n,...nm,...m->...", f.conj(), a, f).real.numpy()
    assert (afa[want_on] >= used[want_on] * (1 - 1e-9)).all()
    assert (used[info.infeasible.numpy()] < POWER * lmax[info.infeasible.numpy()]).all()
    assert bool((info.active <= info.constrained).all()) and bool(info.active.any())


def test_fp_batched_equals_one_by_one():
    h, d, phi = highway(4, 5, 8, seed=31)
    assign = d.argmin(1)
    a, lam = _constraint(phi, 8, seed=2)
    f, info = fp_beamforming(h, assign, NOISE, POWER, gram=a, threshold=lam, max_iter=15)
    for b in range(4):
        fb, ib = fp_beamforming(h[b:b + 1], assign[b:b + 1], NOISE, POWER, gram=a[b:b + 1],
                                threshold=lam[b:b + 1], max_iter=15)
        assert torch.allclose(fb[0], f[b], rtol=0, atol=1e-9 * math.sqrt(POWER))
        assert int(ib.iterations[0]) == int(info.iterations[b])


def test_pgd_reaches_cvxpy_optimum_of_the_sca_subproblem():
    n, k = 6, 5
    h, d, phi = highway(1, k, n, seed=41)
    assign = torch.tensor([[0, 0, 1, 0, 0]])
    xi = serving_mask(assign, 2)
    f0 = mrt_beams(h, POWER) * xi[..., None]
    gamma = optimal_gamma(h, f0, xi, NOISE)
    y = optimal_y(h, f0, xi, gamma, NOISE)
    a = sensing_gram(n, phi)
    aff0 = torch.einsum("...n,...nm,...m->...", f0.conj(), a, f0).real
    lam = torch.where(xi, 0.8 * aff0, torch.zeros_like(aff0))  # binds for some beams
    c, b = sca_halfspace(a, f0, lam)
    c = torch.where(xi[..., None], c, 0)
    b = torch.where(xi, b, -1.0)
    f = pgd_beams(h, f0, xi, gamma, y, POWER, halfspace=(c, b), steps=2000)

    def f_part(beams: np.ndarray) -> float:  # the F-dependent part of (44)
        hh, yy, gg = h[0].numpy(), y[0].numpy(), gamma[0].numpy()
        total = 0.0
        for i in range(2):
            for m in range(k):
                if xi[0, i, m]:
                    total += 2 * np.real(np.conj(yy[i, m]) * np.sqrt(1 + gg[i, m])
                                         * (hh[i, m] @ beams[i, m]))
                    total -= sum(abs(yy[i, j]) ** 2 * abs(hh[i, j] @ beams[i, m]) ** 2
                                 for j in range(k))
        return float(total)

    # CVXPY: the same concave QP per served beam, complex variables.
    hh, yy, gg = h[0].numpy(), y[0].numpy(), gamma[0].numpy()
    beams = np.zeros((2, k, n), complex)
    for i in range(2):
        for m in range(k):
            if not xi[0, i, m]:
                continue
            # f = sqrt(P) v with ||v|| <= 1; rows scaled by |y_j| sqrt(P) (a well-scaled QP)
            v = cp.Variable(n, complex=True)
            rows = np.abs(yy[i])[:, None] * hh[i] * np.sqrt(POWER)
            lin = 2 * cp.real(np.conj(yy[i, m]) * np.sqrt(1 + gg[i, m]) * np.sqrt(POWER)
                              * (hh[i, m] @ v))
            cc = c[0, i, m].numpy() * np.sqrt(POWER)
            cons = [cp.norm(v) <= 1, cp.real(np.conj(cc) @ v) >= float(b[0, i, m])]
            prob = cp.Problem(cp.Maximize(lin - cp.sum_squares(rows @ v)), cons)
            prob.solve(solver="CLARABEL")
            assert prob.status == "optimal"
            beams[i, m] = np.sqrt(POWER) * v.value
    ref = f_part(beams)
    got = f_part(f[0].numpy())
    start = f_part(f0[0].numpy())
    assert abs(got - ref) <= 1e-4 * abs(ref), (got, ref)
    assert ref - start > 1e-2 * abs(ref)  # the instance is not trivial
    slack = (np.conj(c[0].numpy()) * beams).sum(-1).real - b[0].numpy()
    assert (np.abs(slack[xi[0].numpy()]) <= 1e-6 * np.abs(b[0].numpy()[xi[0].numpy()])).any()


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


def test_bad_inputs():
    h, d, phi = highway(2, 3, 4, seed=0)
    assign = d.argmin(1)
    with pytest.raises(ShapeError):
        fp_beamforming(h[0], assign, NOISE, POWER)
    with pytest.raises(ValueRangeError):
        fp_beamforming(h, assign, NOISE, -1.0)
    with pytest.raises(ShapeError):
        fp_beamforming(h, assign, torch.ones(3), POWER)
    with pytest.raises(ValueRangeError):
        fp_beamforming(h, torch.ones(2, 2, 3, dtype=torch.bool), NOISE, POWER)
    with pytest.raises(ValueRangeError):
        fp_beamforming(h, assign + 2, NOISE, POWER)
    with pytest.raises(ConfigError):
        fp_beamforming(h, assign, NOISE, POWER, gram=sensing_gram(4, phi))
    with pytest.raises(ShapeError):
        fp_beamforming(h, assign, NOISE, POWER, gram=sensing_gram(4, phi)[:, 0],
                       threshold=torch.ones(2, 2, 3, dtype=torch.float64))
    with pytest.raises(ConfigError):
        fp_beamforming(h, assign, NOISE, POWER, max_iter=0)
    with pytest.raises(ConfigError):
        fp_beamforming(h, assign, NOISE, POWER, armijo=0.9)


def test_sensing_gram_has_a_double_top_eigenvalue_containing_a():
    """The structural fact the module Notes rely on: with N_t = N_r, Pi = a' a^H + a a'^H is
    Hermitian with eigenvalues +-sqrt(||a'||^2 - |a^H a'|^2) (a^H a' is imaginary), so
    lambda_max(A) is double and a(phi) lies in its eigenspace."""
    phi = torch.linspace(-0.95, 0.95, 7, dtype=torch.float64)
    a, ad = ula_u(16, phi), ula_u_derivative(16, phi)
    gram = sensing_gram(16, phi)
    ev = torch.linalg.eigvalsh(gram)
    cross = (a.conj() * ad).sum(-1)
    assert torch.allclose(cross.real, torch.zeros_like(cross.real), atol=1e-12)
    top = (ad.abs() ** 2).sum(-1) - cross.abs() ** 2
    assert torch.allclose(ev[:, -1], top, rtol=1e-12)
    assert torch.allclose(ev[:, -2], top, rtol=1e-12)
    aaa = torch.einsum("kn,knm,km->k", a.conj(), gram, a).real
    assert torch.allclose(aaa, top, rtol=1e-12)
