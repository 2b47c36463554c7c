"""Tests of the primal-dual PPO / A2C trainers (isaclearn.rl.agents.trainers)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_trainers_env import QuadraticCore

from isaclearn.core.errors import CheckpointError, ConfigError
from isaclearn.rl.actions import BoxActionCore
from isaclearn.rl.agents.ppo_update import PPOBatch, PPOUpdateConfig
from isaclearn.rl.agents.returns import mc_advantages
from isaclearn.rl.agents.trainers import (
    ActionLayout,
    PrimalDualA2C,
    PrimalDualPPO,
    TrainerConfig,
    compare_with_sb3,
    derive_seed,
)
from isaclearn.rl.envs.toy import ToyBeamCore
from isaclearn.rl.primal_dual import PrimalDualConfig
from isaclearn.rl.rollout import rollout

FAST = PPOUpdateConfig(lr_actor=3e-3, lr_critic=6e-3)


def _params(trainer: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.agent.state_dict().items()}


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


# ---- configuration and layout ----------------------------------------------------------------


def test_layout_of_dict_and_box_cores() -> None:
    cfg = TrainerConfig(discrete_key="levels")
    lay = ActionLayout.from_core(ToyBeamCore(2, action="dict"), cfg)
    assert (lay.continuous_key, lay.discrete_key, lay.action_dim) == ("w", "levels", 16)
    assert (lay.num_elements, lay.phase_bits, lay.obs_dim) == (2, 2, 16)
    box = ActionLayout.from_core(ToyBeamCore(2), TrainerConfig(q_head=False))
    assert (box.continuous_key, box.discrete_key, box.num_elements) == (None, None, 0)
    w, phases = torch.zeros(2, 16), torch.ones(2, 2, dtype=torch.int64)
    assert set(lay.to_env(w, phases)) == {"w", "levels"}
    assert box.to_env(w, phases) is w


def test_layout_errors() -> None:
    with pytest.raises(ConfigError, match="neither"):  # "levels" is not the discrete_key
        ActionLayout.from_core(ToyBeamCore(2, action="dict"), TrainerConfig())
    with pytest.raises(ConfigError, match="q_head=False"):
        ActionLayout.from_core(ToyBeamCore(2, action="dict"),
                               TrainerConfig(discrete_key="levels", q_head=False))
    with pytest.raises(ConfigError, match=r"2\*\*b"):
        ActionLayout.from_core(ToyBeamCore(2, action="dict", power_levels=3),
                               TrainerConfig(discrete_key="levels"))
    with pytest.raises(ConfigError, match="continuous"):
        ActionLayout.from_core(ToyBeamCore(2, action="dict"),
                               TrainerConfig(continuous_key="x", discrete_key="levels"))
    with pytest.raises(ConfigError, match="episodes"):
        TrainerConfig(episodes=0)
    with pytest.raises(ConfigError, match="advantage"):
        TrainerConfig(advantage="td")  # type: ignore[arg-type]


def test_primal_dual_needs_multipliers() -> None:
    cfg = TrainerConfig(episodes=2, q_head=False, primal_dual=PrimalDualConfig(num_rates=1))
    with pytest.raises(ConfigError, match="multipliers"):
        PrimalDualPPO(ToyBeamCore(2), cfg).train()


def test_derive_seed_is_stable_and_distinct() -> None:
    assert derive_seed(0, 1, 0) == derive_seed(0, 1, 0)
    seeds = {derive_seed(s, k, j) for s in range(3) for k in range(3) for j in range(2)}
    assert len(seeds) == 18
    assert derive_seed(0, "init") != derive_seed(0, "update")


# ---- the loop: rows, advantages, determinism -------------------------------------------------


def test_rows_and_batch_wiring() -> None:
    """The rows hold the episode returns and info means; the batch handed to the update holds
    exactly the collected transitions with Monte-Carlo advantages (25) (hand recursion)."""
    core = QuadraticCore(3, max_episode_steps=4)
    trainer = PrimalDualPPO(core, TrainerConfig(episodes=3, seed=1))
    seen: list[PPOBatch] = []
    update = trainer.updater.update

    def spy(batch: PPOBatch, *, generator: torch.Generator | None) -> dict[str, float]:
        seen.append(batch)
        return update(batch, generator=generator)

    trainer.updater.update = spy  # type: ignore[method-assign]
    rows = trainer.train()
    assert [r["episode"] for r in rows] == [0, 1, 2]
    (batch,) = seen
    assert batch.size == 12
    rewards = batch.rewards.reshape(4, 3)
    returns = torch.zeros_like(rewards)
    running = torch.zeros(3)
    for t in range(3, -1, -1):
        running = rewards[t] + 0.9 * running
        returns[t] = running
    torch.testing.assert_close(batch.returns, returns.reshape(-1))
    torch.testing.assert_close(batch.advantages, batch.returns - batch.old_values)
    torch.testing.assert_close(torch.tensor([r["reward"] for r in rows], dtype=torch.float64),
                               rewards.sum(0).double(), rtol=1e-6, atol=1e-6)
    for r in rows:
        assert r["steps"] == 4
        assert math.isclose(r["sum_rate"], r["rate_0"] + r["rate_1"], rel_tol=1e-5)
    assert rows[0]["reward_ema"] == rows[0]["reward"]
    assert math.isclose(rows[1]["reward_ema"], 0.9 * rows[0]["reward"] + 0.1 * rows[1]["reward"])


def test_segments_bootstrap_from_value() -> None:
    """steps_per_update splits the round; a batch ending inside an episode bootstraps from
    v(H^{t+L}) (compared with mc_advantages given that value)."""
    core = QuadraticCore(2, max_episode_steps=5)
    trainer = PrimalDualPPO(core, TrainerConfig(episodes=2, steps_per_update=2, seed=0))
    seen = []
    learn = trainer._learn

    def spy(ro: Any) -> dict[str, float]:
        seen.append((ro, trainer._advantages(ro)))
        return learn(ro)

    trainer._learn = spy  # type: ignore[method-assign]
    rows = trainer.train()
    assert len(rows) == 2 and [ro.rewards.shape[0] for ro, _ in seen] == [2, 2, 1]
    ro, est = seen[0]
    assert not bool(ro.last_dones.any())
    want = mc_advantages(ro.rewards, ro.values, ro.episode_starts, gamma=0.9,
                         last_values=ro.last_values)
    torch.testing.assert_close(est.returns, want.returns)
    assert bool(seen[2][0].last_dones.all())
    assert trainer.updates_done == 3


def test_same_seed_bit_identical_history() -> None:
    def run(seed: int) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
        core = ToyBeamCore(4, action="dict", max_episode_steps=6)
        t = PrimalDualPPO(core, TrainerConfig(episodes=12, discrete_key="levels", seed=seed))
        return t.train(), _params(t)

    h1, p1 = run(3)
    h2, p2 = run(3)
    h3, _ = run(4)
    assert h1 == h2
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert h1 != h3


def test_act_and_rollout_scoring() -> None:
    core = QuadraticCore(4)
    trainer = PrimalDualPPO(core, TrainerConfig(episodes=4))
    obs = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    a1, a2 = trainer(obs), trainer(obs)
    assert torch.equal(a1["w"], a2["w"]) and torch.equal(a1["phases"], a2["phases"])
    loc, _ = trainer.agent.actor(obs)
    torch.testing.assert_close(a1["w"], loc.clamp(-1, 1))
    q = trainer.agent.critic(obs)[1]
    assert torch.equal(a1["phases"], q.argmax(-1))
    rows = rollout(QuadraticCore(4), trainer, 8, seed=5)
    assert len(rows) == 8 and rows[0]["method"] == "pd_ppo"
    again = rollout(QuadraticCore(4), trainer, 8, seed=5)
    assert rows == again


def test_multipliers_reach_a_wrapped_core() -> None:
    """On a Box view (fixed-phase style) the new λ, μ are set on the wrapped core."""
    pd = PrimalDualConfig(num_rates=2, ell=0.0, tau_lambda=0.1, tau_mu=0.1)
    view = BoxActionCore(QuadraticCore(2, discrete=False))
    trainer = PrimalDualPPO(view, TrainerConfig(episodes=4, q_head=False, primal_dual=pd))
    trainer.train()
    assert trainer.primal_dual is not None
    inner = trainer._workers().workers[0].core.core  # type: ignore[union-attr]
    assert torch.equal(inner.lam, trainer.primal_dual.state.lam)
    assert torch.equal(inner.mu, trainer.primal_dual.state.mu)
    assert float(inner.mu[0]) > 0  # ℓ = 0 < L_r: μ grew


# ---- learning against closed forms -----------------------------------------------------------


def test_ppo_learns_closed_form_and_mu_sign() -> None:
    """On QuadraticCore the optimum is phase 1 and w_k = c / (1 + μ/K): PPO gets within 3 % of
    the optimal episode reward (17.5 at μ = 0), far above a random policy (≈ 10.4), its greedy
    phase is 1, and a larger μ lowers the learned L_r (spec §7 sign test)."""
    cfg = TrainerConfig(episodes=16 * 48, seed=0, update=FAST)
    trained = {}
    for mu in (0.0, 2.0):
        trainer = PrimalDualPPO(QuadraticCore(16, mu_init=mu), cfg)
        trainer.train()
        trained[mu] = rollout(QuadraticCore(32, mu_init=0.0), trainer, 32, seed=7)
        assert bool((trainer(torch.zeros(4, 2))["phases"] == 1).all())
    gen = torch.Generator().manual_seed(0)

    def random_policy(obs: torch.Tensor) -> dict[str, torch.Tensor]:
        n = obs.shape[0]
        return {"w": 2 * torch.rand(n, 2, generator=gen) - 1,
                "phases": torch.randint(2, (n, 1), generator=gen)}

    rand = _mean(rollout(QuadraticCore(32), random_policy, 32, seed=7), "reward")
    best = 5 * (1.0 + 2.0 + 2 * 0.25)
    assert rand < 11.5
    assert _mean(trained[0.0], "reward") > 0.97 * best
    assert _mean(trained[2.0], "beampattern_mse") < _mean(trained[0.0], "beampattern_mse") - 0.05


def test_stationarity_of_primal_dual() -> None:
    """Spec §7: with f_0 = Σx, ∂L/∂x_k = 1 − λ_k, so λ_k → 1 and x_k → Ê rate_k. The iterates
    of (34)–(35) circle that point (a lossless oscillator for linear f_0); their averages over
    the last 120 updates (about 6 periods) hit it: |λ̄_k − 1| ≤ 0.05 and |x̄_k − Ê rate_k| ≤ 0.05,
    per user (the two users have different rates, which tests the per-user wiring)."""
    pd = PrimalDualConfig(num_rates=2, ell=1.0, tau_x=1.0, tau_lambda=0.1, tau_mu=0.01)
    cfg = TrainerConfig(episodes=4 * 160, seed=0, primal_dual=pd,
                        update=PPOUpdateConfig(actor_steps=3, critic_steps=3, lr_actor=3e-3,
                                               lr_critic=6e-3))
    trainer = PrimalDualPPO(QuadraticCore(4), cfg)
    assert trainer.primal_dual is not None
    seen: list[dict[str, torch.Tensor]] = []
    update = trainer.primal_dual.update

    def spy(rates: torch.Tensor, mse: torch.Tensor, **kw: Any) -> dict[str, torch.Tensor]:
        out = update(rates, mse, **kw)
        seen.append({"rates": rates.clone(), **out})
        return out

    trainer.primal_dual.update = spy  # type: ignore[method-assign]
    rows = trainer.train()
    last = seen[-120:]
    lam = torch.stack([s["lam"] for s in last]).mean(0)
    x = torch.stack([s["x"] for s in last]).mean(0)
    rates = torch.stack([s["rates"] for s in last]).mean(0)
    assert float((lam - 1).abs().max()) <= 0.05
    assert float((x - rates).abs().max()) <= 0.05
    assert float(rates[1] - rates[0]) > 0.8  # peaks 1 and 2
    assert float(trainer.primal_dual.state.mu.max()) == 0.0  # ℓ = 1 > L_r: never binds
    # the multipliers reached the environment: the rows carry the trainer's λ
    assert rows[-1]["lambda"] == pytest.approx(float(seen[-2]["lam"].mean()), abs=1e-6)


# ---- A2C --------------------------------------------------------------------------------------


def test_a2c_is_single_step_policy_gradient() -> None:
    """One A2C update equals one Adam step on -mean(A log π) for the actor (eq. 52)."""
    trainer = PrimalDualA2C(QuadraticCore(4), TrainerConfig(episodes=4, seed=2))
    assert trainer.config.update.actor_steps == trainer.config.update.critic_steps == 1
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(20, 2, generator=g)
    step = trainer.agent.act(obs, generator=g)
    adv = torch.randn(20, generator=g)
    batch = PPOBatch(obs=obs, w_actions=step.w, phase_actions=step.phases,
                     old_log_probs=step.log_prob, returns=torch.randn(20, generator=g),
                     advantages=adv, rewards=torch.zeros(20), next_obs=obs)
    ref = copy.deepcopy(trainer.agent.actor)
    opt = torch.optim.Adam(ref.parameters(), lr=trainer.config.update.lr_actor)
    loss = -(adv * ref.distribution(obs).log_prob(step.w).sum(-1)).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    trainer.updater.update(batch, generator=g)
    for (name, p), q in zip(trainer.agent.actor.named_parameters(), ref.parameters(),
                            strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)


def test_a2c_and_ppo_share_the_loop() -> None:
    core = QuadraticCore(2)
    a2c = PrimalDualA2C(core, TrainerConfig(episodes=4, seed=0))
    ppo = PrimalDualPPO(core, TrainerConfig(episodes=4, seed=0))
    p0 = _params(a2c)
    assert all(torch.equal(p0[k], v) for k, v in _params(ppo).items())  # same init
    h_a2c, h_ppo = a2c.train(), ppo.train()
    assert h_a2c[0] == h_ppo[0]  # the first round is collected before any update
    assert h_a2c[2] != h_ppo[2]
    assert a2c.name == "pd_a2c"


# ---- checkpoints and TensorBoard -------------------------------------------------------------


class _Killed(Exception):
    pass


def _resume_config() -> TrainerConfig:
    pd = PrimalDualConfig(num_rates=2, ell=0.2, tau_x=0.1, tau_lambda=0.05, tau_mu=0.05)
    return TrainerConfig(episodes=4 * 4, steps_per_update=2, seed=5, primal_dual=pd,
                         target_network=True,
                         update=PPOUpdateConfig(q_batch_size=4, actor_steps=3, critic_steps=3))


def test_resume_after_kill_equals_uninterrupted(tmp_path: Path) -> None:
    full = PrimalDualPPO(QuadraticCore(4), _resume_config())
    h_full = full.train(checkpoint=tmp_path / "full")

    def kill_in_round_three(row: dict[str, Any]) -> None:
        if row["episode"] == 9:
            raise _Killed

    killed = PrimalDualPPO(QuadraticCore(4), _resume_config())
    with pytest.raises(_Killed):
        killed.train(checkpoint=tmp_path / "run", callback=kill_in_round_three)
    resumed = PrimalDualPPO(QuadraticCore(4), _resume_config())
    h_res = resumed.train(checkpoint=tmp_path / "run")
    assert resumed.updates_done == full.updates_done == 12
    p_full, p_res = _params(full), _params(resumed)
    assert all(torch.equal(p_full[k], p_res[k]) for k in p_full)
    assert h_res == h_full
    assert full.primal_dual is not None and resumed.primal_dual is not None
    assert torch.equal(full.primal_dual.state.lam, resumed.primal_dual.state.lam)
    assert torch.equal(full.primal_dual.state.mu, resumed.primal_dual.state.mu)
    assert full.target_critic is not None and resumed.target_critic is not None
    for a, b in zip(full.target_critic.parameters(), resumed.target_critic.parameters(),
                    strict=True):
        assert torch.equal(a, b)
    # training longer from a finished checkpoint is allowed; another configuration is not
    longer = PrimalDualPPO(QuadraticCore(4), TrainerConfig(
        **{**_resume_config().__dict__, "episodes": 24}))
    assert len(longer.train(checkpoint=tmp_path / "full")) == 24
    other = PrimalDualPPO(QuadraticCore(4), TrainerConfig(
        **{**_resume_config().__dict__, "gamma": 0.5}))
    with pytest.raises(CheckpointError, match="gamma"):
        other.train(checkpoint=tmp_path / "full")


def test_tensorboard_diagnostics(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    pd = PrimalDualConfig(num_rates=2, ell=0.2)
    trainer = PrimalDualPPO(QuadraticCore(2), TrainerConfig(episodes=4, primal_dual=pd))
    trainer.train(log_dir=tmp_path / "tb")
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in ("train/approx_kl", "train/clip_fraction", "train/explained_variance",
                "pd/lambda_0", "pd/lambda_1", "pd/mu_0", "pd/L_r", "pd/x_0",
                "episode/reward_ema"):
        assert tag in tags, tag
    assert len(acc.Scalars("train/approx_kl")) == 2


# ---- the fixed-phase comparison with SB3 ----------------------------------------------------


@pytest.mark.slow
def test_compare_with_sb3_on_fixed_phase_toy() -> None:
    """Spec §7/§9 sanity reference on a fixed-phase Box toy (ToyBeamDict with the power levels
    fixed): our PPO with μ = 0 (the paper's settings) and SB3's PPO (its defaults, γ = 0.9),
    same episodes, scored on the same episodes. The numbers are printed and reported; the 5 %
    acceptance applies to the liu env. Checked here: the comparison is deterministic, SB3
    learns on this setup (so a gap is our learner's), and the ratio is ours / sb3."""
    def core() -> BoxActionCore:
        return BoxActionCore(ToyBeamCore(16, action="dict", max_episode_steps=10,
                                         outage_rate=0.0), fixed={"levels": [3, 3]})

    kw: dict[str, Any] = {"episodes": 16 * 150, "eval_episodes": 64, "seed": 0,
                          "config": TrainerConfig(q_head=False),
                          "sb3_kwargs": {"batch_size": 80}}
    out = compare_with_sb3(core(), **kw)
    print(out)
    assert out == compare_with_sb3(core(), **kw)
    assert out["sb3"] > 1.1 * out["random"]
    assert out["ratio"] == pytest.approx(out["ours"] / out["sb3"])


@pytest.mark.slow
def test_ppo_learns_on_toybeamdict() -> None:
    """PD-PPO (μ = 0, power levels by the Q head) on ToyBeamDict: the trained deterministic
    policy's sum rate is clearly above a uniformly random policy's on the same episodes."""
    def core(b: int) -> ToyBeamCore:
        return ToyBeamCore(b, action="dict", max_episode_steps=10, outage_rate=0.0)

    trainer = PrimalDualPPO(core(32), TrainerConfig(episodes=32 * 100, discrete_key="levels",
                                                    seed=0, update=FAST))
    history = trainer.train()
    gen = torch.Generator().manual_seed(5)

    def random_policy(obs: torch.Tensor) -> dict[str, torch.Tensor]:
        n = obs.shape[0]
        return {"w": 2 * torch.rand(n, 16, generator=gen) - 1,
                "levels": torch.randint(4, (n, 2), generator=gen)}

    rand = _mean(rollout(core(64), random_policy, 64, 99), "sum_rate")
    ours = _mean(rollout(core(64), trainer, 64, 99), "sum_rate")
    print({"random": rand, "trained": ours, "first_ema": history[0]["reward_ema"] / 10,
           "last_ema": history[-1]["reward_ema"] / 10})
    assert ours > 1.15 * rand


def test_sb3_like_trainer_clips_its_gaussian_actions_to_the_box() -> None:
    """``sb3_like_config``: the plain Gaussian's samples leave the box, the env receives them
    clipped (``layout.to_env``), and the deterministic action is the clipped mean."""
    from isaclearn.rl.agents.trainers import sb3_like_config

    core = BoxActionCore(ToyBeamCore(4, action="dict", max_episode_steps=5, outage_rate=0.0),
                         fixed={"levels": [3, 3]})
    trainer = PrimalDualPPO(core, sb3_like_config(TrainerConfig(q_head=False, episodes=8)))
    assert trainer.agent.actor.std_head is None and len(trainer.agent.actor.deeper) == 1
    trainer.train()
    obs = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    step = trainer.agent.act(obs, generator=torch.Generator().manual_seed(1))
    assert float(step.w.abs().max()) > 1.0            # std ≈ 1: draws outside the box
    sent = trainer.layout.to_env(step.w, step.phases)
    assert isinstance(sent, torch.Tensor)
    torch.testing.assert_close(sent, step.w.clamp(-1.0, 1.0))
    big = obs * 1e3
    torch.testing.assert_close(trainer(big), trainer.agent.actor(big)[0].clamp(-1.0, 1.0))
