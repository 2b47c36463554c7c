"""Hybrid precoders (isaclearn.solvers.hybrid): quantizer (37), Stage II (16)-(22), OMP and the
DRL update rules UU (30)-(32) / AU (33)-(37), against explicit per-instance loops."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
import torch

from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.solvers.hybrid import (
    angular_dictionary,
    apply_au,
    apply_uu,
    check_hybrid,
    hybrid_decompose,
    hybrid_precoder,
    normalize_power,
    omp_decompose,
    quantize_phases,
)

C = torch.complex128
BITS = 3


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _grid_rf(b: int, m: int, k: int, bits: int, gen: torch.Generator) -> torch.Tensor:
    idx = torch.randint(0, 2**bits, (b, m, k), generator=gen).to(torch.float64)
    return torch.polar(torch.ones_like(idx), idx * 2 * math.pi / 2**bits)


def _crandn(*shape: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, dtype=C, generator=gen)


def _assert_ok(v: dict[str, torch.Tensor]) -> None:
    assert float(v["modulus"].max()) <= 1e-6
    assert float(v["phase_grid"].max()) <= 1e-5
    assert float(v["off_diagonal"].max()) == 0.0
    assert float(v["power"].max()) <= 1e-5


# ------------------------------------------------------------------------------ quantizer


def test_quantizer_is_nearest_point_of_the_set() -> None:
    gen = _gen(1)
    ang = (torch.rand(500, generator=gen, dtype=torch.float64) - 0.5) * 20.0
    for bits in (1, 2, 3, 5):
        q = quantize_phases(ang, bits)
        grid = [2 * math.pi * b / 2**bits for b in range(2**bits)]
        for a, got in zip(ang.tolist(), q.tolist()):
            best = min(grid, key=lambda t, a=a: abs(cmath.exp(1j * t) - cmath.exp(1j * a)))
            assert abs(cmath.exp(1j * got) - cmath.exp(1j * best)) < 1e-12
        z = quantize_phases(torch.polar(2.0 * torch.ones_like(ang), ang), bits)
        assert torch.allclose(z, torch.polar(torch.ones_like(q), q), atol=1e-12)


def test_quantizer_continuous_and_errors() -> None:
    z = torch.tensor([3 + 4j, -2j], dtype=C)
    assert torch.allclose(quantize_phases(z, None), z / z.abs())
    with pytest.raises(ConfigError):
        quantize_phases(z, 0)


# ------------------------------------------------------------------------------ representation


def test_hybrid_precoder_and_power_invariant_vs_loop() -> None:
    gen = _gen(2)
    b, s, m, k = 3, 4, 5, 2
    f_rf, p = _grid_rf(b, m, k, BITS, gen), _crandn(b, s, k, gen=gen)
    f = hybrid_precoder(f_rf, p)
    for i in range(b):
        for j in range(s):
            assert torch.allclose(f[i, j], f_rf[i] @ torch.diag(p[i, j]))
    p = normalize_power(p)  # budget K S (spec §6.1)
    assert torch.allclose((p.abs() ** 2).sum(dim=(1, 2)), torch.full((b,), float(k * s),
                                                                     dtype=torch.float64))
    # Σ_m ||F_m||² = M Σ|p|²: the invariant Σ_m E||x_m||² = P_t with x = sqrt(P_t/(M K S)) F s.
    f = hybrid_precoder(f_rf, p)
    assert torch.allclose((f.abs() ** 2).sum(dim=(1, 2, 3)), torch.full((b,), float(m * k * s),
                                                                        dtype=torch.float64))
    mask = torch.tensor([[True, False], [True, True], [False, True]])
    q = normalize_power(p, 6.0, num_users_mask=mask)
    assert bool((q[~mask[:, None, :].expand_as(q)] == 0).all())
    assert torch.allclose((q.abs() ** 2).sum(dim=(1, 2)), torch.full((b,), 6.0,
                                                                     dtype=torch.float64))
    assert torch.allclose((normalize_power(p, num_users_mask=mask).abs() ** 2).sum(dim=(1, 2)),
                          mask.sum(-1).to(torch.float64) * s)


def test_check_hybrid_detects_each_violation() -> None:
    gen = _gen(3)
    f_rf, p = _grid_rf(2, 4, 2, BITS, gen), normalize_power(_crandn(2, 3, 2, gen=gen))
    _assert_ok(check_hybrid(f_rf, p, BITS))
    bad = f_rf.clone()
    bad[0, 1, 1] *= 1.01
    v = check_hybrid(bad, p, BITS)
    assert float(v["modulus"][0]) > 1e-3 and float(v["modulus"][1]) == 0.0
    bad = f_rf.clone()
    bad[1, 0, 0] *= cmath.exp(0.05j)
    v = check_hybrid(bad, p, BITS)
    assert float(v["phase_grid"][1]) > 1e-2 and float(v["phase_grid"][0]) < 1e-12
    full = torch.diag_embed(p)
    assert float(check_hybrid(f_rf, full, BITS)["off_diagonal"].max()) == 0.0
    full[0, 2, 0, 1] = 0.1
    assert float(check_hybrid(f_rf, full, BITS)["off_diagonal"][0]) == pytest.approx(0.1)
    assert float(check_hybrid(f_rf, 1.1 * p, BITS)["power"].min()) == pytest.approx(0.21)


# ------------------------------------------------------------------------------ UU / AU rules


def _ref_uu(f_rf: np.ndarray, p: np.ndarray, u: int, a_rf2: np.ndarray, a_bb: np.ndarray,
            mask: np.ndarray, bits: int, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """(31)-(32) for one instance, with explicit loops."""
    f, q = f_rf.copy(), p.copy()
    d = 2 * math.pi / 2**bits
    for i in range(f.shape[0]):
        phase = cmath.phase(f[i, u]) + (d if a_rf2[i] >= 0 else -d)
        b = round(phase / d) % 2**bits
        f[i, u] = cmath.exp(1j * b * d)
    for m in range(q.shape[0]):
        q[m, u] += a_bb[m]
    q = q * mask[None, :]
    return f, q * math.sqrt(budget / (abs(q) ** 2).sum())


def _ref_au(f_rf: np.ndarray, p: np.ndarray, i: int, a_bb: np.ndarray, eta: float, bits: int,
            budget: float) -> tuple[np.ndarray, np.ndarray]:
    """(34)-(37) for one instance, with explicit loops."""
    f, q = f_rf.copy(), p.copy()
    s, k = q.shape
    for u in range(k):
        acc = 0j
        for m in range(s):
            old = f_rf[i, u] * p[m, u]
            new = old + eta * abs(old) * cmath.exp(1j * math.pi * a_bb[m])
            if abs(p[m, u]) > 0:
                acc += new * p[m, u].conjugate() / abs(p[m, u])
                q[m, u] = abs(new) * p[m, u] / abs(p[m, u])
        if abs(acc) > 0:
            d = 2 * math.pi / 2**bits
            f[i, u] = cmath.exp(1j * d * (round(cmath.phase(acc) / d) % 2**bits))
    return f, q * math.sqrt(budget / (abs(q) ** 2).sum())


@pytest.mark.parametrize("masked", [False, True])
def test_uu_fuzz_constraints_and_loop_reference(masked: bool) -> None:
    gen = _gen(4)
    b, s, m, k = 16, 4, 6, 3
    mask = torch.rand(b, k, generator=gen) < 0.7 if masked else torch.ones(b, k, dtype=torch.bool)
    mask[:, 0] = True
    f_rf = _grid_rf(b, m, k, BITS, gen)
    p = normalize_power(_crandn(b, s, k, gen=gen), num_users_mask=mask)
    budget = (mask.sum(-1) * s).to(torch.float64)
    for _ in range(10):
        a1 = torch.rand(b, k, generator=gen, dtype=torch.float64)
        a1[0] = 0.0  # an all-zero row: uniform over the real users
        a2 = 2 * torch.rand(b, m, generator=gen, dtype=torch.float64) - 1
        abb = 2 * torch.rand(b, s, generator=gen, dtype=torch.float64) - 1
        out = apply_uu(f_rf, p, a1, a2, abb, mask, BITS, None, gen)
        _assert_ok(check_hybrid(out.f_rf, out.p, BITS, budget))
        for j in range(b):
            u = int(out.index[j])
            assert bool(mask[j, u])
            changed = (out.f_rf[j] - f_rf[j]).abs().amax(0) > 1e-12
            assert changed.nonzero().flatten().tolist() == [u]  # exactly one column
            ref_f, ref_p = _ref_uu(f_rf[j].numpy(), p[j].numpy(), u, a2[j].numpy(),
                                   abb[j].numpy(), mask[j].numpy(), BITS, float(budget[j]))
            np.testing.assert_allclose(out.f_rf[j].numpy(), ref_f, atol=1e-12)
            np.testing.assert_allclose(out.p[j].numpy(), ref_p, atol=1e-12)
        f_rf, p = out.f_rf, out.p


@pytest.mark.parametrize("masked", [False, True])
def test_au_fuzz_constraints_and_loop_reference(masked: bool) -> None:
    gen = _gen(5)
    b, s, m, k = 16, 4, 6, 3
    mask = torch.rand(b, k, generator=gen) < 0.7 if masked else torch.ones(b, k, dtype=torch.bool)
    mask[:, 0] = True
    f_rf = _grid_rf(b, m, k, BITS, gen)
    p = normalize_power(_crandn(b, s, k, gen=gen), num_users_mask=mask)
    budget = (mask.sum(-1) * s).to(torch.float64)
    for _ in range(10):
        a = torch.rand(b, m, generator=gen, dtype=torch.float64)
        abb = 2 * torch.rand(b, s, generator=gen, dtype=torch.float64) - 1
        out = apply_au(f_rf, p, a, abb, 0.1, BITS, None, gen, num_users_mask=mask)
        _assert_ok(check_hybrid(out.f_rf, out.p, BITS, budget))
        assert bool((out.p[~mask[:, None, :].expand_as(out.p)] == 0).all())
        for j in range(b):
            i = int(out.index[j])
            changed = (out.f_rf[j] - f_rf[j]).abs().amax(1) > 1e-12
            assert set(changed.nonzero().flatten().tolist()) <= {i}  # only row i* (may stay)
            ref_f, ref_p = _ref_au(f_rf[j].numpy(), p[j].numpy(), i, abb[j].numpy(), 0.1, BITS,
                                   float(budget[j]))
            np.testing.assert_allclose(out.f_rf[j].numpy(), ref_f, atol=1e-12)
            np.testing.assert_allclose(out.p[j].numpy(), ref_p, atol=1e-12)
        f_rf, p = out.f_rf, out.p


def test_au_changes_the_row_for_a_large_step() -> None:
    gen = _gen(6)
    f_rf = torch.ones(4, 5, 2, dtype=C)
    p = normalize_power(torch.ones(4, 3, 2, dtype=C))
    out = apply_au(f_rf, p, torch.ones(4, 5, dtype=torch.float64),
                   torch.full((4, 3), 0.5, dtype=torch.float64), 5.0, BITS, None, gen)
    for j in range(4):  # new phase ∠(1 + 5j) ≈ 79° → quantized to 90°
        i = int(out.index[j])
        assert bool(((out.f_rf[j, i] - f_rf[j, i]).abs() > 1e-6).all())
        keep = [r for r in range(5) if r != i]
        assert torch.equal(out.f_rf[j, keep], f_rf[j, keep])


def test_sampling_follows_the_weights_and_mask() -> None:
    gen = _gen(7)
    n, k = 20_000, 4
    w = torch.tensor([0.1, 0.0, 0.6, 0.3], dtype=torch.float64)
    mask = torch.tensor([True, True, True, False]).expand(n, k)
    out = apply_uu(torch.ones(n, 2, k, dtype=C), torch.ones(n, 1, k, dtype=C), w.expand(n, k),
                   torch.ones(n, 2, dtype=torch.float64), torch.zeros(n, 1, dtype=torch.float64),
                   mask, BITS, None, gen)
    freq = torch.bincount(out.index, minlength=k).to(torch.float64) / n
    expect = torch.tensor([1 / 7, 0.0, 6 / 7, 0.0], dtype=torch.float64)
    sd = torch.sqrt(expect * (1 - expect) / n)
    assert bool(((freq - expect).abs() <= 4 * sd + 1e-12).all())


def test_rules_same_seed_same_result_and_errors() -> None:
    f_rf, p = torch.ones(3, 4, 2, dtype=C), torch.ones(3, 2, 2, dtype=C)
    args = (f_rf, p, torch.rand(3, 4, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64),
            0.1, BITS, None)
    a = apply_au(*args, _gen(9))
    b = apply_au(*args, _gen(9))
    assert torch.equal(a.index, b.index) and torch.equal(a.f_rf, b.f_rf)
    with pytest.raises(ValueRangeError):
        apply_au(f_rf, p, -torch.ones(3, 4), torch.zeros(3, 2), 0.1, BITS, None, None)
    with pytest.raises(ShapeError):
        apply_uu(f_rf, p, torch.ones(3, 3), torch.ones(3, 4), torch.zeros(3, 2), None, BITS,
                 None, None)
    with pytest.raises(ValueRangeError):
        apply_uu(f_rf, p, torch.ones(3, 2), torch.ones(3, 4), torch.zeros(3, 2),
                 torch.tensor([[True, False], [False, False], [True, True]]), BITS, None, None)


# ------------------------------------------------------------------------------ Stage II, OMP


def test_stage_two_recovers_a_realizable_precoder() -> None:
    gen = _gen(10)
    b, s, m, k = 5, 4, 8, 3
    f_rf, p = _grid_rf(b, m, k, BITS, gen), _crandn(b, s, k, gen=gen)
    target = hybrid_precoder(f_rf, p)
    res = hybrid_decompose(target, BITS, 20)
    assert float(res.error.max()) < 1e-6
    assert float((res.f - target).abs().max()) < 1e-6
    _assert_ok(check_hybrid(res.f_rf, res.p, BITS, (p.abs() ** 2).sum(dim=(1, 2))))


def _ref_iteration(target: np.ndarray, p: np.ndarray, bits: int, budget: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One pass of (19), (37), (21), (22) for one instance, explicit loops."""
    s, m, k = target.shape
    acc = np.zeros((m, k), dtype=complex)
    for j in range(s):
        fbb = np.diag(p[j])
        acc += np.linalg.norm(fbb) ** 2 * target[j] @ np.linalg.inv(fbb)
    d = 2 * math.pi / 2**bits
    f_rf = np.exp(1j * d * (np.round(np.angle(acc) / d) % 2**bits))
    q = np.array([[f_rf[:, u].conj() @ target[j][:, u] / m for u in range(k)] for j in range(s)])
    return f_rf, q * math.sqrt(budget / (abs(q) ** 2).sum())


def test_stage_two_iterations_match_loop_and_do_not_lose_to_the_start() -> None:
    gen = _gen(11)
    b, s, m, k = 6, 4, 8, 2
    target = _crandn(b, s, m, k, gen=gen)
    budget = float(k * s)
    res1 = hybrid_decompose(target, BITS, 1, power=budget)
    res2 = hybrid_decompose(target, BITS, 2, power=budget)
    scale = torch.sqrt(m * budget / (target.abs() ** 2).sum(dim=(1, 2, 3)))
    for j in range(b):
        t = (target[j] * scale[j]).numpy()
        f1, p1 = _ref_iteration(t, np.ones((s, k), dtype=complex), BITS, budget)
        np.testing.assert_allclose(res1.f_rf[j].numpy(), f1, atol=1e-12)
        np.testing.assert_allclose(res1.p[j].numpy(), p1, atol=1e-12)
        f2, p2 = _ref_iteration(t, p1, BITS, budget)
        np.testing.assert_allclose(res2.f_rf[j].numpy(), f2, atol=1e-12)
        np.testing.assert_allclose(res2.p[j].numpy(), p2, atol=1e-12)
    res = hybrid_decompose(_crandn(40, s, m, k, gen=gen), BITS, 20, power=budget)
    hist = res.error_history
    assert bool((hist[:, 1] <= hist[:, 0] + 1e-12).all())
    assert bool((hist[:, -1] <= hist[:, 0] + 1e-12).all())
    _assert_ok(check_hybrid(res.f_rf, res.p, BITS, budget))


def test_angular_dictionary_formula() -> None:
    d = angular_dictionary(5, 8)
    for g in range(8):
        u = -1 + 2 * g / 8
        ref = torch.tensor([cmath.exp(-1j * math.pi * i * u) / math.sqrt(5) for i in range(5)],
                           dtype=C)
        assert torch.allclose(d[:, g], ref, atol=1e-14)


@pytest.mark.parametrize("bits", [2, 3, None])
def test_omp_recovers_one_atom_per_stream(bits: int | None) -> None:
    gen = _gen(12)
    b, s, m, k, g = 6, 4, 8, 3, 32
    atoms = quantize_phases(math.sqrt(m) * angular_dictionary(m, g), bits)
    pick = torch.randint(0, g, (b, k), generator=gen)
    f_rf = atoms.transpose(0, 1)[pick].transpose(-2, -1)
    target = hybrid_precoder(f_rf, _crandn(b, s, k, gen=gen))
    res = omp_decompose(target, bits, g)
    assert float(res.error.max()) < 1e-12
    assert float((res.f - target).abs().max()) < 1e-10
    if bits is not None:
        _assert_ok(check_hybrid(res.f_rf, res.p, bits, (res.p.abs() ** 2).sum(dim=(1, 2))))
