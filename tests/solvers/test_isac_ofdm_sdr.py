"""Stage I of the yang_som Opt baseline (isaclearn.solvers.isac_ofdm_sdr): the Fisher term with
the sign −1 arrays, the ICI power, and the per-subcarrier SDR against a directly written CVXPY
program and hand-computed SINRs (spec §7 check 5)."""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest
import torch

from isaclearn.arrays import ula, ula_derivative
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.solvers.isac_ofdm_sdr import fisher_schur, ici_power, ofdm_isac_sdr

C = torch.complex128
N_R = 8


def _arrays(m: int, n: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Explicit A = a_r a_t^H and its derivative (sign −1, first element, unit norm)."""
    th = torch.tensor(theta, dtype=torch.float64)
    kw = {"reference": "first", "sign": -1, "normalize": True}
    a, da = ula(m, th, **kw).numpy(), ula_derivative(m, th, **kw).numpy()  # type: ignore[arg-type]
    b, db = ula(n, th, **kw).numpy(), ula_derivative(n, th, **kw).numpy()  # type: ignore[arg-type]
    big_a = np.outer(b, a.conj())
    big_da = np.outer(db, a.conj()) + np.outer(b, da.conj())
    return big_a, big_da


def _hermitian_psd(m: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(m, m + 1, dtype=C, generator=gen)
    return x @ x.conj().T


def test_fisher_schur_against_explicit_traces() -> None:
    gen = torch.Generator().manual_seed(0)
    for theta in (-0.7, 0.1, 0.9):
        r = _hermitian_psd(6, gen)
        a, da = _arrays(6, N_R, theta)
        rn = r.numpy()
        f = np.trace(da.conj().T @ da @ rn).real
        c = np.trace(da.conj().T @ a @ rn)
        g = np.trace(a.conj().T @ a @ rn).real
        got = float(fisher_schur(r, torch.tensor(theta, dtype=torch.float64), N_R))
        assert got == pytest.approx(f - abs(c) ** 2 / g, rel=1e-12)
    # the sign matters: conj(R) gives a different value in general
    r = _hermitian_psd(6, gen)
    th = torch.tensor(0.5, dtype=torch.float64)
    assert abs(float(fisher_schur(r, th, N_R)) - float(fisher_schur(r.conj(), th, N_R))) > 1e-6


def test_ici_power_against_loop() -> None:
    gen = torch.Generator().manual_seed(1)
    b, s, k, m = 2, 3, 2, 4
    h = torch.randn(b, s, s, k, m, dtype=C, generator=gen)
    w = torch.randn(b, s, m, k, dtype=C, generator=gen)
    got = ici_power(h, w)
    for i in range(b):
        for x in range(s):
            for u in range(k):
                ref = sum(abs(complex(h[i, x, y, u] @ w[i, y, :, v])) ** 2
                          for y in range(s) if y != x for v in range(k))
                assert float(got[i, x, u]) == pytest.approx(ref, rel=1e-12)


def _direct_relaxation(h: np.ndarray, theta: float, power: float, noise: np.ndarray,
                       tau: float) -> float:
    """max ζ s.t. (15c) as a 2×2 Hermitian LMI, SINR ≥ τ, Σ tr W = power — written directly."""
    k, m = h.shape
    a, da = _arrays(m, N_R, theta)
    w = [cp.Variable((m, m), hermitian=True) for _ in range(k)]  # W / power
    wt = sum(w)
    zeta = cp.Variable()
    q_dd, q_da, q_aa = da.conj().T @ da, da.conj().T @ a, a.conj().T @ a
    s_f, s_a = np.trace(q_dd).real / m, np.trace(q_aa).real / m  # conditioning only
    s_c = math.sqrt(s_f * s_a)
    lmi = cp.bmat([[cp.trace(q_dd / s_f @ wt) - zeta, cp.trace(q_da / s_c @ wt)],
                   [cp.trace(q_da.conj().T / s_c @ wt), cp.trace(q_aa / s_a @ wt)]])
    cons = [x >> 0 for x in w] + [lmi >> 0, cp.real(sum(cp.trace(x) for x in w)) == 1.0]
    for u in range(k):
        hn = h[u] / np.linalg.norm(h[u])
        q = np.outer(hn.conj(), hn)
        sig = cp.real(cp.trace(q @ w[u]))
        intf = sum(cp.real(cp.trace(q @ w[i])) for i in range(k) if i != u)
        cons.append(sig >= tau * (intf + noise[u] / (power * np.linalg.norm(h[u]) ** 2)))
    prob = cp.Problem(cp.Maximize(zeta), cons)
    prob.solve(solver="SCS", eps_abs=1e-9, eps_rel=1e-9, max_iters=200_000)
    assert prob.status == cp.OPTIMAL
    return float(zeta.value) * s_f * power


def test_stage_one_toy_checks() -> None:
    """Spec §7.5 at N_t = 8, K = 2, S = 4, ω = 0 (no ICI)."""
    gen = torch.Generator().manual_seed(2)
    b, s, k, m = 1, 4, 2, 8
    h = torch.randn(b, s, k, m, dtype=C, generator=gen)
    theta, power, sigma2 = 0.35, 4.0, 0.1
    grid = [0.0, 1.0, 4.0]
    res = ofdm_isac_sdr(h, theta, power, sigma2, sinr_grid=grid, psi=0.5, rate_norm=8.0,
                        fisher_norm=30.0, num_rx=N_R, radar_gain=2.0)
    assert bool(res.feasible.all()) and bool(res.feasible_grid.all())
    # extracted utility ≤ relaxation, at every grid point and at the selected one
    assert bool((res.utility_grid <= res.utility_relaxation_grid * (1 + 1e-6) + 1e-9).all())
    assert float(res.utility[0]) <= float(res.utility_relaxation[0]) * (1 + 1e-6)
    assert float(res.utility[0]) == pytest.approx(float(res.utility_grid.max()))
    tau = float(res.tau[0])
    assert tau in grid
    # every SINR ≥ τ, by hand: |h_k w_k|² / (Σ_{j≠k} |h_k w_j|² + σ²); power P/S per subcarrier
    w = res.w[0]
    for j in range(s):
        assert float((w[j].abs() ** 2).sum()) == pytest.approx(power / s, rel=1e-9)
        g = (h[0, j] @ w[j]).abs() ** 2  # [K, K]: |h_k w_i|²
        for u in range(k):
            sinr = float(g[u, u]) / (float(g[u].sum() - g[u, u]) + sigma2)
            assert sinr >= tau * (1 - 1e-4)
    # the relaxation value (sign −1 arrays, via the conjugate problem) equals a direct program,
    # at a target where the SINR constraints are active (value below the τ = 0 one)
    one = ofdm_isac_sdr(h[:, :1], theta, power / s, sigma2, sinr_grid=[20.0], psi=0.5,
                        rate_norm=8.0, fisher_norm=30.0, num_rx=N_R, radar_gain=2.0)
    direct = _direct_relaxation(h[0, 0].numpy(), theta, power / s, np.full(k, sigma2), 20.0)
    free = _direct_relaxation(h[0, 0].numpy(), theta, power / s, np.full(k, sigma2), 0.0)
    assert bool(one.feasible[0]) and direct < 0.99 * free
    assert float(one.fisher_relaxation[0, 0]) == pytest.approx(2.0 * direct, rel=1e-5)
    assert float(one.fisher[0, 0]) <= float(one.fisher_relaxation[0, 0]) * (1 + 1e-6)
    # rate term: ψ K S log2(1 + τ)/R*
    rate = 0.5 * k * s * math.log2(1 + tau) / 8.0
    assert float(res.utility_relaxation[0]) == pytest.approx(
        rate + 0.5 * float(res.fisher_relaxation[0].sum()) / 30.0, rel=1e-9)


def test_stage_one_ici_enters_the_noise() -> None:
    gen = torch.Generator().manual_seed(3)
    b, s, k, m = 1, 2, 2, 4
    h_ici = 0.3 * torch.randn(b, s, s, k, m, dtype=C, generator=gen)
    h = torch.diagonal(h_ici, dim1=1, dim2=2).permute(0, 3, 1, 2) / 0.3  # [B, S, K, M]
    h_ici[:, torch.arange(s), torch.arange(s)] = h
    w0 = torch.randn(b, s, m, k, dtype=C, generator=gen)
    res = ofdm_isac_sdr(h, -0.2, 2.0, 0.05, sinr_grid=[0.0, 0.5], psi=0.7, rate_norm=4.0,
                        fisher_norm=5.0, num_rx=4, h_ici=h_ici, w_init=w0)
    assert torch.allclose(res.noise, 0.05 + ici_power(h_ici, w0))
    tau = float(res.tau[0])
    for j in range(s):
        g = (h[0, j] @ res.w[0, j]).abs() ** 2
        for u in range(k):
            sinr = float(g[u, u]) / (float(g[u].sum() - g[u, u]) + float(res.noise[0, j, u]))
            assert sinr >= tau * (1 - 1e-4)


def test_stage_one_errors() -> None:
    h = torch.ones(1, 2, 2, 4, dtype=C)
    kw = {"sinr_grid": [0.0], "psi": 0.5, "rate_norm": 1.0, "fisher_norm": 1.0, "num_rx": 4}
    with pytest.raises(ShapeError):
        ofdm_isac_sdr(h[0], 0.1, 1.0, 0.1, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueRangeError):
        ofdm_isac_sdr(h, 2.0, 1.0, 0.1, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueRangeError):
        ofdm_isac_sdr(h, 0.1, 1.0, 0.1, **{**kw, "sinr_grid": [-1.0]})  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        ofdm_isac_sdr(h, 0.1, 1.0, 0.1, **{**kw, "select": "x"})  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# ici="joint": one coupled SDP with the exact ICI
# --------------------------------------------------------------------------------------------


def _ici_channel(s: int, k: int, m: int, leak: float, seed: int) -> tuple[torch.Tensor,
                                                                        torch.Tensor]:
    """``(h [1, S, K, M], h_ici [1, S, S, K, M])``: ``h_ici[:, m, m] = h``, off-diagonal blocks
    of scale ``leak`` (0: no ICI)."""
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(1, s, k, m, dtype=C, generator=gen)
    h_ici = leak * torch.randn(1, s, s, k, m, dtype=C, generator=gen)
    h_ici[:, torch.arange(s), torch.arange(s)] = h
    return h, h_ici


JOINT_KW = {"psi": 0.5, "rate_norm": 8.0, "fisher_norm": 10.0, "num_rx": 4,
            "radar_gain": torch.tensor([[1.0, 2.0, 0.5]], dtype=torch.float64)}


def test_joint_without_ici_has_the_per_subcarrier_optimum() -> None:
    """ω = 0: the coupled program splits into the per-subcarrier ones (same relaxation value at
    every target, also where the SINR constraints are active)."""
    h, h_ici = _ici_channel(3, 2, 4, 0.0, seed=5)
    kw = {**JOINT_KW, "sinr_grid": [0.0, 2.0]}
    per = ofdm_isac_sdr(h, 0.3, 3.0, 0.1, **kw)  # type: ignore[arg-type]
    joint = ofdm_isac_sdr(h, 0.3, 3.0, 0.1, h_ici=h_ici, ici="joint", **kw)  # type: ignore[arg-type]
    assert torch.allclose(joint.utility_relaxation_grid, per.utility_relaxation_grid, rtol=1e-5)
    assert torch.allclose(joint.fisher_relaxation, per.fisher_relaxation, rtol=1e-5)
    # the constraints are active at τ = 2: its sensing part is below the τ = 0 one
    rate = 0.5 * 2 * 3 * math.log2(3.0) / 8.0
    assert float(per.utility_relaxation_grid[0, 1]) - rate < \
        0.99 * float(per.utility_relaxation_grid[0, 0])
    # with no ICI the power LP keeps every subcarrier at P/S, as the default's scaling
    assert torch.allclose(joint.w.abs().square().sum(dim=(-2, -1)),
                          torch.full((1, 3), 1.0, dtype=torch.float64), rtol=1e-9)


def test_joint_meets_every_sinr_with_ici_where_the_default_does_not() -> None:
    from isaclearn.metrics.ofdm import sinr_ici

    h, h_ici = _ici_channel(3, 2, 4, 0.4, seed=7)
    sigma2 = 0.1
    kw = {**JOINT_KW, "sinr_grid": [0.0, 0.3, 1.0, 2.0]}
    joint = ofdm_isac_sdr(h, 0.3, 3.0, sigma2, h_ici=h_ici, ici="joint", **kw)  # type: ignore[arg-type]
    per = ofdm_isac_sdr(h, 0.3, 3.0, sigma2, **kw)  # type: ignore[arg-type]
    # every target the coupled relaxation meets is met by the extracted precoder (Liu's
    # extraction lowers every ICI term; the power LP keeps the constraints)
    assert bool(joint.feasible_grid.all()) and bool(per.feasible[0])
    # SINR (7) recomputed with ICI by the metrics code
    got = sinr_ici(h_ici, joint.w, sigma2)
    assert float(joint.tau[0]) > 0
    assert float(got.min()) >= float(joint.tau[0]) * (1 - 1e-4)
    assert torch.allclose(joint.noise, sigma2 + ici_power(h_ici, joint.w))
    # the per-subcarrier solution ignores the ICI and misses its target once the ICI counts
    assert float(sinr_ici(h_ici, per.w, sigma2).min()) < float(per.tau[0]) * 0.9
    # power per subcarrier at most P/S; the ICI only tightens the program
    assert bool((joint.w.abs().square().sum(dim=(-2, -1)) <= 1.0 + 1e-9).all())
    ok = joint.feasible_grid[0]
    assert bool((joint.utility_relaxation_grid[0, ok]
                 <= per.utility_relaxation_grid[0, ok] * (1 + 1e-6)).all())


def _direct_joint(h: np.ndarray, h_ici: np.ndarray, theta: float, p_sub: float, noise: float,
                  tau: float, gain: np.ndarray) -> float:
    """max Σ_m g_m ζ_m s.t. (15c) per subcarrier, SINR ≥ τ with the ICI of every stream on every
    other subcarrier, Σ_u tr W_{m,u} ≤ P/S — written directly with explicit traces."""
    s, k, m = h.shape
    a, da = _arrays(m, N_R, theta)
    q_dd, q_da, q_aa = da.conj().T @ da, da.conj().T @ a, a.conj().T @ a
    s_f, s_a = np.trace(q_dd).real / m, np.trace(q_aa).real / m
    s_c = math.sqrt(s_f * s_a)
    w = [[cp.Variable((m, m), hermitian=True) for _ in range(k)] for _ in range(s)]  # W/p_sub
    zeta = cp.Variable(s)
    cons = []
    for j in range(s):
        wt = sum(w[j])
        lmi = cp.bmat([[cp.trace(q_dd / s_f @ wt) - zeta[j], cp.trace(q_da / s_c @ wt)],
                       [cp.trace(q_da.conj().T / s_c @ wt), cp.trace(q_aa / s_a @ wt)]])
        cons += [x >> 0 for x in w[j]] + [lmi >> 0, cp.real(sum(cp.trace(x) for x in w[j])) <= 1]
        for u in range(k):
            hu = h[j, u]
            q = np.outer(hu.conj(), hu)
            sig = cp.real(cp.trace(q @ w[j][u]))
            intf = sum(cp.real(cp.trace(q @ w[j][i])) for i in range(k) if i != u)
            ici = sum(cp.real(cp.trace(np.outer(h_ici[j, x, u].conj(), h_ici[j, x, u]) @ w[x][i]))
                      for x in range(s) if x != j for i in range(k))
            cons.append(sig >= tau * (intf + ici + noise / p_sub))
    prob = cp.Problem(cp.Maximize(gain @ zeta), cons)
    prob.solve(solver="SCS", eps_abs=1e-9, eps_rel=1e-9, max_iters=200_000)
    assert prob.status == cp.OPTIMAL
    return float(gain @ zeta.value) * s_f * p_sub


def test_joint_relaxation_equals_a_directly_written_program() -> None:
    h, h_ici = _ici_channel(2, 2, 3, 0.5, seed=8)
    gain = np.array([1.0, 3.0])
    kw = {**JOINT_KW, "radar_gain": torch.from_numpy(gain)[None], "sinr_grid": [0.8],
          "num_rx": N_R}
    res = ofdm_isac_sdr(h, -0.4, 2.0, 0.2, h_ici=h_ici, ici="joint", **kw)  # type: ignore[arg-type]
    direct = _direct_joint(h[0].numpy(), h_ici[0].numpy(), -0.4, 1.0, 0.2, 0.8, gain)
    free = _direct_joint(h[0].numpy(), h_ici[0].numpy(), -0.4, 1.0, 0.2, 0.0, gain)
    assert direct < 0.99 * free  # the coupled SINR constraints are active
    assert bool(res.feasible_grid[0, 0])
    assert float(res.fisher_relaxation[0].sum()) == pytest.approx(direct, rel=1e-5)


def test_joint_errors() -> None:
    h, h_ici = _ici_channel(2, 2, 4, 0.1, seed=1)
    kw = {"sinr_grid": [0.0], "psi": 0.5, "rate_norm": 1.0, "fisher_norm": 1.0, "num_rx": 4}
    with pytest.raises(ConfigError, match="ici must be one of"):
        ofdm_isac_sdr(h, 0.1, 1.0, 0.1, h_ici=h_ici, ici="exact", **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs h_ici"):
        ofdm_isac_sdr(h, 0.1, 1.0, 0.1, ici="joint", **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ici_rounds"):
        ofdm_isac_sdr(h, 0.1, 1.0, 0.1, h_ici=h_ici, ici="joint", ici_rounds=2,  # type: ignore[arg-type]
                      **kw)
    big, big_ici = _ici_channel(8, 2, 17, 0.1, seed=1)  # 8·2·17² = 4624 > JOINT_MAX_SIZE
    with pytest.raises(ConfigError, match="toy sizes"):
        ofdm_isac_sdr(big, 0.1, 1.0, 0.1, h_ici=big_ici, ici="joint", **kw)  # type: ignore[arg-type]
