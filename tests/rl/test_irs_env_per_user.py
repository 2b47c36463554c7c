"""The per-user loop of Alg. 1 (``observation="user"`` of the MISO IRS-ISAC env, spec §6.14),
checked against the joint env fed the ``U`` a hand loop assembles column by column."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaclearn.channels.irs import effective_channel, phases_from_indices
from isaclearn.core.errors import ConfigError
from isaclearn.rl.envs.liu_irs_ppo import IrsIsacMimoCore, IrsIsacMisoCore
from isaclearn.rl.rollout import rollout
from isaclearn.solvers import MRT
from isaclearn.solvers.irs import FixedPhases

B, M, K = 3, 5, 4


def _random(seed: int, shape: tuple[int, ...], levels: int, e: int
            ) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": 2 * torch.rand(*shape, generator=g, dtype=torch.float64) - 1,
            "phases": torch.randint(0, levels, (B, e), generator=g)}


def test_each_step_equals_the_joint_env_on_the_assembled_u() -> None:
    user = IrsIsacMisoCore(B, observation="user", dtype=torch.complex128)
    joint = IrsIsacMisoCore(B, dtype=torch.complex128)
    obs, _ = user.reset(seed=3)
    joint.reset(seed=3)
    user.set_multipliers(mu=0.3)
    joint.set_multipliers(mu=0.3)
    problem = user.episodes
    assert problem is not None
    sc = user.config.scenario
    assert (sc.num_antennas, sc.num_users) == (M, K)
    assert isinstance(obs, torch.Tensor) and tuple(obs.shape) == (B, 2 * M)
    assert user.action_space["w"].shape == (2 * M,)  # type: ignore[index]
    scale = math.sqrt(problem.p_max / problem.noise_var)
    u = np.full((B, M, K), 1 / math.sqrt(K), dtype=complex)  # equal initial beamforming
    v = problem.reflection(problem.phases0)
    for t in range(2 * K + 1):
        k = t % K
        h = effective_channel(problem, v)[:, k, :] * scale  # row k of H^t, [B, M]
        torch.testing.assert_close(obs, torch.cat([h.real, h.imag], 1))
        a = _random(t, (B, 2 * M), 2 ** sc.phase_bits, sc.num_irs_elements)
        for b in range(B):  # the loop the env replaces: column k of U <- the action
            u[b, :, k] = a["w"][b, :M].numpy() + 1j * a["w"][b, M:].numpy()
        flat = torch.as_tensor(u.reshape(B, -1))
        obs, reward, _, _, info = user.step(a)
        _, want, _, _, want_info = joint.step(
            {"w": torch.cat([flat.real, flat.imag], 1), "phases": a["phases"]})
        torch.testing.assert_close(reward, want, rtol=1e-12, atol=1e-12)
        for key, value in want_info.items():
            torch.testing.assert_close(info[key], value, rtol=1e-12, atol=1e-12, msg=key)
        v = problem.reflection(phases_from_indices(a["phases"], problem.phase_bits,
                                                   dtype=torch.float64))


def test_a_design_is_in_place_after_k_steps_and_rollout_scores_it() -> None:
    core = IrsIsacMisoCore(2, observation="user", phases="initial", dtype=torch.complex128)
    core.reset(seed=1)
    designer = FixedPhases(MRT())
    for _ in range(K):
        d = designer.design(core.current_problem())
        act = core.design_to_action(d)
        assert isinstance(act, dict)
        w = core.precoder(act["w"])
        core.step(act)
    torch.testing.assert_close(w, d.w)  # every column replaced: the design itself
    rows = rollout(lambda b: IrsIsacMisoCore(b, observation="user", phases="initial"),
                   designer, episodes=2, seed=0, max_steps=2 * K)
    assert len(rows) == 2 and all(r["sum_rate"] > 0 for r in rows)


def test_an_action_changes_later_rewards() -> None:
    """Unlike the joint env (``test_reward_depends_only_on_the_current_action``), a column
    stays until its user's next turn, so the same last action after different histories
    gives different rewards."""
    rewards = []
    for history in range(2):
        core = IrsIsacMisoCore(B, observation="user")
        core.reset(seed=11)
        for step in range(K - 1):
            core.step(_random(100 + 10 * history + step, (B, 2 * M), 8, 16))
        rewards.append(core.step(_random(1, (B, 2 * M), 8, 16))[1])
    assert float((rewards[0] - rewards[1]).abs().min()) > 1e-6


def test_bad_observation_configs() -> None:
    with pytest.raises(ConfigError, match="observation"):
        IrsIsacMisoCore(1, observation="antenna")
    mimo = IrsIsacMimoCore(1).config.scenario
    with pytest.raises(ConfigError, match="MISO only"):
        IrsIsacMimoCore(1, scenario=mimo, observation="user")
