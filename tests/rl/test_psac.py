"""PSAC (yang_som Fig. 5, Alg. 2, (43)–(48); spec §7.8) and its SB3 baselines, on a toy
contextual bandit with image observations."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces

from isaclearn.core.errors import CheckpointError, ConfigError
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.rl.agents.psac import (
    PSAC,
    ActionHead,
    GeneratorDictReplayBuffer,
    PSACConfig,
    PSACNetwork,
    SeededOUNoise,
    lambda_update,
    united_loss,
)
from isaclearn.rl.agents.psac_baselines import (
    ConvDictExtractor,
    DiscreteActionCore,
    ac_baseline,
    dqn_baseline,
    table_to_action,
)
from isaclearn.rl.core import Action, BatchedEnvCore, Info, Obs
from isaclearn.rl.rollout import rollout

# --------------------------------------------------------------------------------------------
# toy: a contextual bandit with image observations (gamma = 0, quadratic reward)
# --------------------------------------------------------------------------------------------


@dataclass
class BanditEpisodes(BatchedProblem):
    s: torch.Tensor = field(metadata=BATCHED)  # [B, T + 1] contexts in [-1, 1]


@dataclass
class BanditConfig:
    size: int = 4
    max_episode_steps: int = 4
    slope: float = 0.6
    offset: float = -0.3
    device: str = "cpu"
    dtype: torch.dtype = torch.complex64


class ImageBanditCore(BatchedEnvCore[BanditEpisodes]):
    """Context s ~ U(-1, 1) shown as an image ``img = s`` and a grid ``|s|``; the action
    ``a in [-1, 1]^2`` earns ``r = -||a - a*(s)||^2`` with ``a*(s) = (slope s, offset)``."""

    config_class = BanditConfig
    episodes_class = BanditEpisodes
    config: BanditConfig

    def make_spaces(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        n = self.config.size
        obs = spaces.Dict({"img": spaces.Box(-1.0, 1.0, (1, n, n), dtype=np.float32),
                           "grid": spaces.Box(0.0, 1.0, (2, n, n), dtype=np.float32)})
        return obs, spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)

    def sample_episodes(self, num: int, generator: torch.Generator) -> BanditEpisodes:
        t = self.config.max_episode_steps + 1
        return BanditEpisodes(s=torch.rand(num, t, generator=generator) * 2 - 1)

    def begin(self, index: torch.Tensor) -> None:
        """Nothing: the state is the step counter."""

    def context(self) -> torch.Tensor:
        ep = self._require_episodes()
        t = self.elapsed.clamp_max(self.config.max_episode_steps)
        return ep.s[torch.arange(self.batch_size), t]

    def observe(self) -> Obs:
        return bandit_obs(self.context(), self.config.size)

    def optimum(self, s: torch.Tensor) -> torch.Tensor:
        c = self.config
        return torch.stack([c.slope * s, torch.full_like(s, c.offset)], dim=1)

    def advance(self, action: Action) -> tuple[torch.Tensor, torch.Tensor, Info]:
        assert isinstance(action, torch.Tensor)
        err = (action.float() - self.optimum(self.context())).square().sum(dim=1)
        return -err, torch.zeros_like(err, dtype=torch.bool), {"err": err}


def bandit_obs(s: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
    img = s[:, None, None, None].expand(-1, 1, n, n).clone()
    grid = torch.zeros(s.shape[0], 2, n, n)
    grid[:, 0] = s.abs()[:, None, None]
    return {"img": img, "grid": grid}


HEADS = (ActionHead("a1", 1, "tanh"), ActionHead("a2", 1, "tanh", conditioned=True))
SMALL = dict(channels=(4,), internal_hidden=32, action_hidden=16, value_hidden=16, heads=HEADS)


def small_config(**kw: Any) -> PSACConfig:
    base: dict[str, Any] = dict(SMALL, batch_size=16, batches_per_episode=4, lambda_period=2)
    base.update(kw)
    return PSACConfig(**base)


def _batch(n: int = 12, seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    s, s2 = torch.rand(n, generator=g) * 2 - 1, torch.rand(n, generator=g) * 2 - 1
    return {"obs": bandit_obs(s, 4), "next_obs": bandit_obs(s2, 4),
            "actions": torch.rand(n, 2, generator=g) * 2 - 1,
            "rewards": torch.randn(n, generator=g),
            "dones": (torch.rand(n, generator=g) < 0.3).float()}


def _nets(**kw: Any) -> tuple[PSACNetwork, PSACNetwork]:
    core = ImageBanditCore(2)
    cfg = small_config(**kw)
    net = PSACNetwork(core.observation_space, core.action_space, cfg,
                      generator=torch.Generator().manual_seed(1))
    target = copy.deepcopy(net)
    with torch.no_grad():  # a target that differs from the online network
        g = torch.Generator().manual_seed(2)
        for p in target.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    # running statistics away from their initial values, as after some training
    target.train()
    for i in range(3):
        target.actor(_batch(seed=10 + i)["obs"])
    target.eval().requires_grad_(False)
    return net.train(), target


def _f(x: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 by hand."""
    return torch.where(x.abs() < 1, 0.5 * x * x, x.abs() - 0.5)


def _hand_terms(net: PSACNetwork, target: PSACNetwork, b: dict[str, Any], gamma: float
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        y = b["rewards"] + gamma * (1 - b["dones"]) * target.critic(
            b["next_obs"], target.actor(b["next_obs"]))
        mu_t = target.actor(b["obs"])
    delta_c = _f(y - net.critic(b["obs"], b["actions"]))
    mu = net.actor(b["obs"])
    delta_a = _f(mu - mu_t).mean(dim=1)
    q = target.critic(b["obs"], mu)
    return delta_c, delta_a, q


# --------------------------------------------------------------------------------------------
# the united loss (43)-(46)
# --------------------------------------------------------------------------------------------


def test_lambda_update_closed_form() -> None:
    assert lambda_update(0.5, 1.0, 0.5) == pytest.approx(0.5 * math.exp(-1.0) + 0.25, abs=1e-15)
    assert lambda_update(0.2, 0.0, 0.3) == pytest.approx(0.3 + 0.7 * 0.2, abs=1e-15)


@pytest.mark.parametrize("lam", [0.0, 1.0, 0.37])
def test_united_loss_matches_hand_computation(lam: float) -> None:
    net, target = _nets()
    b = _batch()
    out = united_loss(net, target, b["obs"], b["actions"], b["rewards"], b["next_obs"],
                      b["dones"], lam=lam, gamma=0.6)
    delta_c, delta_a, q = _hand_terms(net, target, b, 0.6)
    torch.testing.assert_close(out.critic, delta_c, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.actor, delta_a, rtol=1e-5, atol=1e-6)
    if lam == 0.0:  # delta_C + delta_A only
        expected = (delta_c + delta_a).mean()
    elif lam == 1.0:  # delta_C - Q only
        expected = (delta_c - q).mean()
    else:
        expected = (delta_c + (1 - lam) * delta_a - lam * q).mean()
    torch.testing.assert_close(out.total, expected, rtol=1e-5, atol=1e-6)
    # the target actor differs: delta_A is not trivial
    assert float(out.actor.detach().abs().sum()) > 0


def _grads(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    gs = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, gs, strict=True)]


def _norm(gs: list[torch.Tensor]) -> float:
    return float(sum(g.square().sum() for g in gs))


@pytest.mark.parametrize("actor_term", ["target", "literal"])
def test_q_term_gradients_reach_actor_parameters_only(actor_term: str) -> None:
    net, target = _nets()
    b = _batch()
    lam = 0.6
    out = united_loss(net, target, b["obs"], b["actions"], b["rewards"], b["next_obs"],
                      b["dones"], lam=lam, gamma=0.6, actor_term=actor_term)  # type: ignore[arg-type]
    without_q = (out.critic + (1 - lam) * out.actor).mean()
    groups = net.parameter_groups()
    critic_only = groups["AE"] + groups["VD"]
    full, partial = _grads(out.total, critic_only), _grads(without_q, critic_only)
    same = all(torch.equal(a, b_) for a, b_ in zip(full, partial, strict=True))
    assert same == (actor_term == "target")  # the literal (46) pushes AE/VD too
    if actor_term == "target":
        # shared parameters receive gradients from both heads
        for part in ("SE", "IN"):
            assert _norm(_grads(out.critic.mean(), groups[part])) > 0
            assert _norm(_grads(out.q.mean(), groups[part])) > 0
            assert _norm(_grads(out.actor.mean(), groups[part])) > 0
        # the action decoder gets nothing from the critic term, the critic-only parts nothing
        # from the actor terms
        assert _norm(_grads(out.critic.mean(), groups["AD"])) == 0
        assert _norm(_grads(out.q.mean(), groups["AD"])) > 0
        assert _norm(_grads(out.actor.mean() - out.q.mean(), critic_only)) == 0
    # no gradient ever reaches the target network
    assert all(not p.requires_grad for p in target.parameters())


def test_input_variants_use_only_their_streams() -> None:
    core = ImageBanditCore(3)
    cfg = small_config(inputs=("grid",))
    net = PSACNetwork(core.observation_space, core.action_space, cfg,
                      generator=torch.Generator().manual_seed(0)).eval()
    assert net.state_encoder.keys == ("grid",)
    obs = bandit_obs(torch.tensor([0.1, -0.5, 0.9]), 4)
    other = dict(obs, img=torch.randn(3, 1, 4, 4))
    torch.testing.assert_close(net.actor(obs), net.actor(other), rtol=0, atol=0)
    with pytest.raises(ConfigError, match="not observation keys"):
        PSACNetwork(core.observation_space, core.action_space, small_config(inputs=("s_h",)))
    with pytest.raises(ConfigError, match="action heads produce 3"):
        PSACNetwork(core.observation_space, core.action_space,
                    small_config(heads=(ActionHead("a", 3),)))
    with pytest.raises(ConfigError, match="Dict observation"):
        PSACNetwork(spaces.Box(0, 1, (1, 4, 4)), core.action_space, small_config())


def test_heads_activations_and_conditioning() -> None:
    core = ImageBanditCore(2)
    obs_space = core.observation_space
    heads = (ActionHead("rf", 3, "sigmoid"), ActionHead("rf2", 2, "tanh"),
             ActionHead("bb", 4, "tanh", conditioned=True))
    net = PSACNetwork(obs_space, spaces.Box(-1, 1, (9,)), small_config(heads=heads),
                      generator=torch.Generator().manual_seed(0)).eval()
    a = net.actor(bandit_obs(torch.linspace(-1, 1, 5), 4))
    assert a.shape == (5, 9)
    assert bool((a[:, :3] > 0).all())  # sigmoid head in (0, 1)
    assert net.heads[2][0].in_features == 32 + 5  # DPU-Net sees v and the 5 earlier outputs
    assert net.heads[0][0].in_features == 32


# --------------------------------------------------------------------------------------------
# SB3 pieces with explicit random sources
# --------------------------------------------------------------------------------------------


def test_seeded_ou_noise_is_sb3s_process_and_leaves_numpy_alone() -> None:
    np.random.seed(123)  # noqa: NPY002 (the global state SB3's noise would use)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    noise = SeededOUNoise((3, 2), theta=0.5, sigma=0.3, dt=1.0, seed=7)
    x1, x2 = noise(), noise()
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    rs = np.random.RandomState(7)
    n1, n2 = rs.normal(size=(3, 2)), rs.normal(size=(3, 2))
    e1 = 0.3 * n1
    e2 = e1 + 0.5 * (0 - e1) + 0.3 * n2
    np.testing.assert_allclose(x1, e1, rtol=1e-6)
    np.testing.assert_allclose(x2, e2, rtol=1e-6)
    tensors, meta = noise.get_state()
    x3 = noise()
    noise.set_state(tensors, meta)
    np.testing.assert_array_equal(noise(), x3)


def test_replay_sampler_returns_consistent_transitions() -> None:
    core = ImageBanditCore(3)
    buf = GeneratorDictReplayBuffer(30, core.observation_space, core.action_space,  # type: ignore[arg-type]
                                    n_envs=3, handle_timeout_termination=False)
    for t in range(4):
        ids = np.array([10 * t + e for e in range(3)], dtype=np.float32)
        obs = {"img": np.broadcast_to(ids[:, None, None, None], (3, 1, 4, 4)).copy(),
               "grid": np.zeros((3, 2, 4, 4), np.float32)}
        buf.add(obs, obs, np.stack([ids, -ids], 1), ids + 0.5, np.zeros(3), [])
    s = buf.sample_with(50, torch.Generator().manual_seed(0))
    ids = s.observations["img"][:, 0, 0, 0]
    torch.testing.assert_close(s.actions[:, 0], ids)
    torch.testing.assert_close(s.rewards[:, 0], ids + 0.5)
    assert set(ids.tolist()) <= {10.0 * t + e for t in range(4) for e in range(3)}
    assert len(set(ids.tolist())) > 6


# --------------------------------------------------------------------------------------------
# the loop: lambda schedule (47), target copy, determinism, checkpoints, a solved bandit
# --------------------------------------------------------------------------------------------


def test_lambda_schedule_and_copies_match_hand_loop() -> None:
    cfg = small_config(batches_per_episode=7, lambda_period=3, lambda_thres=0.8, seed=3)
    agent = PSAC(ImageBanditCore(8), cfg)
    lam = cfg.lambda_init
    flags = []
    for _ in range(3):
        agent.train(agent.episodes_done + 1)
        stats = agent.batch_stats
        assert len(stats) == 7
        acc = 0.0
        for k, st in enumerate(stats, start=1):  # Alg. 2 l. 12-21 by hand
            acc += st["critic_loss"]
            if k % 3 == 0:
                lam = 0.5 * math.exp(-(acc / 3) ** 2) + 0.5 * lam
                acc = 0.0
            assert st["lambda"] == pytest.approx(lam, abs=1e-12)
            assert st["copied"] == (lam > 0.8)
            flags.append(st["copied"])
    assert agent.lam == pytest.approx(lam, abs=1e-12)
    assert any(flags) and not all(flags)  # both branches were exercised


@pytest.mark.parametrize("thres", [0.0, 1.0])
def test_target_copy_iff_lambda_above_threshold(thres: float) -> None:
    agent = PSAC(ImageBanditCore(8), small_config(batches_per_episode=1, lambda_period=1,
                                                  lambda_thres=thres))
    agent.train(1)
    before = {k: v.clone() for k, v in agent.target_network.state_dict().items()}
    agent.update()
    (st,) = agent.batch_stats
    online = agent.network.state_dict()
    after = agent.target_network.state_dict()
    assert st["copied"] == (st["lambda"] > thres)
    if st["copied"]:
        assert all(torch.equal(after[k], online[k]) for k in online)
    else:
        assert all(torch.equal(after[k], before[k]) for k in before)
        assert not all(torch.equal(after[k], online[k]) for k in online)


def test_same_seed_identical_history_and_rows() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        return PSAC(ImageBanditCore(4), small_config(seed=seed)).train(3)

    a, b, c = run(5), run(5), run(6)
    assert a == b
    assert a != c
    assert set(a[0]) >= {"episode", "reward", "err", "lambda", "critic_loss", "actor_loss"}
    assert [r["episode"] for r in a] == [0, 1, 2]


def test_checkpoint_resume_equals_uninterrupted(tmp_path: Any) -> None:
    cfg = small_config(seed=1, checkpoint_buffer=True)
    full = PSAC(ImageBanditCore(4), cfg)
    ref = full.train(4)
    seen: list[dict[str, Any]] = []
    PSAC(ImageBanditCore(4), cfg).train(2, checkpoint=tmp_path / "ck")
    resumed = PSAC(ImageBanditCore(4), cfg)
    out = resumed.train(4, checkpoint=tmp_path / "ck", callback=seen.append)
    assert out == ref
    assert [r["episode"] for r in seen] == [2, 3]
    for k, v in full.network.state_dict().items():
        assert torch.equal(v, resumed.network.state_dict()[k])
    # without the buffer the run resumes but refills its memory (documented difference)
    nobuf = small_config(seed=1)
    PSAC(ImageBanditCore(4), nobuf).train(2, checkpoint=tmp_path / "nb")
    again = PSAC(ImageBanditCore(4), nobuf)
    assert len(again.train(4, checkpoint=tmp_path / "nb")) == 4
    with pytest.raises(CheckpointError, match="different configuration"):
        PSAC(ImageBanditCore(4), small_config(seed=2)).train(5, checkpoint=tmp_path / "nb")


def test_psac_solves_image_bandit() -> None:
    torch.manual_seed(0)
    core = ImageBanditCore(16)
    cfg = PSACConfig(**SMALL, gamma=0.0, learning_rate=0.01, batch_size=32,
                     batches_per_episode=16, seed=0)
    agent = PSAC(core, cfg)
    s = torch.linspace(-0.9, 0.9, 7)
    obs = bandit_obs(s, 4)
    before = float((agent.act(obs) - core.optimum(s)).square().mean())
    agent.train(18)
    a = agent.act(obs)
    mse = float((a - core.optimum(s)).square().mean())
    # zero action: E[(0.6 s)^2] + 0.09 = 0.21 on average
    assert before > 0.05 and mse < 0.01, (before, mse)
    # scored like any policy by rollout (deterministic, BN in eval mode)
    rows = rollout(ImageBanditCore(8), agent, episodes=8, seed=0)
    assert np.mean([r["err"] for r in rows]) < 0.02


# --------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------


def test_ac_baseline_trains_with_unshared_conv_extractors() -> None:
    core = ImageBanditCore(4)
    model = ac_baseline(core, encoder={"channels": (4,)}, learning_starts=32, batch_size=32,
                        seed=0)
    actor_ext = model.actor.features_extractor
    critic_ext = model.critic.features_extractor
    assert isinstance(actor_ext, ConvDictExtractor) and isinstance(critic_ext, ConvDictExtractor)
    assert actor_ext is not critic_ext
    before = [p.detach().clone() for p in actor_ext.parameters()]
    model.learn(300)
    after = list(actor_ext.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    rows = rollout(ImageBanditCore(4), model, episodes=4, seed=0)
    assert all(math.isfinite(r["reward"]) for r in rows)
    with pytest.raises(ConfigError, match="algorithm"):
        ac_baseline(core, algorithm="sac")  # type: ignore[arg-type]


def test_discrete_action_core_and_dqn_baseline() -> None:
    table = torch.tensor([[0.0, 0.0], [0.6, -0.3], [-0.6, -0.3], [1.0, 1.0]])
    disc = DiscreteActionCore(ImageBanditCore(4), 4, table_to_action(table))
    ref = ImageBanditCore(4)
    disc.reset(seed=3)
    ref.reset(seed=3)
    idx = torch.tensor([0, 1, 2, 3])
    _, r, _, _, _ = disc.step(idx)
    _, r_ref, _, _, _ = ref.step(table[idx])
    torch.testing.assert_close(r, r_ref)
    assert isinstance(disc.action_space, spaces.Discrete) and disc.action_space.n == 4
    model = dqn_baseline(disc, encoder={"channels": (4,)}, learning_starts=32, batch_size=32,
                         seed=0)
    assert isinstance(model.q_net.features_extractor, ConvDictExtractor)
    model.learn(200)
    with pytest.raises(ConfigError, match="Discrete action"):
        dqn_baseline(ImageBanditCore(2))
