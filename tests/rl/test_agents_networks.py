"""The hybrid actor / Q-critic: architecture against a hand-written forward pass, seeded
initialization, and the ε-greedy phase choice against its selection probabilities."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from isaclearn.core import make_generator
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.rl.agents.distributions import TruncatedNormal
from isaclearn.rl.agents.networks import (
    HybridActor,
    HybridAgent,
    HybridAgentConfig,
    HybridCritic,
    select_phases,
)

# MISO defaults of the paper: M = 5, K = 4 -> 2MK = 40; N = 16 elements, b = 3 bits
CFG = HybridAgentConfig(obs_dim=40, action_dim=40, num_irs_elements=16, phase_bits=3)


def test_paper_layer_sizes() -> None:
    actor, critic = HybridActor(CFG), HybridCritic(CFG)
    n_actor = (40 * 30 + 30) + 2 * (30 * 40 + 40)
    n_critic = (40 * 20 + 20) + (20 + 1) + (20 * 16 * 8 + 16 * 8)
    assert sum(p.numel() for p in actor.parameters()) == n_actor
    assert sum(p.numel() for p in critic.parameters()) == n_critic


def test_actor_forward_equals_hand_computation(device: str) -> None:
    cfg = HybridAgentConfig(obs_dim=6, action_dim=4, num_irs_elements=3, phase_bits=2,
                            action_low=-2.0, action_high=4.0, min_std=0.01)
    actor = HybridActor(cfg, generator=make_generator(0)).to(device)
    obs = torch.randn(5, 6, generator=make_generator(1, device), device=device)
    h = torch.clamp(obs @ actor.body.weight.T + actor.body.bias, min=0)
    loc = 1.0 + 3.0 * torch.tanh(h @ actor.mean_head.weight.T + actor.mean_head.bias)
    scale = torch.log1p(torch.exp(h @ actor.std_head.weight.T + actor.std_head.bias)) + 0.01
    got_loc, got_scale = actor(obs)
    torch.testing.assert_close(got_loc, loc)
    torch.testing.assert_close(got_scale, scale)
    dist = actor.distribution(obs)
    assert isinstance(dist, TruncatedNormal)
    assert torch.all(dist.low == -2.0) and torch.all(dist.high == 4.0)
    assert dist.batch_shape == (5, 4)


def test_critic_heads_equal_hand_computation(device: str) -> None:
    critic = HybridCritic(CFG, generator=make_generator(2)).to(device)
    obs = torch.randn(3, 7, 40, generator=make_generator(3, device), device=device)
    h = F.relu(obs @ critic.body.weight.T + critic.body.bias)
    value, q = critic(obs)
    assert value.shape == (3, 7) and q.shape == (3, 7, 16, 8)
    torch.testing.assert_close(value, (h @ critic.value_head.weight.T).squeeze(-1)
                               + critic.value_head.bias)
    assert critic.q_head is not None
    flat = h @ critic.q_head.weight.T + critic.q_head.bias
    # element n, index i is output n * 2**b + i
    torch.testing.assert_close(q[..., 5, 3], flat[..., 5 * 8 + 3])


def test_no_q_head_without_irs() -> None:
    cfg = HybridAgentConfig(obs_dim=4, action_dim=4, num_irs_elements=0)
    critic = HybridCritic(cfg)
    assert critic.q_head is None
    value, q = critic(torch.zeros(2, 4))
    assert value.shape == (2,) and q.shape == (2, 0, 8)
    step = HybridAgent(cfg).act(torch.zeros(2, 4), generator=make_generator(0))
    assert step.phases.shape == (2, 0)


def test_seeded_initialization_is_reproducible_and_follows_torch_bounds() -> None:
    a1 = HybridAgent(CFG, generator=make_generator(5))
    a2 = HybridAgent(CFG, generator=make_generator(5))
    a3 = HybridAgent(CFG, generator=make_generator(6))
    s1, s2, s3 = a1.state_dict(), a2.state_dict(), a3.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert not torch.equal(s1["actor.body.weight"], s3["actor.body.weight"])
    # Kaiming-uniform(a = sqrt 5) and the bias both give U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w = s1["critic.q_head.weight"]
    bound = 1 / math.sqrt(20)
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
    assert abs(w.var().item() - bound**2 / 3) < 0.1 * bound**2 / 3


def test_act_samples_in_the_box_with_consistent_log_prob_and_is_seeded() -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    obs = torch.randn(64, 40, generator=make_generator(1))
    s1 = agent.act(obs, generator=make_generator(9))
    s2 = agent.act(obs, generator=make_generator(9))
    assert torch.equal(s1.w, s2.w) and torch.equal(s1.phases, s2.phases)
    assert s1.w.abs().max() <= 1.0
    assert s1.phases.dtype == torch.int64 and s1.phases.min() >= 0 and s1.phases.max() < 8
    torch.testing.assert_close(s1.log_prob, agent.actor.distribution(obs).log_prob(s1.w).sum(-1))
    torch.testing.assert_close(s1.value, agent.critic(obs)[0])


def test_deterministic_act_is_the_mode_and_the_argmax() -> None:
    agent = HybridAgent(CFG, generator=make_generator(0))
    obs = torch.randn(10, 40, generator=make_generator(1))
    step = agent.act(obs, generator=None, deterministic=True)
    loc, _ = agent.actor(obs)
    torch.testing.assert_close(step.w, loc.clamp(-1, 1))
    assert torch.equal(step.phases, agent.critic(obs)[1].argmax(-1))


@pytest.mark.parametrize(("reading", "p_greedy"), [("greedy", 0.95), ("random", 0.05)])
def test_epsilon_greedy_selection_probability(reading: str, p_greedy: float) -> None:
    # the argmax is index 2 everywhere; it is chosen with p_g + (1 - p_g) / A
    a, n = 8, 200_000
    q = torch.zeros(n, 1, a)
    q[..., 2] = 1.0
    idx = select_phases(q, 0.95, generator=make_generator(0), reading=reading)  # type: ignore[arg-type]
    frac = (idx == 2).double().mean().item()
    p = p_greedy + (1 - p_greedy) / a
    assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / n)
    # the non-greedy indices are uniform
    counts = torch.bincount(idx[idx != 2], minlength=a).double()
    other = counts[torch.arange(a) != 2]
    assert (other - other.mean()).abs().max() < 5 * other.mean().sqrt()


def test_select_phases_greedy_and_errors() -> None:
    q = torch.randn(4, 3, 8, generator=make_generator(0))
    assert torch.equal(select_phases(q, 0.5, generator=None, greedy=True), q.argmax(-1))
    assert torch.equal(select_phases(q, 1.0, generator=make_generator(1)), q.argmax(-1))
    with pytest.raises(ValueRangeError):
        select_phases(q, 1.5, generator=None)
    with pytest.raises(ShapeError):
        select_phases(torch.zeros(3), 0.5, generator=None)
    with pytest.raises(ConfigError):
        select_phases(q, 0.5, generator=None, reading="often")  # type: ignore[arg-type]


def test_bad_config_and_observation() -> None:
    with pytest.raises(ConfigError):
        HybridAgentConfig(obs_dim=0, action_dim=4, num_irs_elements=1)
    with pytest.raises(ConfigError):
        HybridAgentConfig(obs_dim=4, action_dim=4, num_irs_elements=-1)
    with pytest.raises(ConfigError):
        HybridAgentConfig(obs_dim=4, action_dim=4, num_irs_elements=1, epsilon=1.2)
    with pytest.raises(ConfigError):
        HybridAgentConfig(obs_dim=4, action_dim=4, num_irs_elements=1, action_low=1.0,
                          action_high=1.0)
    actor = HybridActor(CFG)
    with pytest.raises(ShapeError, match="obs"):
        actor(torch.zeros(3, 39))
    with pytest.raises(ShapeError, match="real"):
        actor(torch.zeros(3, 40, dtype=torch.complex64))


def test_sb3_style_networks_equal_hand_computation() -> None:
    """The SB3 options: two tanh layers, a linear unbounded mean with a state-independent
    ``log σ`` (``policy="clipped"``, a plain Gaussian), orthogonal init (gain √2 hidden, 0.01
    mean, 1 value; zero biases), and a critic with the same two-layer trunk."""
    from isaclearn.rl.agents.distributions import ClippedNormal

    cfg = HybridAgentConfig(obs_dim=6, action_dim=4, num_irs_elements=0, actor_hidden=8,
                            critic_hidden=5, hidden_layers=2, activation="tanh",
                            policy="clipped", std="state", log_std_init=-0.5,
                            init="orthogonal")
    agent = HybridAgent(cfg, generator=make_generator(0))
    actor, critic = agent.actor, agent.critic
    obs = torch.randn(7, 6, generator=make_generator(1))
    (l2,) = actor.deeper
    h = torch.tanh(torch.tanh(obs @ actor.body.weight.T + actor.body.bias) @ l2.weight.T
                   + l2.bias)
    loc, scale = actor(obs)
    torch.testing.assert_close(loc, h @ actor.mean_head.weight.T + actor.mean_head.bias)
    torch.testing.assert_close(scale, torch.full((7, 4), math.exp(-0.5)))
    dist = actor.distribution(obs)
    assert isinstance(dist, ClippedNormal) and actor.std_head is None
    (c2,) = critic.deeper
    hc = torch.tanh(torch.tanh(obs @ critic.body.weight.T + critic.body.bias) @ c2.weight.T
                    + c2.bias)
    torch.testing.assert_close(critic(obs)[0], (hc @ critic.value_head.weight.T).squeeze(-1)
                               + critic.value_head.bias)
    # orthogonal: rows (or columns) orthonormal times the gain, biases zero
    for layer, gain in ((actor.body, math.sqrt(2)), (l2, math.sqrt(2)),
                        (actor.mean_head, 0.01), (critic.value_head, 1.0)):
        w = layer.weight.detach()
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        torch.testing.assert_close(gram, gain**2 * torch.eye(gram.shape[0]), atol=1e-5,
                                   rtol=1e-5)
        assert torch.all(layer.bias == 0)
    # the deterministic action is the unclipped mean; clipping happens on the way to the env
    step = agent.act(obs * 1e3, generator=None, deterministic=True)
    torch.testing.assert_close(step.w, actor(obs * 1e3)[0])
    with pytest.raises(ConfigError, match="policy"):
        HybridAgentConfig(obs_dim=6, action_dim=4, num_irs_elements=0, policy="beta")  # type: ignore[arg-type]


def test_default_options_keep_the_paper_networks() -> None:
    """The new options' defaults build the same parameters from the same generator."""
    a = HybridAgent(CFG, generator=make_generator(0))
    assert [n for n, _ in a.named_parameters()] == [
        "actor.body.weight", "actor.body.bias", "actor.mean_head.weight", "actor.mean_head.bias",
        "actor.std_head.weight", "actor.std_head.bias", "critic.body.weight", "critic.body.bias",
        "critic.value_head.weight", "critic.value_head.bias", "critic.q_head.weight",
        "critic.q_head.bias"]
