"""The learned methods of yang_som (spec §4): heads aligned with the environment's action
decoding, input variants, resumable training, checkpoint checks and the trained policies as
rollout agents, on a tiny environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from isaclearn.core.errors import CheckpointError, ConfigError
from isaclearn.learn.checkpoint import load_checkpoint
from isaclearn.rl.agents.psac import ActionHead, PSACConfig, PSACNetwork
from isaclearn.rl.envs.yang_som import YangSomCore
from isaclearn.rl.rollout import rollout
from isaclearn.systems.yang_som.learned import (
    CURVE_COLUMNS,
    METHODS,
    CodewordCore,
    LearnJob,
    env_config,
    learned_designers,
    psac_heads,
    train_method,
    train_sweep,
)

TINY: dict[str, Any] = dict(num_antennas=4, num_rx=4, num_subcarriers=4, num_users=2,
                            max_users=4, num_taps=2, num_paths=2, cp_len=2, num_symbols=2,
                            max_episode_steps=3, num_grid=8, grid_x=8, grid_y=8, wmmse_iter=5)
PSAC_KW: dict[str, Any] = dict(batch_size=8, batches_per_episode=2, buffer_size=64)
SB3_KW: dict[str, Any] = dict(learning_starts=6, batch_size=8, buffer_size=64)


def agent_kwargs(method: str) -> dict[str, Any]:
    return PSAC_KW if METHODS[method].agent == "psac" else SB3_KW


# --------------------------------------------------------------------------------------------
# heads and variants
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["uu", "au"])
def test_sigmoid_head_value_reaches_the_env(scheme: str) -> None:
    cfg = env_config("drl_uu" if scheme == "uu" else "drl_au", TINY)
    core = YangSomCore(3, cfg)
    obs, _ = core.reset(seed=0)
    net = PSACNetwork(core.observation_space, core.action_space,
                      PSACConfig(heads=psac_heads(cfg)),
                      generator=torch.Generator().manual_seed(1)).eval()
    with torch.no_grad():
        action = net.actor(obs)
        v = net.internal_features(net.encode_state(obs), None)
        s = torch.sigmoid(net.heads[0](v))  # the APU-Net's a_RF in (0, 1), by hand
    parts = core.decode_action(action)
    if scheme == "uu":
        got = parts["a_rf1"]                      # the env keeps the K real users' weights
        want = s[:, : cfg.num_users]
    else:
        got, want = parts["a_rf"], s
    torch.testing.assert_close(got.float(), want, rtol=0, atol=1e-6)
    # without box_affine the env would receive (1 + s) / 2 instead
    plain = tuple(ActionHead(h.name, h.size, h.activation, h.conditioned) for h in
                  psac_heads(cfg))
    net2 = PSACNetwork(core.observation_space, core.action_space, PSACConfig(heads=plain),
                       generator=torch.Generator().manual_seed(1)).eval()
    with torch.no_grad():
        a2 = net2.actor(obs)
    key = "a_rf1" if scheme == "uu" else "a_rf"
    torch.testing.assert_close(core.decode_action(a2)[key].float(),
                               (1 + want) / 2, rtol=0, atol=1e-6)
    # the conditioned DPU-Net still sees s, not 2s - 1
    bb = net.heads[-1](torch.cat([v, *([s] if scheme == "au" else
                                       [s, torch.tanh(net.heads[1](v))])], dim=1))
    torch.testing.assert_close(action[:, -cfg.num_subcarriers:], torch.tanh(bb))


def test_box_affine_needs_sigmoid() -> None:
    with pytest.raises(ConfigError, match="box_affine"):
        ActionHead("x", 2, "tanh", box_affine=True)


def test_methods_variants_and_schemes() -> None:
    assert env_config("drl_au", {**TINY, "scheme": "uu"}).scheme == "au"
    assert env_config("drl_uu", {**TINY, "scheme": "au"}).scheme == "uu"
    assert env_config("ac", {**TINY, "scheme": "au"}).scheme == "au"
    assert {m: METHODS[m].inputs for m in ("drl_pc", "drl_po", "drl_co")} == {
        "drl_pc": ("S_H", "S_P"), "drl_po": ("S_P",), "drl_co": ("S_H",)}
    with pytest.raises(ConfigError, match="unknown learned method"):
        env_config("drl_xx", TINY)
    with pytest.raises(ConfigError, match="bad env_kwargs"):
        env_config("drl_uu", {"antennas": 3})


def test_input_variant_checkpoint_has_only_its_stream(tmp_path: Path) -> None:
    train_method("drl_co", TINY, seed=0, episodes=1, out_dir=tmp_path, batch_size=2,
                 agent_kwargs=PSAC_KW)
    names = load_checkpoint(tmp_path / "drl_co_seed0").tensors
    assert any(k.startswith("net.state_encoder.streams.S_H") for k in names)
    assert not any(k.startswith("net.state_encoder.streams.S_P") for k in names)


def test_codeword_core_replaces_one_column() -> None:
    cfg = env_config("dqn", TINY)
    core = CodewordCore(YangSomCore(2, cfg))
    core.reset(seed=3)
    before = core.yang.f_rf.clone()
    g = cfg.num_grid
    index = torch.tensor([1 * g + 5, 3 * g + 2])  # user 1 / a padded user (no change)
    core.step(index)
    after = core.yang.f_rf
    torch.testing.assert_close(after[0, :, 0], before[0, :, 0])
    torch.testing.assert_close(after[1], before[1])
    col = after[0, :, 1]
    assert torch.allclose(col.abs(), torch.ones(cfg.num_antennas), atol=1e-6)
    steps = torch.angle(col).double() * 2 ** cfg.bits / (2 * np.pi)
    assert torch.allclose(steps, steps.round(), atol=1e-4)
    # the nearest quantized phase of dictionary column 5: a_t(theta_5) with sin = -1 + 2*5/G
    u = -1.0 + 2.0 * 5 / g
    m = torch.arange(cfg.num_antennas, dtype=torch.float64)
    ref = torch.exp(-1j * np.pi * m * u)
    diff = torch.angle(col.to(torch.complex128) * ref.conj() / (col[0] * ref[0].conj()))
    assert float(diff.abs().max()) <= 2 * np.pi / 2 ** cfg.bits + 1e-6


def test_frames_do_not_depend_on_scheme_or_view() -> None:
    cores = [YangSomCore(2, env_config("drl_uu", TINY)),
             YangSomCore(2, env_config("drl_au", TINY)),
             CodewordCore(YangSomCore(2, env_config("dqn", TINY)))]
    obs = [c.reset(generator=torch.Generator().manual_seed(9))[0] for c in cores]
    for o in obs[1:]:
        for key in ("S_H", "S_P"):
            torch.testing.assert_close(o[key], obs[0][key])


# --------------------------------------------------------------------------------------------
# training, resume, loading
# --------------------------------------------------------------------------------------------


class Kill(Exception):
    pass


def final_weights(out: Path, method: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(out / f"{method}_seed0").tensors


@pytest.mark.parametrize("method", ["drl_au", "ac", "dqn"])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path: Path, method: str) -> None:
    kw = dict(seed=0, episodes=3, batch_size=2, agent_kwargs=agent_kwargs(method))
    full = train_method(method, TINY, out_dir=tmp_path / "a", **kw)  # type: ignore[arg-type]

    def kill(row: dict[str, Any]) -> None:
        if row["episode"] == 1:
            raise Kill

    with pytest.raises(Kill):
        train_method(method, TINY, out_dir=tmp_path / "b", callback=kill,
                     **kw)  # type: ignore[arg-type]
    assert (tmp_path / "b" / f"{method}_seed0.train.json").is_file()
    seen: list[dict[str, Any]] = []
    resumed = train_method(method, TINY, out_dir=tmp_path / "b", callback=seen.append,
                           **kw)  # type: ignore[arg-type]
    assert [r["episode"] for r in seen] == [1, 2]
    assert resumed == full
    a, b = final_weights(tmp_path / "a", method), final_weights(tmp_path / "b", method)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    lines = (tmp_path / "b" / f"{method}_seed0.curve.csv").read_text().splitlines()
    assert lines[0] == ",".join(CURVE_COLUMNS) and len(lines) == 4
    assert not (tmp_path / "b" / f"{method}_seed0.train.json").exists()
    # a finished run is read back, not trained again
    again = train_method(method, TINY, out_dir=tmp_path / "b", callback=seen.append,
                         **kw)  # type: ignore[arg-type]
    assert again == full and len(seen) == 2


def test_curve_rows_are_frame_sums_of_the_env(tmp_path: Path) -> None:
    rows = train_method("ac", TINY, seed=0, episodes=1, out_dir=tmp_path, batch_size=2,
                        agent_kwargs={**SB3_KW, "learning_starts": 100})
    # before learning_starts SB3 acts with uniform random actions from its seeded space
    assert set(rows[0]) == set(CURVE_COLUMNS)
    assert rows[0]["method"] == "ac" and rows[0]["episode"] == 0
    assert np.isfinite([rows[0][k] for k in CURVE_COLUMNS[3:]]).all()
    # reward = psi * R/R* + (1 - psi) J/J*, summed over T steps (means commute)
    t, psi = TINY["max_episode_steps"], 0.5
    assert rows[0]["reward"] == pytest.approx(
        t * (psi * rows[0]["reward_rate"] + (1 - psi) * rows[0]["reward_sense"]), rel=1e-5)


def test_checkpoint_of_another_configuration_is_refused(tmp_path: Path) -> None:
    train_method("drl_uu", TINY, seed=0, episodes=1, out_dir=tmp_path, batch_size=2,
                 agent_kwargs=PSAC_KW)
    with pytest.raises(CheckpointError, match="different configuration") as err:
        learned_designers(tmp_path, {**TINY, "weight": 0.7}, ["drl_uu"], 0)
    assert "\n" not in str(err.value) and "env.weight" in str(err.value)
    with pytest.raises(CheckpointError, match="does not exist"):
        learned_designers(tmp_path, TINY, ["drl_au"], 0)
    with pytest.raises(CheckpointError, match="different configuration"):
        train_method("drl_uu", {**TINY, "snr_db": 5.0}, seed=0, episodes=1,
                     out_dir=tmp_path, batch_size=2, agent_kwargs=PSAC_KW)


@pytest.mark.parametrize("method", ["drl_uu", "ac"])
def test_unfinished_state_of_another_configuration_is_refused(tmp_path: Path,
                                                              method: str) -> None:
    train_method(method, TINY, seed=0, episodes=1, out_dir=tmp_path, batch_size=2,
                 agent_kwargs=agent_kwargs(method), keep_state=True)
    (tmp_path / f"{method}_seed0.json").unlink()  # as if killed before the final weights
    with pytest.raises(CheckpointError, match="different configuration"):
        train_method(method, {**TINY, "weight": 0.2}, seed=0, episodes=2, out_dir=tmp_path,
                     batch_size=2, agent_kwargs=agent_kwargs(method))


def test_learned_policies_act_through_rollout(tmp_path: Path) -> None:
    methods = ["drl_uu", "drl_au", "ac", "dqn"]
    for m in methods:
        train_method(m, TINY, seed=0, episodes=1, out_dir=tmp_path, batch_size=2,
                     agent_kwargs=agent_kwargs(m))
    policies = learned_designers(tmp_path, TINY, methods, 0)
    assert list(policies) == methods
    for m, pol in policies.items():
        rows = pol.evaluate(3, 11, batch_size=2)
        assert [r["method"] for r in rows] == [m] * 3
        assert rows == rollout(pol.make_core, pol, 3, 11, batch_size=2)
        assert all(r["steps"] == TINY["max_episode_steps"] for r in rows)
    # PSAC's greedy action is the network's actor in eval mode
    pol = policies["drl_au"]
    core = pol.make_core(2)
    obs, _ = core.reset(seed=0)
    net = PSACNetwork(core.observation_space, core.action_space,
                      PSACConfig(**{**PSAC_KW, "heads": psac_heads(pol.config)}))
    ck = load_checkpoint(tmp_path / "drl_au_seed0")
    net.load_state_dict({k[4:]: v for k, v in ck.tensors.items() if k.startswith("net.")})
    torch.testing.assert_close(pol(obs), net.eval().actor(obs))


@pytest.mark.slow
def test_ray_and_in_process_sweeps_agree(tmp_path: Path) -> None:
    jobs = [LearnJob(m, dict(TINY), s, 2, str(tmp_path / d), batch_size=2,
                     agent_kwargs=agent_kwargs(m))
            for d in ("inproc",) for m in ("drl_uu", "ac") for s in (0, 1)]
    ray_jobs = [LearnJob(j.method, j.env_kwargs, j.seed, j.episodes,
                         str(tmp_path / "ray"), batch_size=2, agent_kwargs=j.agent_kwargs)
                for j in jobs]
    a = train_sweep(jobs, workers=0)
    b = train_sweep(ray_jobs, workers=2)
    assert a == b
    for j in jobs:
        wa = load_checkpoint(tmp_path / "inproc" / f"{j.method}_seed{j.seed}").tensors
        wb = load_checkpoint(tmp_path / "ray" / f"{j.method}_seed{j.seed}").tensors
        assert all(torch.equal(wa[k], wb[k]) for k in wa)


# --------------------------------------------------------------------------------------------
# the UU scheme can keep the precoder (docs/yang_som.md, "Learned methods: findings")
# --------------------------------------------------------------------------------------------


def _constant_uu(cfg: Any, rf2: torch.Tensor, bb: float = 0.0, *, alternate: bool = False
                 ) -> Any:
    """A scripted UU policy: ``a_RF,1 = 1``, ``a_RF,2 = ±rf2`` (sign flipped every step when
    ``alternate``), ``a_BB = bb``."""
    u, s = cfg.max_users, cfg.num_subcarriers
    step = [0]

    def policy(obs: Any, deterministic: bool = True) -> torch.Tensor:
        b = obs["S_H"].shape[0]
        sign = -1.0 if alternate and step[0] % 2 else 1.0
        step[0] += 1
        return torch.cat([torch.ones(b, u), (sign * rf2).expand(b, -1),
                          torch.full((b, s), bb)], dim=1)

    return policy


def test_uu_same_sign_phase_steps_keep_the_hold_reward() -> None:
    """(31) with every ``a_RF,2[i]`` of one sign rotates column ``u*`` by a common phase
    ``e^{±jΔθ}``, and with ``a_BB = 0`` (32) leaves ``p`` alone: SE (8) and the Fisher
    information (10) do not see a column's common phase, so such a UU policy scores exactly
    what the "hold" reference (the frame's starting precoder) scores; a mixed sign pattern
    changes the beam."""
    from isaclearn.systems.yang_som.convergence import HoldDesigner
    from isaclearn.systems.yang_som.designers import rollout_designer

    cfg = env_config("drl_uu", {**TINY, "max_episode_steps": 4})
    frames, seed = 4, 7
    hold = rollout_designer(YangSomCore(frames, cfg), HoldDesigner(), frames, seed)
    m = cfg.num_antennas
    plus, mixed = torch.ones(m), torch.tensor([1.0, -1.0] * (m // 2))

    def rewards(policy: Any) -> np.ndarray:
        rows = rollout(lambda b: YangSomCore(b, cfg), policy, frames, seed, batch_size=frames)
        return np.array([r["reward"] for r in rows])

    ref = np.array([r["reward"] for r in hold])
    for policy in (_constant_uu(cfg, plus), _constant_uu(cfg, -plus),
                   _constant_uu(cfg, plus, alternate=True)):
        np.testing.assert_allclose(rewards(policy), ref, rtol=1e-5)
    assert np.abs(rewards(_constant_uu(cfg, mixed)) - ref).max() > 1e-3
    assert np.abs(rewards(_constant_uu(cfg, plus, 1.0)) - ref).max() > 1e-3
