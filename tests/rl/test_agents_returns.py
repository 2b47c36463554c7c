"""Returns, L-step advantages (44) and GAE against hand-written per-episode recursions (SB3 test
style: constant value functions, episode boundaries inside the rollout)."""

from __future__ import annotations

import pytest
import torch

from isaclearn.core import make_generator
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.rl.agents.returns import (
    discounted_returns,
    gae_advantages,
    lstep_advantages,
    mc_advantages,
)

F64 = torch.float64
T, B = 11, 4


def _rollout(seed: int = 0, constant_v: float | None = None) -> dict[str, torch.Tensor]:
    """A [T, B] rollout with episode boundaries at different places in each column: env 0 has
    none, env 1 ends after steps 3 and 8, env 2 after step 6 and at the last step, env 3 after
    every second step."""
    g = make_generator(seed)
    rewards = torch.randn(T, B, generator=g, dtype=F64)
    values = (torch.full((T, B), constant_v, dtype=F64) if constant_v is not None
              else torch.randn(T, B, generator=g, dtype=F64))
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[0] = True
    starts[[4, 9], 1] = True
    starts[7, 2] = True
    starts[2::2, 3] = True
    last_dones = torch.tensor([False, False, True, False])
    last_values = torch.randn(B, generator=g, dtype=F64)
    return {"rewards": rewards, "values": values, "episode_starts": starts,
            "last_values": last_values, "last_dones": last_dones}


def _done(ro: dict[str, torch.Tensor], t: int, b: int) -> bool:
    """Whether step t of env b ends its episode."""
    return bool(ro["last_dones"][b]) if t == T - 1 else bool(ro["episode_starts"][t + 1, b])


def _hand_lstep(ro: dict[str, torch.Tensor], gamma: float, L: int, segment: bool) -> torch.Tensor:
    """Forward walk per (t, b): sum up to L rewards, stop at an episode end (no bootstrap) or at
    the rollout end (bootstrap last_values)."""
    r, v, lv = ro["rewards"], ro["values"], ro["last_values"]
    out = torch.zeros(T, B, dtype=F64)
    for b in range(B):
        for t in range(T):
            end = (t // L + 1) * L if segment else t + L
            total, disc, j = 0.0, 1.0, t
            ended = False
            while j < min(end, T):
                total += disc * r[j, b].item()
                disc *= gamma
                if _done(ro, j, b):
                    ended = True
                    break
                j += 1
            if not ended:
                total += disc * (lv[b].item() if j >= T else v[j, b].item())
            out[t, b] = total
    return out


def _hand_gae(ro: dict[str, torch.Tensor], gamma: float, lam: float) -> torch.Tensor:
    r, v, lv = ro["rewards"], ro["values"], ro["last_values"]
    adv = torch.zeros(T, B, dtype=F64)
    for b in range(B):
        nxt = 0.0
        for t in reversed(range(T)):
            nonterm = 0.0 if _done(ro, t, b) else 1.0
            v_next = lv[b].item() if t == T - 1 else v[t + 1, b].item()
            delta = r[t, b].item() + gamma * nonterm * v_next - v[t, b].item()
            nxt = delta + gamma * lam * nonterm * nxt
            adv[t, b] = nxt
    return adv


def test_discounted_returns_match_explicit_sums() -> None:
    ro = _rollout(1)
    got = discounted_returns(ro["rewards"], ro["episode_starts"], gamma=0.9,
                             last_values=ro["last_values"], last_dones=ro["last_dones"])
    ref = _hand_lstep(ro, 0.9, 10 * T, segment=False)  # unbounded window = Monte Carlo
    torch.testing.assert_close(got, ref)
    # without bootstrap: env 0 (one episode) at t = 0 is sum_t 0.9^t r_t
    cut = discounted_returns(ro["rewards"], ro["episode_starts"], gamma=0.9)
    ref0 = sum(0.9**t * ro["rewards"][t, 0].item() for t in range(T))
    assert cut[0, 0].item() == pytest.approx(ref0, abs=1e-12)
    # env 3 ends every second step: R_t = r_t + 0.9 r_{t+1} at even t
    assert cut[4, 3].item() == pytest.approx(ro["rewards"][4, 3].item()
                                             + 0.9 * ro["rewards"][5, 3].item())


def test_mc_advantages_are_returns_minus_values_and_equal_gae_lambda_one() -> None:
    ro = _rollout(2)
    est = mc_advantages(ro["rewards"], ro["values"], ro["episode_starts"], gamma=0.95,
                        last_values=ro["last_values"], last_dones=ro["last_dones"])
    torch.testing.assert_close(est.advantages, est.returns - ro["values"])
    gae = gae_advantages(ro["rewards"], ro["values"], ro["episode_starts"], gamma=0.95,
                         gae_lambda=1.0, last_values=ro["last_values"],
                         last_dones=ro["last_dones"])
    torch.testing.assert_close(est.advantages, gae.advantages, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("constant_v", [None, 2.5])
@pytest.mark.parametrize("lam", [0.0, 0.8, 1.0])
def test_gae_via_sb3_matches_hand_recursion(constant_v: float | None, lam: float) -> None:
    ro = _rollout(3, constant_v)
    est = gae_advantages(ro["rewards"], ro["values"], ro["episode_starts"], gamma=0.9,
                         gae_lambda=lam, last_values=ro["last_values"],
                         last_dones=ro["last_dones"])
    ref = _hand_gae(ro, 0.9, lam)
    assert est.advantages.dtype == F64 and est.advantages.shape == (T, B)
    torch.testing.assert_close(est.advantages, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(est.returns, ref + ro["values"], rtol=1e-5, atol=1e-5)


def test_gae_constant_value_unit_reward_closed_form() -> None:
    # SB3's check: with r = 1, V = c, lambda = 1 and one long episode that ends at the last
    # step, A_t = sum_{k < T-t} gamma^k - c
    gamma, c = 0.9, 1.5
    rewards = torch.ones(T, 1, dtype=F64)
    starts = torch.zeros(T, 1)
    est = gae_advantages(rewards, torch.full((T, 1), c, dtype=F64), starts, gamma=gamma,
                         gae_lambda=1.0, last_values=torch.tensor([c], dtype=F64),
                         last_dones=torch.tensor([True]))
    ref = torch.tensor([(1 - gamma ** (T - t)) / (1 - gamma) - c for t in range(T)], dtype=F64)
    torch.testing.assert_close(est.advantages[:, 0], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("window", ["sliding", "segment"])
@pytest.mark.parametrize("L", [1, 3, 5])
def test_lstep_matches_hand_walk(window: str, L: int) -> None:
    ro = _rollout(4)
    est = lstep_advantages(ro["rewards"], ro["values"], ro["episode_starts"], gamma=0.9,
                           num_steps=L, last_values=ro["last_values"],
                           last_dones=ro["last_dones"], window=window)  # type: ignore[arg-type]
    ref = _hand_lstep(ro, 0.9, L, segment=window == "segment")
    torch.testing.assert_close(est.returns, ref)
    torch.testing.assert_close(est.advantages, ref - ro["values"])


def test_lstep_limits_equal_td0_and_monte_carlo() -> None:
    ro = _rollout(5)
    kw = {"gamma": 0.9, "last_values": ro["last_values"], "last_dones": ro["last_dones"]}
    one = lstep_advantages(ro["rewards"], ro["values"], ro["episode_starts"], num_steps=1, **kw)
    td0 = gae_advantages(ro["rewards"], ro["values"], ro["episode_starts"], gae_lambda=0.0, **kw)
    torch.testing.assert_close(one.advantages, td0.advantages, rtol=1e-5, atol=1e-5)
    full = lstep_advantages(ro["rewards"], ro["values"], ro["episode_starts"], num_steps=T, **kw)
    mc = mc_advantages(ro["rewards"], ro["values"], ro["episode_starts"], **kw)
    torch.testing.assert_close(full.advantages, mc.advantages)


def test_lstep_constant_value_closed_form() -> None:
    # r = 1, V = c, one episode running past the rollout: at t with t + L <= T,
    # A = (1 - gamma^L) / (1 - gamma) + gamma^L c - c (the corrected (44))
    gamma, c, L = 0.9, 3.0, 4
    est = lstep_advantages(torch.ones(T, 2, dtype=F64), torch.full((T, 2), c, dtype=F64),
                           torch.zeros(T, 2), gamma=gamma, num_steps=L,
                           last_values=torch.full((2,), c, dtype=F64))
    ref = (1 - gamma**L) / (1 - gamma) + gamma**L * c - c
    torch.testing.assert_close(est.advantages[: T - L + 1],
                               torch.full((T - L + 1, 2), ref, dtype=F64))
    # the printed (44) would give L * r + gamma^(L-1) c - c: a different number
    assert abs(ref - (L + gamma ** (L - 1) * c - c)) > 0.5


def test_float32_and_device(device: str) -> None:
    ro = {k: v.to(device) for k, v in _rollout(6).items()}
    r32 = ro["rewards"].float()
    est = lstep_advantages(r32, ro["values"].float(), ro["episode_starts"], gamma=0.9,
                           num_steps=3, last_values=ro["last_values"].float(),
                           last_dones=ro["last_dones"])
    assert est.returns.dtype == torch.float32 and est.returns.device.type == device
    gae = gae_advantages(r32, ro["values"].float(), ro["episode_starts"], gamma=0.9,
                         gae_lambda=0.9, last_values=ro["last_values"].float(),
                         last_dones=ro["last_dones"])
    assert gae.returns.device.type == device


def test_bad_inputs() -> None:
    ro = _rollout(7)
    with pytest.raises(ShapeError):
        discounted_returns(ro["rewards"][:, 0], ro["episode_starts"][:, 0], gamma=0.9)
    with pytest.raises(ShapeError):
        mc_advantages(ro["rewards"], ro["values"][:-1], ro["episode_starts"], gamma=0.9)
    with pytest.raises(ShapeError):
        discounted_returns(ro["rewards"], ro["episode_starts"], gamma=0.9,
                           last_values=torch.zeros(B + 1))
    with pytest.raises(ValueRangeError):
        discounted_returns(ro["rewards"], ro["episode_starts"], gamma=1.1)
    with pytest.raises(ConfigError):
        lstep_advantages(ro["rewards"], ro["values"], ro["episode_starts"], gamma=0.9,
                         num_steps=0)
    with pytest.raises(ConfigError):
        lstep_advantages(ro["rewards"], ro["values"], ro["episode_starts"], gamma=0.9,
                         num_steps=2, window="tumbling")  # type: ignore[arg-type]
