"""One PPO + Q-head update: the wiring against a hand-written step, determinism, the Q head's
effect, the KL-penalty variant, the target critic, and a bandit it must learn."""

from __future__ import annotations

import copy

import pytest
import torch

from isaclearn.core import make_generator
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.rl.agents.losses import clip_surrogate_loss, q_loss, q_td_target, value_loss
from isaclearn.rl.agents.networks import HybridAgent, HybridAgentConfig
from isaclearn.rl.agents.ppo_update import PPOBatch, PPOUpdate, PPOUpdateConfig

CFG = HybridAgentConfig(obs_dim=6, action_dim=4, num_irs_elements=3, phase_bits=2)


def _batch(agent: HybridAgent, size: int = 80, seed: int = 1) -> PPOBatch:
    g = make_generator(seed)
    obs = torch.randn(size, 6, generator=g)
    step = agent.act(obs, generator=g)
    return PPOBatch(obs=obs, w_actions=step.w, phase_actions=step.phases,
                    old_log_probs=step.log_prob, returns=torch.randn(size, generator=g),
                    advantages=torch.randn(size, generator=g),
                    rewards=torch.randn(size, generator=g),
                    next_obs=torch.randn(size, 6, generator=g), old_values=step.value)


def test_one_step_each_equals_a_hand_written_update() -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    ref = copy.deepcopy(agent)
    batch = _batch(agent)
    cfg = PPOUpdateConfig(actor_steps=1, critic_steps=1, q_batch_size=16)
    stats = PPOUpdate(agent, cfg).update(batch, generator=make_generator(5))

    # by hand: one Adam step of each network on the paper's losses
    a_opt = torch.optim.Adam(ref.actor.parameters(), lr=1e-3)
    lp = ref.actor.distribution(batch.obs).log_prob(batch.w_actions).sum(-1)
    a_opt.zero_grad()
    clip_surrogate_loss(lp, batch.old_log_probs, batch.advantages, 0.2).backward()
    a_opt.step()
    c_opt = torch.optim.Adam(ref.critic.parameters(), lr=2e-3)
    idx = torch.randperm(80, generator=make_generator(5))[:16]
    values, q = ref.critic(batch.obs)
    target = q_td_target(batch.rewards[idx], ref.critic(batch.next_obs[idx])[1], 0.9)
    c_opt.zero_grad()
    (value_loss(values, batch.returns) + q_loss(q[idx], batch.phase_actions[idx], target)
     ).backward()
    c_opt.step()

    for (name, p), p_ref in zip(agent.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, p_ref, msg=name)
    assert set(stats) == {"policy_loss", "approx_kl", "clip_fraction", "entropy", "kl_beta",
                          "value_loss", "q_loss", "explained_variance"}
    assert all(isinstance(v, float) for v in stats.values())


def test_update_is_deterministic() -> None:
    out = []
    for _ in range(2):
        agent = HybridAgent(CFG, generator=make_generator(0))
        stats = PPOUpdate(agent, PPOUpdateConfig()).update(_batch(agent),
                                                           generator=make_generator(3))
        out.append((stats, {k: v.clone() for k, v in agent.state_dict().items()}))
    assert out[0][0] == out[1][0]
    assert all(torch.equal(out[0][1][k], out[1][1][k]) for k in out[0][1])


@pytest.mark.parametrize("q_coef", [0.0, 1.0])
def test_q_head_moves_only_with_the_q_loss(q_coef: float) -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    assert agent.critic.q_head is not None
    before = agent.critic.q_head.weight.detach().clone()
    PPOUpdate(agent, PPOUpdateConfig(q_coef=q_coef)).update(_batch(agent),
                                                           generator=make_generator(3))
    moved = not torch.equal(before, agent.critic.q_head.weight)
    assert moved == (q_coef > 0)


def test_large_steps_show_in_clip_fraction_and_kl() -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    batch = _batch(agent, 256)
    stats = PPOUpdate(agent, PPOUpdateConfig(lr_actor=3e-2)).update(batch,
                                                                   generator=make_generator(3))
    assert stats["clip_fraction"] > 0
    assert stats["approx_kl"] > 0


def test_kl_penalty_objective_adapts_beta() -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    upd = PPOUpdate(agent, PPOUpdateConfig(objective="kl_penalty", lr_actor=1e-5,
                                           kl_beta=0.5, kl_target=0.01))
    stats = upd.update(_batch(agent), generator=make_generator(3))
    assert stats["approx_kl"] < 0.01 / 1.5  # tiny steps: KL far below target
    assert upd.kl_beta == 0.25 and stats["kl_beta"] == 0.25
    upd2 = PPOUpdate(agent, PPOUpdateConfig(objective="kl_penalty", lr_actor=0.1, kl_beta=0.5,
                                            kl_target=1e-4))
    upd2.update(_batch(agent), generator=make_generator(3))
    assert upd2.kl_beta == 1.0


def test_target_critic_is_used_and_updated() -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    target = copy.deepcopy(agent.critic)
    with torch.no_grad():
        for p in target.parameters():
            p.zero_()
    upd = PPOUpdate(agent, PPOUpdateConfig(critic_steps=1, target_tau=0.5),
                    target_critic=target)
    before = copy.deepcopy(agent.critic)
    upd.update(_batch(agent), generator=make_generator(3))
    # target <- 0.5 * 0 + 0.5 * critic_after
    for p_t, p_c in zip(target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(p_t, 0.5 * p_c)
    assert any(not torch.equal(a, b) for a, b in zip(before.parameters(),
                                                      agent.critic.parameters()))


def test_bandit_is_learned() -> None:
    # reward -||w - w*||^2 for a fixed w* inside the box; advantage = reward - mean, returns =
    # reward: after 40 updates the policy's mode is much closer to w*
    agent = HybridAgent(CFG, generator=make_generator(0))
    upd = PPOUpdate(agent, PPOUpdateConfig(lr_actor=1e-2, lr_critic=1e-2))
    g = make_generator(4)
    w_star = torch.tensor([0.5, -0.5, 0.8, 0.0])
    obs_eval = torch.randn(256, 6, generator=make_generator(9))

    def err() -> float:
        with torch.no_grad():
            return float(((agent.actor.distribution(obs_eval).mode - w_star) ** 2).sum(-1).mean())

    start = err()
    for _ in range(40):
        obs = torch.randn(128, 6, generator=g)
        step = agent.act(obs, generator=g)
        reward = -((step.w - w_star) ** 2).sum(-1)
        upd.update(PPOBatch(obs=obs, w_actions=step.w, phase_actions=step.phases,
                            old_log_probs=step.log_prob, returns=reward,
                            advantages=reward - reward.mean(), rewards=reward, next_obs=obs),
                   generator=g)
    assert err() < 0.3 * start, (start, err())


def test_bad_batch_and_config() -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    good = _batch(agent, 10)
    with pytest.raises(ShapeError):
        PPOBatch(**{**good.__dict__, "returns": torch.zeros(9)})
    with pytest.raises(ShapeError):
        PPOBatch(**{**good.__dict__, "phase_actions": good.phase_actions.float()})
    with pytest.raises(ShapeError):
        PPOBatch(**{**good.__dict__, "next_obs": torch.zeros(10, 5)})
    with pytest.raises(ConfigError):
        PPOUpdateConfig(objective="trpo")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        PPOUpdateConfig(clip_eps=2.0)
    with pytest.raises(ConfigError):
        PPOUpdate(agent, PPOUpdateConfig(q_batch_size=4)).update(good, generator=None)


def test_minibatch_epochs_equal_a_hand_written_sgd_loop() -> None:
    """``minibatch_size``: each of the ``actor_steps`` / ``critic_steps`` epochs is one Adam step
    per chunk of a fresh permutation (SB3's loop), written out here by hand (no Q head)."""
    cfg_net = HybridAgentConfig(obs_dim=6, action_dim=4, num_irs_elements=0)
    agent = HybridAgent(cfg_net, generator=make_generator(0))
    ref = copy.deepcopy(agent)
    batch = _batch(agent, size=50)
    cfg = PPOUpdateConfig(actor_steps=2, critic_steps=2, minibatch_size=16)
    PPOUpdate(agent, cfg).update(batch, generator=make_generator(5))

    g = make_generator(5)
    a_opt = torch.optim.Adam(ref.actor.parameters(), lr=1e-3)
    for _ in range(2):
        perm = torch.randperm(50, generator=g)
        for start in range(0, 50, 16):           # chunks of 16, 16, 16, 2
            idx = perm[start:start + 16]
            lp = ref.actor.distribution(batch.obs[idx]).log_prob(batch.w_actions[idx]).sum(-1)
            a_opt.zero_grad()
            clip_surrogate_loss(lp, batch.old_log_probs[idx], batch.advantages[idx],
                                0.2).backward()
            a_opt.step()
    c_opt = torch.optim.Adam(ref.critic.parameters(), lr=2e-3)
    for _ in range(2):
        perm = torch.randperm(50, generator=g)
        for start in range(0, 50, 16):
            idx = perm[start:start + 16]
            c_opt.zero_grad()
            value_loss(ref.critic(batch.obs[idx])[0], batch.returns[idx]).backward()
            c_opt.step()
    for (name, p), p_ref in zip(agent.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, p_ref, msg=name)


def test_minibatch_covering_the_batch_is_the_full_batch_update() -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    ref = copy.deepcopy(agent)
    batch = _batch(agent)
    PPOUpdate(agent, PPOUpdateConfig(minibatch_size=80)).update(batch, generator=make_generator(5))
    PPOUpdate(ref, PPOUpdateConfig()).update(batch, generator=make_generator(5))
    for p, p_ref in zip(agent.parameters(), ref.parameters()):
        assert torch.equal(p, p_ref)
    with pytest.raises(ConfigError, match="minibatch_size"):
        PPOUpdateConfig(minibatch_size=0)
    with pytest.raises(ConfigError, match="objective"):
        PPOUpdateConfig(minibatch_size=8, objective="kl_penalty")
