"""Tests of the YangSom environment (spec yang_som §7 checks 4, 6, 7; the observation builder;
the reward recomputed from isaclearn.metrics; the per-sample NumPy oracle).

``check_env``, same-seed trajectories and batched == single envs are covered for the
registered ids by ``tests/rl/test_env_contract.py``.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import isaclearn.rl  # noqa: F401  (registers the environments)
from isaclearn.core.random import make_generator
from isaclearn.metrics.comm import rates
from isaclearn.metrics.ofdm import se
from isaclearn.metrics.sensing import fisher_angle
from isaclearn.rl.envs.yang_som import (
    YangSomConfig,
    YangSomCore,
    YangSomNumpy,
    _label,
    occupancy_grid,
    paper_config,
    sensing_optimum,
)
from isaclearn.solvers.hybrid import check_hybrid, hybrid_precoder
from isaclearn.solvers.wmmse import wmmse

C128 = torch.complex128
INFO = {"se", "se_per_hz", "fisher", "crlb", "crlb_db", "reward_rate", "reward_sense",
        "rate_star", "fisher_star"}


def _actions(core: YangSomCore, steps: int, seed: int) -> list[torch.Tensor]:
    """Random actions plus the corner cases (all -1, all 0, all +1, zero weights)."""
    g = make_generator(seed)
    dim = core.config.action_dim
    out = [2.0 * torch.rand(core.batch_size, dim, generator=g, dtype=torch.float64) - 1.0
           for _ in range(steps)]
    out[0] = -torch.ones(core.batch_size, dim, dtype=torch.float64)
    out[1] = torch.zeros(core.batch_size, dim, dtype=torch.float64)
    out[2] = torch.ones(core.batch_size, dim, dtype=torch.float64)
    return out


@pytest.mark.parametrize("scheme", ["uu", "au"])
def test_hybrid_constraints_after_every_step(scheme: str) -> None:
    """§7.4: |F_RF| = 1, phases on the grid, diagonal F_BB, Σ|p|² = KS; UU changes one column,
    AU one row."""
    core = YangSomCore(6, scheme=scheme, dtype=C128, normalizer="constant")
    core.reset(seed=1)
    c = core.config
    for action in _actions(core, c.max_episode_steps, seed=2):
        before = core.f_rf.clone()
        core.step(action)
        v = check_hybrid(core.f_rf, core.p, c.bits, float(c.num_users * c.num_subcarriers))
        assert float(v["modulus"].max()) <= 1e-6
        assert float(v["phase_grid"].max()) <= 1e-5
        assert float(v["off_diagonal"].max()) == 0.0
        assert float(v["power"].max()) <= 1e-5
        changed = (core.f_rf - before).abs() > 1e-9  # [B, M, K]
        if scheme == "uu":
            assert int(changed.any(dim=1).sum(-1).max()) <= 1  # at most one column
        else:
            assert int(changed.any(dim=2).sum(-1).max()) <= 1  # at most one row


def test_uu_moves_the_selected_column_by_one_step() -> None:
    core = YangSomCore(4, scheme="uu", dtype=C128, normalizer="constant")
    core.reset(seed=3)
    c = core.config
    action = torch.zeros(4, c.action_dim, dtype=torch.float64)
    action[:, : c.max_users] = -1.0
    action[:, 1] = 1.0  # weight only on user 1
    action[:, c.max_users:c.max_users + c.num_antennas] = 1.0  # +Δθ everywhere
    before = core.f_rf.clone()
    core.step(action)
    ratio = core.f_rf[:, :, 1] / before[:, :, 1]
    assert torch.allclose(ratio, torch.full_like(ratio, complex(math.cos(math.pi / 4),
                                                               math.sin(math.pi / 4))))
    assert torch.equal(core.f_rf[:, :, 0], before[:, :, 0])


@pytest.mark.parametrize("scheme", ["uu", "au"])
def test_sensing_term_never_exceeds_one(scheme: str) -> None:
    """§7.6: J ≤ J* for every step of fuzzed actions and for random hybrid designs."""
    core = YangSomCore(8, scheme=scheme, dtype=C128)
    core.reset(seed=4)
    c = core.config
    g = make_generator(5)
    for action in _actions(core, c.max_episode_steps, seed=6):
        _, _, _, _, info = core.step(action)
        assert float(info["reward_sense"].max()) <= 1.0 + 1e-6
        f_rf = torch.exp(1j * 2 * math.pi * torch.rand(8, c.num_antennas, c.num_users,
                                                        generator=g, dtype=torch.float64))
        p = torch.randn(8, c.num_subcarriers, c.num_users, generator=g, dtype=C128)
        p = p * math.sqrt(c.num_users * c.num_subcarriers) / p.abs().square().sum(
            (1, 2), keepdim=True).sqrt()
        assert float(core.score_precoder(f_rf, p)["reward_sense"].max()) <= 1.0 + 1e-6


def test_sensing_optimum_is_attained_by_the_steering_beam() -> None:
    """N_r ≥ N_t: R = P a_t a_tᴴ reaches J* (eq. 10 evaluated by fisher_angle)."""
    from isaclearn.arrays import ula
    theta = torch.tensor([-0.9, -0.1, 0.0, 0.4, 1.2], dtype=torch.float64)
    for m, n in ((8, 8), (6, 10)):
        a = ula(m, theta, reference="first", sign=-1, normalize=True)
        r = 3.0 * a[:, :, None] * a.conj()[:, None, :]
        j = fisher_angle(r, theta, num_rx=n, radar_snr=2.0, num_symbols=4)
        j_star = sensing_optimum(theta, num_antennas=m, num_rx=n, radar_snr=2.0, num_symbols=4,
                                 power=3.0)
        torch.testing.assert_close(j, j_star, rtol=1e-12, atol=0.0)


def test_sensing_optimum_matches_cvxpy() -> None:
    """The closed form equals 1 / min CRB of the CVXPY sensing-only program, for N_r = N_t,
    N_r > N_t and N_r < N_t (where the optimum is not rank one). The convex module's arrays are
    not normalized (|a_t|² = M, |a_r|² = N), which scales J by M N."""
    from isaclearn.solvers.convex import sensing_only_covariance
    theta = torch.tensor([[-0.7], [0.1], [0.5]], dtype=torch.float64)
    for m, n in ((6, 6), (4, 8), (8, 4)):
        _, crb = sensing_only_covariance(theta, m, 2.0, num_rx=n, radar_snr=5.0, num_symbols=3)
        j_star = sensing_optimum(theta[:, 0], num_antennas=m, num_rx=n, radar_snr=5.0,
                                 num_symbols=3, power=2.0)
        torch.testing.assert_close(1.0 / crb / (m * n), j_star, rtol=2e-5, atol=0.0)


def test_reward_recomputed_from_metrics() -> None:
    """The step's info and reward equal se / fisher_angle / wmmse evaluated on the materialized
    frame of the same seed (frame_ici of DoublySelectiveConfig.sample)."""
    b = 3
    core = YangSomCore(b, dtype=C128, scheme="au")
    c = core.config
    core.reset(seed=9)
    frame = c.channel.sample(b, generator=make_generator(9), dtype=C128, materialize=True)
    assert frame.h is not None
    nv, pt = c.noise_var, c.power
    k, s = c.num_users, c.num_subcarriers
    for n, action in enumerate(_actions(core, 4, seed=10)):
        _, reward, _, _, info = core.step(action)
        f = hybrid_precoder(core.f_rf, core.p) * math.sqrt(pt / (c.num_antennas * k * s))
        h = frame.h[:, n]
        rate = se(h, f, nv)
        torch.testing.assert_close(info["se"], rate, rtol=1e-9, atol=1e-12)
        eta = frame.alpha[:, n].abs().square() / nv
        j = fisher_angle(f @ f.conj().transpose(-2, -1), frame.target_theta_rad[:, n, None],
                         num_rx=c.num_rx, radar_snr=eta[:, None], num_symbols=c.num_symbols)
        torch.testing.assert_close(info["fisher"], j.sum(-1), rtol=1e-9, atol=0.0)
        torch.testing.assert_close(info["crlb"], 1.0 / j.sum(-1), rtol=1e-9, atol=0.0)
        hd = torch.diagonal(h, dim1=1, dim2=2).movedim(-1, 1)  # [B, S, K, M]
        w = wmmse(hd, pt / s, nv, init=c.wmmse_init, max_iter=c.wmmse_iter, tol=0.0)
        r_star = rates(hd, w, nv).sum((-2, -1))
        j_star = sensing_optimum(frame.target_theta_rad[:, n], num_antennas=c.num_antennas,
                                 num_rx=c.num_rx, radar_snr=eta, num_symbols=c.num_symbols,
                                 power=pt)
        want = c.weight * rate / r_star + (1 - c.weight) * j.sum(-1) / j_star
        torch.testing.assert_close(reward, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("scheme,symbols", [("uu", "first"), ("au", "all")])
def test_numpy_oracle_equals_core(scheme: str, symbols: str) -> None:
    """The per-sample NumPy step (explicit loops) equals the batched core on shared episodes."""
    cfg = YangSomConfig(scheme=scheme, rate_symbols=symbols, wmmse_init="mrt", dtype=C128,
                        max_episode_steps=4, num_subcarriers=4, num_antennas=4, num_rx=6,
                        num_grid=8, gps_period=2, num_symbols=2)
    core = YangSomCore(2, cfg)
    obs, _ = core.reset(seed=12)
    assert core.episodes is not None
    ref = YangSomNumpy(core.config, core.episodes)
    np.testing.assert_allclose(ref.s_h, obs["S_H"].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(ref.grids, obs["S_P"].numpy())
    np.testing.assert_allclose(ref.f_rf, core.f_rf.numpy(), atol=1e-12)
    for action in _actions(core, cfg.max_episode_steps, seed=13):
        obs, reward, _, truncated, info = core.step(action)
        r_obs, r_reward, _, r_trunc, r_info = ref.step(action.numpy())
        np.testing.assert_allclose(r_reward, reward.numpy(), rtol=1e-7, atol=1e-10)
        for key in INFO:
            np.testing.assert_allclose(r_info[key], info[key].numpy(), rtol=1e-7, atol=1e-10,
                                       err_msg=key)
        np.testing.assert_array_equal(r_obs["S_P"], obs["S_P"].numpy())
        np.testing.assert_array_equal(r_trunc, truncated.numpy())
        np.testing.assert_allclose(ref.p, core.p.numpy(), atol=1e-10)


def test_occupancy_grid_hand_placed() -> None:
    deg = math.pi / 180
    # 6 cells of 30° over [-90, 90), 5 cells of 30 m over [0, 150)
    users_th = torch.tensor([[-80 * deg, 10 * deg, 40 * deg]])
    users_d = torch.tensor([[5.0, 100.0, 149.0]])
    grid = occupancy_grid(users_th, users_d, torch.tensor([15 * deg]), torch.tensor([95.0]),
                          grid_x=6, grid_y=5, max_range_m=150.0)
    want = torch.zeros(6, 5)
    want[0, 0] = 1.0  # -80°, 5 m
    want[4, 4] = 1.0  # 40°, 149 m
    want[3, 3] = 2.0  # user at (10°, 100 m) shares the target's cell (15°, 95 m): target wins
    assert torch.equal(grid[0], want)
    # outside the grid: clamped to the border cells
    far = occupancy_grid(torch.tensor([[95 * deg]]), torch.tensor([[400.0]]),
                         torch.tensor([-100 * deg]), torch.tensor([-1.0]), grid_x=6, grid_y=5,
                         max_range_m=150.0)
    assert float(far[0, 5, 4]) == 1.0 and float(far[0, 0, 0]) == 2.0


def test_labelling_by_nearest_neighbour() -> None:
    # points: target first, then two users in swapped order; refs = the users' GPS
    points = torch.tensor([[[0.0, 50.0], [0.5, 120.0], [-0.5, 30.0]]], dtype=torch.float64)
    refs = torch.tensor([[[-0.48, 31.0], [0.52, 118.0]]], dtype=torch.float64)
    users, target = _label(points, refs, 150.0)
    assert torch.equal(users[0], points[0, [2, 1]])
    assert torch.equal(target[0], points[0, 0])


def test_noise_free_grid_shows_the_true_positions() -> None:
    core = YangSomCore(4, dtype=C128, user_angle_std_deg=0.0, range_std_m=0.0,
                       target_angle_cap_deg=0.0, gps_std_m=0.0, normalizer="constant")
    obs, _ = core.reset(seed=14)
    e, c = core.episodes, core.config
    assert e is not None

    def truth(n: int) -> torch.Tensor:
        return occupancy_grid(e.user_theta_rad[:, n], e.user_distance_m[:, n],
                              e.target_theta_rad[:, n], e.target_distance_m[:, n],
                              grid_x=c.grid_x, grid_y=c.grid_y, max_range_m=c.max_range_m,
                              dtype=torch.float64)

    for j in range(3):
        assert torch.equal(obs["S_P"][:, j], truth(0))  # preamble scan repeated
    for n in range(3):
        obs, *_ = core.step(torch.zeros(4, c.action_dim))
        assert torch.equal(obs["S_P"][:, 2], truth(n))
        assert torch.equal(obs["S_P"][:, 1], truth(n - 1) if n >= 1 else truth(0))
    assert int((obs["S_P"] == 2).sum()) == 3 * 4  # one target cell per grid


def test_s_h_is_the_angular_image_of_the_preamble_estimate() -> None:
    from isaclearn.solvers.hybrid import angular_dictionary
    core = YangSomCore(2, dtype=C128, max_users=5)
    obs, _ = core.reset(seed=15)
    c, e = core.config, core.episodes
    assert e is not None
    d = angular_dictionary(c.num_antennas, c.num_grid)
    want = torch.einsum("bdkm,mg->bdkg", e.h_est, d).abs()
    torch.testing.assert_close(obs["S_H"][:, :, : c.num_users], want)
    assert float(obs["S_H"][:, :, c.num_users:].abs().max()) == 0.0
    # the image is constant over the frame
    obs2, *_ = core.step(torch.zeros(2, c.action_dim))
    assert torch.equal(obs2["S_H"], obs["S_H"])


def test_env_episode_same_seed_truncation_and_info() -> None:
    env = gym.make("isaclearn/YangSom-v0")
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=3)
        env.action_space.seed(3)
        rewards = []
        for t in range(10):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            rewards.append(reward)
            assert not terminated
            assert truncated == (t == 9)
            assert set(info) == INFO
        runs.append((rewards, obs["S_P"].copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert env.spec is not None and env.spec.max_episode_steps == 10
    assert gym.make("isaclearn/YangSomAU-v0").action_space.shape == (16,)
    assert gym.make("isaclearn/YangSom-v0").unwrapped.core.config.scheme == "uu"  # type: ignore
    assert env.action_space.shape == (20,)


def test_score_and_step_precoder_match_step() -> None:
    core = YangSomCore(3, dtype=C128, scheme="au")
    twin = YangSomCore(3, dtype=C128, scheme="au")
    core.reset(seed=16)
    twin.reset(seed=16)
    action = _actions(core, 3, seed=17)[1]
    f_rf, p, _ = core.apply_action(action)
    scored = core.score_precoder(f_rf, p)
    obs, reward, _, _, info = core.step(action)
    obs_t, reward_t, _, trunc_t, info_t = twin.step_precoder(f_rf, p)
    torch.testing.assert_close(scored["reward"], reward)
    for key in INFO:
        torch.testing.assert_close(scored[key], info[key])
        torch.testing.assert_close(info_t[key], info[key])
    torch.testing.assert_close(reward_t, reward)
    assert torch.equal(obs_t["S_P"], obs["S_P"]) and not bool(trunc_t.any())
    problem = core.current_problem()
    assert problem.h.shape == (3, 8, 8, 2, 8) and int(problem.subframe[0]) == 1


def test_paper_config_sizes() -> None:
    cfg = paper_config()
    assert (cfg.num_antennas, cfg.num_subcarriers, cfg.num_users, cfg.max_users,
            cfg.max_episode_steps, cfg.num_grid, cfg.num_symbols) == (32, 32, 8, 16, 100, 64, 32)
    assert cfg.action_dim == 16 + 32 + 32
    assert paper_config(scheme="au").action_dim == 64


@pytest.mark.parametrize("symbols", ["first", "all"])
def test_diagonal_channel_is_the_diagonal_of_the_ici_matrix(symbols: str) -> None:
    """The frame-level H_m[m] (symbol-averaged taps + FFT) equals the diagonal blocks of the
    ICI matrices (5) built by frame_ici, for every subframe and symbol."""
    from isaclearn.channels.doubly_selective import frame_ici
    b = 2
    core = YangSomCore(b, dtype=C128, rate_symbols=symbols, num_symbols=3)
    core.reset(seed=18)
    c = core.config
    assert core.episodes is not None
    frame = c.channel.sample(b, generator=make_generator(18), dtype=C128, materialize=False)
    diag = core.diagonal_channel(core.episodes)  # [B, T, L', S, K, M]
    for j, sym in enumerate(range(c.num_symbols) if symbols == "all" else [0]):
        h = frame_ici(frame, c.channel, symbol=sym)  # [B, T, S, S, K, M]
        want = torch.diagonal(h, dim1=2, dim2=3).movedim(-1, 2)
        torch.testing.assert_close(diag[:, :, j], want, rtol=1e-10, atol=1e-12)


def test_bad_input_is_a_clear_error() -> None:
    from isaclearn.core.errors import ConfigError, ShapeError
    with pytest.raises(ConfigError):
        YangSomCore(1, scheme="xx")
    with pytest.raises(ConfigError):
        YangSomCore(1, num_users=5, max_users=4)
    constant = YangSomCore(1, normalizer="constant")
    constant.reset(seed=0)
    core = YangSomCore(1)
    with pytest.raises(ConfigError):
        core.reset(options={"scenario": constant.episodes})
    core.reset(seed=0)
    with pytest.raises(ShapeError):
        core.score_precoder(core.f_rf[:, :, :1], core.p)
