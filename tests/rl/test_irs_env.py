"""The liu_irs_ppo environments (spec §3 MDP, §7 "Env", §8 lessons): V unit modulus × γ_n,
per-antenna power, the reward recomputed from isaclearn.metrics, the sign of the μ term, the
observation against channels.irs, determinism, the NumPy oracle, the designer interface."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaclearn.channels.irs import effective_channel, irs_amplitude, phases_from_indices
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.metrics.comm import mimo_rates, rates
from isaclearn.metrics.pattern import angle_grid, beampattern_mse, desired_pattern
from isaclearn.metrics.power import per_antenna_power
from isaclearn.rl.envs.liu_irs_ppo import (
    IrsIsacMimoCore,
    IrsIsacMisoCore,
    IrsIsacMisoNumpy,
)
from isaclearn.rl.rollout import rollout
from isaclearn.solvers import MRT, ZF
from isaclearn.solvers.irs import FixedPhases, without_irs


def _actions(core: IrsIsacMisoCore | IrsIsacMimoCore, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    b = core.batch_size
    w_size = core.action_space["w"].shape[0]  # type: ignore[index]
    e = core.config.scenario.num_irs_elements
    levels = 2 ** core.config.scenario.phase_bits
    return {"w": (2 * torch.rand(b, w_size, generator=g, dtype=torch.float64) - 1).to(
                core.real_dtype),
            "phases": torch.randint(0, levels, (b, e), generator=g)}


def _desired(core: IrsIsacMisoCore | IrsIsacMimoCore) -> tuple[torch.Tensor, torch.Tensor]:
    sc = core.config.scenario
    g = angle_grid(sc.grid_step_deg, dtype=torch.float64)
    d = desired_pattern(g, torch.deg2rad(torch.tensor(sc.target_angles_deg, dtype=torch.float64)),
                        math.radians(sc.beam_width_deg))
    return g, d


@pytest.mark.parametrize("cls", [IrsIsacMisoCore, IrsIsacMimoCore])
def test_reflection_has_modulus_gamma_and_power_meets_22(cls: type) -> None:
    core = cls(4, dtype=torch.complex128)
    core.reset(seed=1)
    for t in range(3):
        a = _actions(core, t)
        a["w"] = a["w"] * 5.0  # out of bounds: clipped, then projected
        core.step(a)
        sc = core.config.scenario
        beta = 2 * math.pi * a["phases"].to(torch.float64) / 2 ** sc.phase_bits
        want = irs_amplitude(beta, gamma_min=sc.gamma_min, exponent=sc.amp_exponent)
        torch.testing.assert_close(core.reflection.abs(), want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(torch.angle(core.reflection),
                                   torch.angle(torch.polar(torch.ones_like(beta), beta)))
        w = core.precoder(a["w"])
        cap = sc.p_max_w / sc.num_antennas
        assert bool((per_antenna_power(w) <= cap * (1 + 1e-12)).all())
    # every entry clipped to +-1 puts each row well above the cap: all rows sit on it
    torch.testing.assert_close(per_antenna_power(w), torch.full_like(per_antenna_power(w), cap))


def test_miso_reward_is_the_lagrangian_from_metrics() -> None:
    core = IrsIsacMisoCore(3, dtype=torch.complex128)
    core.reset(seed=2)
    core.set_multipliers(lam=torch.tensor([0.5, 1.0, 1.5, 2.0]), mu=0.3)
    problem = core.episodes
    assert problem is not None
    a = _actions(core, 0)
    _, reward, terminated, _, info = core.step(a)
    sc = core.config.scenario
    # independent recomputation: W by hand, V from the indices, metrics on the raw channel
    flat = a["w"].clamp(-1, 1)
    u = torch.complex(flat[:, :20], flat[:, 20:]).reshape(3, 5, 4) * math.sqrt(sc.p_max_w / 5)
    row = u.abs().square().sum(-1, keepdim=True)
    w = torch.where(row > sc.p_max_w / 5, u * torch.sqrt(sc.p_max_w / 5 / row), u)
    v = problem.reflection(phases_from_indices(a["phases"], sc.phase_bits,
                                               dtype=torch.float64))
    h = effective_channel(problem, v)
    r = rates(h, w, problem.noise_var)
    g, d = _desired(core)
    l_r = beampattern_mse(w, d, g)
    want = (torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=torch.float64) * r).sum(-1) + 0.3 * (
        sc.ell - l_r)
    torch.testing.assert_close(reward, want, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(info["sum_rate"], r.sum(-1), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(info["rate_2"], r[:, 2], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(info["beampattern_mse"], l_r, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(info["power"], w.abs().square().sum((-2, -1)))
    torch.testing.assert_close(info["lambda"], torch.full((3,), 1.25, dtype=torch.float64))
    torch.testing.assert_close(info["mu"], torch.full((3,), 0.3, dtype=torch.float64))
    assert not bool(terminated.any())


def test_mimo_reward_is_the_per_user_lagrangian() -> None:
    core = IrsIsacMimoCore(2, dtype=torch.complex128)
    core.reset(seed=3)
    core.set_multipliers(mu=[0.1, 0.2, 0.3, 0.4])
    a = _actions(core, 1)
    _, reward, _, _, info = core.step(a)
    problem = core.episodes
    assert problem is not None
    w = core.precoder(a["w"])  # [B, K, M, N]
    h = effective_channel(problem, core.reflection)
    r = mimo_rates(h, w, problem.noise_var)
    g, d = _desired(core)
    l_r = beampattern_mse(w, d, g)  # [B, K]
    mu = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    want = r.sum(-1) + (mu * (core.config.scenario.ell - l_r)).sum(-1)
    torch.testing.assert_close(reward, want, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(info["beampattern_mse"], l_r.mean(-1))
    torch.testing.assert_close(info["beampattern_mse_3"], l_r[:, 3])


def test_mu_term_sign() -> None:
    """Raising μ lowers the reward of a design with L_r > ℓ and raises it when L_r < ℓ, so a
    maximizer of the reward is pushed towards lower L_r (spec §7 sign test)."""
    core = IrsIsacMisoCore(1, dtype=torch.complex128)
    loud = {"w": torch.ones(1, 40, dtype=torch.float64),
            "phases": torch.zeros(1, 16, dtype=torch.int64)}  # full power, one beam: large L_r
    quiet = {"w": 0.05 * torch.ones(1, 40, dtype=torch.float64),
             "phases": torch.zeros(1, 16, dtype=torch.int64)}
    out = {}
    for mu in (0.0, 1.0):
        for name, act in (("loud", loud), ("quiet", quiet)):
            core.reset(seed=0)
            core.set_multipliers(mu=mu)
            _, reward, _, _, info = core.step(act)
            out[(mu, name)] = (float(reward), float(info["beampattern_mse"]))
    ell = core.config.scenario.ell
    assert out[(0.0, "loud")][1] > ell > out[(0.0, "quiet")][1]
    assert out[(1.0, "loud")][0] < out[(0.0, "loud")][0]
    assert out[(1.0, "quiet")][0] > out[(0.0, "quiet")][0]
    # the preferred action flips to the low-L_r one once μ weighs the constraint
    assert out[(0.0, "loud")][0] > out[(0.0, "quiet")][0]
    assert out[(1.0, "loud")][0] < out[(1.0, "quiet")][0]


@pytest.mark.parametrize("cls", [IrsIsacMisoCore, IrsIsacMimoCore])
def test_observation_is_the_scaled_effective_channel(cls: type) -> None:
    core = cls(3, dtype=torch.complex128)
    obs, _ = core.reset(seed=4)
    problem = core.episodes
    assert problem is not None
    scale = math.sqrt(problem.p_max / problem.noise_var)
    h0 = effective_channel(problem, problem.reflection(problem.phases0)).reshape(3, -1) * scale
    torch.testing.assert_close(obs, torch.cat([h0.real, h0.imag], 1))
    a = _actions(core, 2)
    obs, *_ = core.step(a)
    v = problem.reflection(phases_from_indices(a["phases"], problem.phase_bits,
                                               dtype=torch.float64))
    h1 = effective_channel(problem, v).reshape(3, -1) * scale
    torch.testing.assert_close(obs, torch.cat([h1.real, h1.imag], 1))
    assert 0.01 < float(obs.abs().mean()) < 10.0  # O(1) values


def test_phase_modes_initial_and_off() -> None:
    init = IrsIsacMisoCore(2, phases="initial", dtype=torch.complex128)
    off = IrsIsacMisoCore(2, phases="off", dtype=torch.complex128)
    first, _ = init.reset(seed=5)
    off.reset(seed=5)
    problem = init.episodes
    assert problem is not None
    for _ in range(2):
        obs, _, _, _, info = init.step(_actions(init, 0))
        torch.testing.assert_close(obs, first)  # V stays V^0 whatever the phase action
        _, _, _, _, info_off = off.step(_actions(off, 0))
    direct = problem.h0.conj().transpose(-2, -1)
    torch.testing.assert_close(off.channel(), direct)
    assert float(info_off["cascade_direct_ratio"].abs().max()) == 0.0
    assert float(info["cascade_direct_ratio"].min()) > 0.0


def test_determinism_same_seed_same_rollout() -> None:
    runs = []
    for _ in range(2):
        core = IrsIsacMisoCore(3)
        obs, _ = core.reset(seed=9)
        trace = [obs]
        for t in range(4):
            obs, reward, _, _, info = core.step(_actions(core, t))
            trace += [obs, reward, info["sum_rate"]]
        runs.append(trace)
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("pattern", ["grid", "lags"])
def test_numpy_reference_equals_the_core(pattern: str) -> None:
    core = IrsIsacMisoCore(4, dtype=torch.complex128)
    core.reset(seed=6)
    core.set_multipliers(lam=torch.tensor([1.0, 0.5, 2.0, 1.0]), mu=0.2)
    assert core.episodes is not None
    ref = IrsIsacMisoNumpy(core.config, core.episodes, lam=np.array([1.0, 0.5, 2.0, 1.0]),
                           mu=0.2, pattern=pattern)
    for t in range(3):
        a = _actions(core, t)
        obs, reward, _, _, info = core.step(a)
        obs_np, reward_np, info_np = ref.step({k: v.numpy() for k, v in a.items()})
        np.testing.assert_allclose(obs.numpy(), obs_np, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(reward.numpy(), reward_np, rtol=1e-10, atol=1e-12)
        for key, value in info.items():
            np.testing.assert_allclose(value.numpy(), info_np[key], rtol=1e-9, atol=1e-12,
                                       err_msg=key)


def test_designers_act_through_rollout() -> None:
    """MRT with the episode's V^0 scored through rollout on a phases="initial" env equals
    the metrics of FixedPhases(MRT()) on the same problem; quantized co-phasing acts exactly
    through the phase action; without_irs on phases="off"."""
    rows = rollout(lambda b: IrsIsacMisoCore(b, phases="initial", dtype=torch.complex128),
                   FixedPhases(MRT()), episodes=3, seed=0, max_steps=2)
    core = IrsIsacMisoCore(3, phases="initial", dtype=torch.complex128)
    core.reset(generator=torch.Generator().manual_seed(0))
    problem = core.episodes
    assert problem is not None
    design = FixedPhases(MRT()).design(problem)
    want = rates(effective_channel(problem, problem.reflection(problem.phases0)), design.w,
                 problem.noise_var).sum(-1)
    np.testing.assert_allclose([r["sum_rate"] for r in rows], want.numpy(), rtol=1e-9)
    assert rows[0]["method"] == "mrt+initial" and rows[0]["steps"] == 2

    core = IrsIsacMisoCore(2, dtype=torch.complex128)
    core.reset(seed=1)
    zf = FixedPhases(ZF(), phases="co_phasing", quantize=True)
    d = zf.design(core.current_problem())
    act = core.design_to_action(d)
    _, _, _, _, info = core.step(act)
    torch.testing.assert_close(core.reflection, d.extras["reflection"])
    torch.testing.assert_close(core.precoder(act["w"]), d.w)
    off_rows = rollout(lambda b: IrsIsacMisoCore(b, phases="off"), without_irs(MRT()),
                       episodes=2, seed=0, max_steps=1)
    assert all(r["cascade_direct_ratio"] == 0.0 for r in off_rows)


def test_bad_input_errors() -> None:
    with pytest.raises(ConfigError):
        IrsIsacMisoCore(1, phases="sometimes")
    core = IrsIsacMisoCore(2)
    with pytest.raises(ShapeError):
        core.set_multipliers(lam=torch.ones(3))
    with pytest.raises(ValueRangeError):
        core.set_multipliers(mu=-1.0)
    core.reset(seed=0)
    with pytest.raises(ShapeError):
        core.design_to_action(Design(w=torch.zeros(2, 4, 4, dtype=torch.complex64)))
    with pytest.raises(ConfigError):
        IrsIsacMimoCore(1, scenario=core.config.scenario)


@pytest.mark.parametrize("cls", [IrsIsacMisoCore, IrsIsacMimoCore])
def test_reward_depends_only_on_the_current_action(cls: type) -> None:
    """The premise of the experiments' γ = 0 (systems.liu_irs_ppo, "Discount"): with the same
    episodes, two different action histories followed by the same action give the same
    reward, so r^t is a function of a^t and the episode's channels only."""
    rewards = []
    for history in range(2):
        core = cls(3)
        core.reset(seed=11)
        for step in range(2 + history):  # different lengths and draws
            core.step(_actions(core, 100 + 10 * history + step))
        rewards.append(core.step(_actions(core, 1))[1])
    torch.testing.assert_close(rewards[0], rewards[1], rtol=1e-6, atol=0.0)
