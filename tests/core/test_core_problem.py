"""BatchedProblem (isaclearn.core.problem): subset / to / cat derived from the dataclass fields,
checked against explicit per-field construction for a toy class and both problem classes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace

import pytest
import torch

from isaclearn.channels import DownlinkIsacScenario, DownlinkProblem, RicianChannel
from isaclearn.channels.uplink import UplinkProblem, UplinkScenario
from isaclearn.core import BATCHED, BatchedProblem, ConfigError, ShapeError, make_generator
from isaclearn.solvers.uplink_reduced import ReducedUplink, reduce_problem

C128 = torch.complex128


@dataclass
class Toy(BatchedProblem):
    z: torch.Tensor = field(metadata=BATCHED)  # complex [B, 2]
    x: torch.Tensor = field(metadata=BATCHED)  # real [B]
    shared: torch.Tensor  # not batched: [3]
    k: torch.Tensor = field(metadata=BATCHED)  # int64 [B]
    scale: float = 1.0
    opt: torch.Tensor | None = field(default=None, metadata=BATCHED)


def _toy(b: int, seed: int, with_opt: bool = True) -> Toy:
    g = torch.Generator().manual_seed(seed)
    return Toy(z=torch.randn(b, 2, generator=g, dtype=torch.complex64),
               x=torch.randn(b, generator=g), shared=torch.arange(3.0),
               k=torch.arange(b) + seed, scale=2.0,
               opt=torch.randn(b, 4, generator=g) if with_opt else None)


def _assert_same(a: object, b: object) -> None:
    assert type(a) is type(b)
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, torch.Tensor):
            assert isinstance(vb, torch.Tensor), f.name
            assert va.dtype == vb.dtype and va.device == vb.device, f.name
            assert torch.equal(va, vb), f.name
        else:
            assert va == vb, f.name


# --------------------------------------------------------------------------------------------
# the base class on a toy problem
# --------------------------------------------------------------------------------------------


def test_toy_fields_and_batch_size() -> None:
    assert Toy.batched_fields() == ("z", "x", "k", "opt")
    assert _toy(5, 0).batch_size == 5


@pytest.mark.parametrize("index", [slice(1, 4), torch.tensor([4, 0, 2]),
                                   torch.tensor([True, False, True, True, False])])
def test_toy_subset(index: slice | torch.Tensor) -> None:
    t = _toy(5, 0)
    want = Toy(z=t.z[index], x=t.x[index], shared=t.shared, k=t.k[index], scale=t.scale,
               opt=t.opt[index])  # type: ignore[index]
    _assert_same(t.subset(index), want)
    t0 = _toy(5, 0, with_opt=False)
    assert t0.subset(index).opt is None


def test_toy_to_maps_complex_and_real_dtypes() -> None:
    t = _toy(3, 1)
    got = t.to(dtype=C128)
    want = Toy(z=t.z.to(C128), x=t.x.to(torch.float64), shared=t.shared.to(torch.float64),
               k=t.k, scale=t.scale, opt=t.opt.to(torch.float64))  # type: ignore[union-attr]
    _assert_same(got, want)
    # a real dtype asks for the same precision: complex fields become complex128, not real
    _assert_same(t.to(dtype=torch.float64), want)
    _assert_same(got.to(dtype=torch.complex64), t)
    _assert_same(t.to(), t)
    assert t.to(dtype=C128, device="cpu").k.dtype == torch.int64


def test_toy_cat_matches_torch_cat() -> None:
    parts = [_toy(2, 0), _toy(3, 1), _toy(1, 2)]
    got = Toy.cat(parts)
    want = Toy(z=torch.cat([p.z for p in parts]), x=torch.cat([p.x for p in parts]),
               shared=parts[0].shared, k=torch.cat([p.k for p in parts]), scale=2.0,
               opt=torch.cat([p.opt for p in parts]))  # type: ignore[misc]
    _assert_same(got, want)
    assert got.batch_size == 6
    _assert_same(Toy.cat([parts[1]]), parts[1])
    # cat then subset gives the parts back
    _assert_same(got.subset(slice(2, 5)), parts[1])
    none = Toy.cat([_toy(2, 0, with_opt=False), _toy(1, 1, with_opt=False)])
    assert none.opt is None and none.batch_size == 3


def test_toy_cat_errors() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        Toy.cat([])
    with pytest.raises(ShapeError, match="opt is None in some"):
        Toy.cat([_toy(2, 0), _toy(2, 1, with_opt=False)])
    with pytest.raises(ConfigError, match="differ in scale"):
        Toy.cat([_toy(2, 0), replace(_toy(2, 1), scale=3.0)])
    with pytest.raises(ConfigError, match="differ in shared"):
        Toy.cat([_toy(2, 0), replace(_toy(2, 1), shared=torch.ones(3))])

    @dataclass
    class Other(BatchedProblem):
        z: torch.Tensor = field(metadata=BATCHED)

    with pytest.raises(ConfigError, match="got a Other"):
        Toy.cat([_toy(1, 0), Other(torch.zeros(1))])  # type: ignore[list-item]


def test_batch_size_without_batched_tensor() -> None:
    @dataclass
    class Empty(BatchedProblem):
        opt: torch.Tensor | None = field(default=None, metadata=BATCHED)

    with pytest.raises(ShapeError, match="no batched tensor"):
        _ = Empty().batch_size


# --------------------------------------------------------------------------------------------
# DownlinkProblem
# --------------------------------------------------------------------------------------------


def _downlink(b: int, seed: int, mu: float = 0.2, dtype: torch.dtype = torch.complex64,
              angles: tuple[float, ...] | None = (-10.0, 25.0)) -> DownlinkProblem:
    sc = DownlinkIsacScenario(channel=RicianChannel(num_antennas=4, num_users=2),
                              csi_error_mu=mu, target_angles_deg=angles)
    return sc.sample(b, generator=make_generator(seed), dtype=dtype)


def _downlink_like(p: DownlinkProblem, **tensors: torch.Tensor | None) -> DownlinkProblem:
    return DownlinkProblem(h=tensors["h"], theta=tensors["theta"], power=p.power,  # type: ignore[arg-type]
                           noise_var=p.noise_var, radar_snr=p.radar_snr, num_rx=p.num_rx,
                           num_symbols=p.num_symbols, h_est=tensors["h_est"])


@pytest.mark.parametrize("mu", [0.0, 0.3])
def test_downlink_subset_to_cat(mu: float, device: str) -> None:
    p = _downlink(6, 0, mu=mu, angles=None)
    assert DownlinkProblem.batched_fields() == ("h", "theta", "h_est")
    assert (p.h_est is None) == (mu == 0.0)
    idx = torch.tensor([5, 1, 2])
    est = None if p.h_est is None else p.h_est[idx]
    _assert_same(p.subset(idx), _downlink_like(p, h=p.h[idx], theta=p.theta[idx], h_est=est))

    moved = p.to(device)
    est = None if p.h_est is None else p.h_est.to(device)
    _assert_same(moved, _downlink_like(p, h=p.h.to(device), theta=p.theta.to(device), h_est=est))
    wide = p.to(dtype=C128)
    est = None if p.h_est is None else p.h_est.to(C128)
    _assert_same(wide, _downlink_like(p, h=p.h.to(C128), theta=p.theta.to(torch.float64),
                                      h_est=est))

    parts = [_downlink(2, 1, mu=mu, angles=None), _downlink(3, 2, mu=mu, angles=None)]
    got = DownlinkProblem.cat(parts)
    est = None if mu == 0.0 else torch.cat([q.h_est for q in parts])  # type: ignore[misc]
    want = _downlink_like(parts[0], h=torch.cat([q.h for q in parts]),
                          theta=torch.cat([q.theta for q in parts]), h_est=est)
    _assert_same(got, want)
    # the hand-made concatenation of learn.training.generate_dataset gives the same problem
    first = parts[0]
    hand = replace(first, h=torch.cat([q.h for q in parts]),
                   theta=torch.cat([q.theta for q in parts]),
                   h_est=None if first.h_est is None else torch.cat([q.h_est for q in parts]))  # type: ignore[misc]
    _assert_same(got, hand)


def test_downlink_cat_rejects_different_scenarios() -> None:
    a = _downlink(2, 0)
    with pytest.raises(ConfigError, match="noise_var"):
        DownlinkProblem.cat([a, replace(a, noise_var=2 * a.noise_var)])


# --------------------------------------------------------------------------------------------
# UplinkProblem
# --------------------------------------------------------------------------------------------


def _uplink(b: int, seed: int, beta: float = 0.7,
            dtype: torch.dtype = torch.complex64) -> UplinkProblem:
    sc = UplinkScenario(num_tx=3, num_rx=4, num_users=2, num_symbols=4, csi_beta=beta)
    return sc.sample(b, generator=make_generator(seed), dtype=dtype)


def _uplink_like(ref: UplinkProblem, /, **t: torch.Tensor | None) -> UplinkProblem:
    return UplinkProblem(h=t["h"], r_t=t["r_t"], p=t["p"], power_s=ref.power_s,  # type: ignore[arg-type]
                         noise_var=ref.noise_var, num_symbols=ref.num_symbols, alpha=ref.alpha,
                         h_est=t["h_est"], distance_m=t["distance_m"], ms_mode=ref.ms_mode)


def _opt(x: torch.Tensor | None, f):  # type: ignore[no-untyped-def]
    return None if x is None else f(x)


@pytest.mark.parametrize("beta", [1.0, 0.6])
def test_uplink_subset_to_cat(beta: float, device: str) -> None:
    p = _uplink(5, 0, beta=beta)
    assert UplinkProblem.batched_fields() == ("h", "r_t", "p", "h_est", "distance_m")
    assert (p.h_est is None) == (beta == 1.0)
    sl = slice(1, 4)
    _assert_same(p.subset(sl), _uplink_like(
        p, h=p.h[sl], r_t=p.r_t[sl], p=p.p[sl], h_est=_opt(p.h_est, lambda x: x[sl]),
        distance_m=_opt(p.distance_m, lambda x: x[sl])))

    # to(device, dtype=complex128): complex fields to complex128, real ones to float64 (the
    # behaviour of the former hand-written UplinkProblem.to)
    got = p.to(device, dtype=C128)
    want = _uplink_like(
        p, h=p.h.to(device=device, dtype=C128), r_t=p.r_t.to(device=device, dtype=C128),
        p=p.p.to(device=device, dtype=torch.float64),
        h_est=_opt(p.h_est, lambda x: x.to(device=device, dtype=C128)),
        distance_m=_opt(p.distance_m, lambda x: x.to(device=device, dtype=torch.float64)))
    _assert_same(got, want)
    _assert_same(p.to(device), _uplink_like(
        p, h=p.h.to(device), r_t=p.r_t.to(device), p=p.p.to(device),
        h_est=_opt(p.h_est, lambda x: x.to(device)),
        distance_m=_opt(p.distance_m, lambda x: x.to(device))))

    parts = [_uplink(2, 1, beta=beta), _uplink(3, 2, beta=beta)]

    def cat(name: str) -> torch.Tensor | None:
        vals = [getattr(q, name) for q in parts]
        return None if vals[0] is None else torch.cat(vals)

    _assert_same(UplinkProblem.cat(parts), _uplink_like(
        parts[0], h=cat("h"), r_t=cat("r_t"), p=cat("p"), h_est=cat("h_est"),
        distance_m=cat("distance_m")))


def test_reduced_uplink_subset_and_cat() -> None:
    p = _uplink(6, 3, dtype=C128)
    red = reduce_problem(p)
    assert red.batch_size == 6
    sl = slice(2, 5)
    want = ReducedUplink(gain_t=red.gain_t[sl], gain_h=red.gain_h[sl], spec_d=red.spec_d[sl],
                         spec_q=red.spec_q[sl], num_symbols=red.num_symbols, alpha=red.alpha,
                         m_s=red.m_s[sl], m_c=red.m_c[sl])
    _assert_same(red.subset(sl), want)
    # the reduced problem of a subset is the subset of the reduced problem
    _assert_same(reduce_problem(p.subset(sl)), want)
    _assert_same(ReducedUplink.cat([red.subset(slice(0, 2)), red.subset(slice(2, 6))]), red)
