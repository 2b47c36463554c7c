"""ToyBeam against independent references: the explicit AR(1) recursion, its statistics, the
per-sample NumPy step (loops over users), and the designers' closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaclearn.core import ShapeError, complex_normal, make_generator
from isaclearn.core.design import Design
from isaclearn.metrics.comm import sum_rate
from isaclearn.rl import rollout
from isaclearn.rl.envs.toy import (
    ToyBeamCore,
    ToyBeamNumpy,
    numpy_steps_per_second,
    toy_beam_step_numpy,
)
from isaclearn.solvers.designers import MRT, ZF
from isaclearn.solvers.linear import mrt


def test_channel_sequence_is_the_ar1_recursion(device: str, cdtype: torch.dtype) -> None:
    core = ToyBeamCore(3, device=device, dtype=cdtype, correlation=0.7, max_episode_steps=6)
    h = core.sample_episodes(3, make_generator(4, device)).h
    e = complex_normal((3, 7, 2, 4), generator=make_generator(4, device), dtype=cdtype)
    ref = [e[:, 0]]
    for t in range(1, 7):
        ref.append(0.7 * ref[-1] + math.sqrt(1 - 0.49) * e[:, t])
    tol = 1e-6 if cdtype == torch.complex64 else 1e-12
    torch.testing.assert_close(h, torch.stack(ref, dim=1), rtol=tol, atol=tol)


def test_channel_statistics() -> None:
    rho, n = 0.6, 4000
    h = ToyBeamCore(1, correlation=rho, max_episode_steps=3, dtype=torch.complex128
                    ).sample_episodes(n, make_generator(0)).h  # [n, 4, 2, 4]
    power = h.abs().square().mean(dim=(0, 2, 3))  # per t, expected 1
    corr = (h[:, 1:] * h[:, :-1].conj()).mean(dim=(0, 2, 3)).real  # expected rho
    samples = n * 2 * 4
    # |g|^2 of CN(0,1) is Exp(1): std 1; Re(g_t g_{t-1}^*) has variance (1 + rho^2) / 2
    assert torch.all((power - 1).abs() < 3 / math.sqrt(samples))
    assert torch.all((corr - rho).abs() < 3 * math.sqrt((1 + rho**2) / 2 / samples))


@pytest.mark.parametrize("action", ["box", "dict"])
def test_step_equals_the_numpy_reference(action: str) -> None:
    core = ToyBeamCore(6, action=action, dtype=torch.complex128)
    obs, _ = core.reset(seed=1)
    ref = ToyBeamNumpy(core.config, core.episodes)  # type: ignore[arg-type]
    space = core.action_space
    space.seed(2)
    ended = 0
    for _ in range(core.config.max_episode_steps):
        samples = [space.sample() for _ in range(6)]
        if action == "dict":
            batch = {k: np.stack([s[k] for s in samples]) for k in samples[0]}
        else:
            batch = np.stack(samples)
        obs, reward, terminated, truncated, info = core.step(batch)
        r_obs, r_reward, r_term, r_trunc, r_info = ref.step(batch)
        np.testing.assert_allclose(obs.numpy(), r_obs, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(reward.numpy(), r_reward, rtol=1e-12, atol=1e-12)
        for key in ("sum_rate", "min_rate", "power"):
            np.testing.assert_allclose(info[key].numpy(), r_info[key], rtol=1e-12, atol=1e-12)
        assert np.array_equal(terminated.numpy(), r_term)
        assert np.array_equal(truncated.numpy(), r_trunc)
        ended += int(r_term.sum())
    assert ended > 0, "random actions cause outages (terminations are exercised)"


def test_numpy_reference_single_step_closed_form() -> None:
    # one user, one antenna: rate = log2(1 + |g|^2 P / sigma^2)
    core = ToyBeamCore(1, num_antennas=1, num_users=1, snr_db=3.0, max_episode_steps=2)
    h = np.array([[[0.5 + 0.5j]], [[1.0 - 2.0j]], [[0.3j]]])
    obs, reward, term, trunc, info = toy_beam_step_numpy(h, 0, np.array([0.2, -0.4]),
                                                         core.config)
    expected = math.log2(1 + 5.0 * core.config.power / core.config.noise_var)
    assert reward == pytest.approx(expected, rel=1e-12)
    assert info["power"] == pytest.approx(core.config.power)
    np.testing.assert_allclose(obs, [1.0, -2.0])
    assert (term, trunc) == (False, False)


def test_designers_act_through_the_problem() -> None:
    core = ToyBeamCore(4, dtype=torch.complex128)
    core.reset(seed=3)
    episodes = core.episodes.h.clone()  # type: ignore[union-attr]
    totals = torch.zeros(4, dtype=torch.float64)
    for t in range(core.config.max_episode_steps):
        problem = core.current_problem()
        assert torch.equal(problem.csi, episodes[:, t]) and torch.equal(problem.h,
                                                                        episodes[:, t + 1])
        _, reward, *_ = core.step(core.design_to_action(MRT().design(problem)))
        # closed form: MRT on the observed channel, scored on the next one
        w = mrt(episodes[:, t], core.config.power)
        expected = sum_rate(episodes[:, t + 1], w, core.config.noise_var)
        torch.testing.assert_close(reward, expected, rtol=1e-12, atol=1e-12)
        totals += reward
    rows = rollout(ToyBeamCore(4, dtype=torch.complex128), MRT(), 4, seed=3)
    np.testing.assert_allclose([r["reward"] for r in rows], totals.numpy(), rtol=1e-12)


def test_dict_action_power_split() -> None:
    core = ToyBeamCore(3, action="dict", power=2.0, power_levels=4)
    core.reset(seed=0)
    u = torch.rand(3, 16, generator=make_generator(0)) * 2 - 1
    levels = torch.tensor([[3, 1], [0, 2], [0, 0]])
    w = core.precoder({"w": u, "levels": levels})
    col = w.abs().square().sum(dim=1)  # [B, K]
    expected = torch.tensor([[1.5, 0.5], [0.0, 2.0], [0.0, 0.0]])
    torch.testing.assert_close(col, expected, rtol=1e-5, atol=1e-6)
    _, reward, terminated, _, info = core.step({"w": u, "levels": levels})
    assert reward[2] == 0 and bool(terminated[2]) and info["power"][2] == 0
    # a design with equal column powers maps to the top level for every user
    problem = core.current_problem()
    act = core.design_to_action(ZF().design(problem))
    assert isinstance(act, dict)
    assert act["levels"].max().item() == 3 and act["w"].abs().amax(dim=1).allclose(
        torch.ones(3))


def test_zero_action_transmits_nothing() -> None:
    core = ToyBeamCore(2)
    core.reset(seed=0)
    _, reward, terminated, _, info = core.step(torch.zeros(2, 16))
    assert reward.tolist() == [0.0, 0.0] and terminated.all() and info["power"].eq(0).all()


def test_design_shape_is_checked() -> None:
    core = ToyBeamCore(2)
    core.reset(seed=0)
    with pytest.raises(ShapeError, match=r"\[B, M, K\]"):
        core.design_to_action(Design(w=torch.zeros(2, 3, 2, dtype=torch.complex64)))


def test_numpy_speed_reference_runs() -> None:
    assert numpy_steps_per_second(4, 3) > 0
