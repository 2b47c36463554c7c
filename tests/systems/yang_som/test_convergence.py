"""The convergence experiment of yang_som (Fig. 6a/6b): the convergence-speed measure, the
claims on hand-made rows, the reference designers, and a tiny run end to end with a resume."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats

from isaclearn.core.errors import ConfigError
from isaclearn.rl.envs.yang_som import YangSomCore
from isaclearn.systems.base import MemoryContext
from isaclearn.systems.yang_som.convergence import (
    CONVERGENCE_PROFILES,
    ConvergenceConfig,
    HoldDesigner,
    RandomDesigner,
    ci95,
    convergence_claims,
    convergence_experiment,
    episodes_to_reach,
    run_convergence,
)
from isaclearn.systems.yang_som.designers import rollout_designer
from isaclearn.systems.yang_som.learned import env_config

TINY: dict[str, Any] = dict(num_antennas=4, num_rx=4, num_subcarriers=4, num_users=2,
                            max_users=4, num_taps=2, num_paths=2, cp_len=2, num_symbols=2,
                            subframes=3, num_grid=8, grid_x=8, grid_y=8, wmmse_iter=5,
                            minibatch=8, batches_per_episode=2, buffer_size=64,
                            learning_starts=6)


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------


def test_ci95_matches_scipy() -> None:
    x = [0.3, 1.7, 2.2, -0.4, 0.9]
    m, h = ci95(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert m == pytest.approx(np.mean(x))
    assert (m - h, m + h) == pytest.approx((lo, hi))
    assert math.isnan(ci95([1.0])[1])


def _reach_by_hand(curve: list[float], w: int, reach: float) -> int | None:
    s = [float(np.mean(curve[max(0, i - w + 1): i + 1])) for i in range(len(curve))]
    start, final = s[w - 1], s[-1]
    if final <= start:
        return None
    for i in range(w - 1, len(s)):
        if s[i] >= start + reach * (final - start):
            return i + 1
    raise AssertionError


@pytest.mark.parametrize("w", [1, 3, 7])
def test_episodes_to_reach_matches_explicit_loop(w: int) -> None:
    rng = np.random.default_rng(w)
    for _ in range(20):
        curve = list(np.cumsum(rng.normal(0.1, 1.0, 40)))
        assert episodes_to_reach(curve, window=w, reach=0.9) == _reach_by_hand(curve, w, 0.9)


def test_episodes_to_reach_step_curve() -> None:
    # a step from 1 to 3 at episode 30: with no smoothing the level 1 + 0.9 * 2 is reached at
    # the first episode of the step
    assert episodes_to_reach([1.0] * 30 + [3.0] * 30, window=1) == 31
    assert episodes_to_reach([3.0] * 30 + [1.0] * 30, window=5) is None   # falls: not learned
    assert episodes_to_reach([1.0, 2.0], window=3) is None                # shorter than window


# --------------------------------------------------------------------------------------------
# claims on hand-made rows
# --------------------------------------------------------------------------------------------


def _curve(method: str, seed: int, values: list[float]) -> list[dict[str, Any]]:
    return [{"kind": "curve", "method": method, "seed": seed, "episode": e, "reward": v}
            for e, v in enumerate(values)]


def _frames(method: str, seed: int, values: list[float]) -> list[dict[str, Any]]:
    return [{"kind": "frame", "method": method, "seed": seed, "frame": f, "reward": v}
            for f, v in enumerate(values)]


def _step(at: int, n: int = 40, low: float = 1.0, high: float = 2.0) -> list[float]:
    return [low] * at + [high] * (n - at)


def _rows(pc_frames: list[list[float]], opt_frames: list[float], co_final: list[float],
          po_frames: list[list[float]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in range(3):
        rows += _curve("drl_uu", s, _step(4 + s))
        rows += _curve("drl_pc", s, _step(4 + s))
        rows += _curve("drl_au", s, _step(2))
        rows += _curve("ac", s, _step(20 + s))
        rows += _curve("drl_co", s, _step(4, high=co_final[s]))
        rows += _frames("drl_pc", s, pc_frames[s])
        rows += _frames("drl_co", s, [v - 0.5 for v in pc_frames[s]])
        rows += _frames("drl_po", s, po_frames[s])
    rows += _frames("opt", -1, opt_frames)
    return rows


PC = [[2.0, 2.2, 1.9, 2.4], [2.1, 2.0, 2.0, 2.5], [1.9, 2.3, 2.1, 2.3]]


def test_claims_hold_on_hand_made_rows() -> None:
    opt = [1.5, 1.6, 1.4, 1.9]
    rows = _rows(PC, opt, co_final=[1.2, 2.5, 1.6], po_frames=[[v - 0.1 for v in f] for f in PC])
    c = convergence_claims(rows, window=1, references=["opt"])
    pc_mean = np.mean(PC, axis=0)                         # seed-averaged per frame
    diffs = pc_mean - np.array(opt)
    lo, hi = stats.t.interval(0.95, 3, loc=diffs.mean(), scale=stats.sem(diffs))
    assert c["pc_beats_opt"]["diff"] == pytest.approx(diffs.mean())
    assert c["pc_beats_opt"]["ci95"] == pytest.approx([lo, hi])
    assert c["pc_beats_opt"]["holds"] is True and lo > 0
    # speed: the seeds of drl_uu step up at 4, 5, 6, so their mean curve is 1, 4/3, 5/3, 2 at
    # episodes 3..6 and first reaches 1 + 0.9 (2 - 1) at episode index 6 (7 episodes); ac's
    # seeds step at 20, 21, 22 (23 episodes); drl_au at 2 (3 episodes)
    sp = c["psac_faster_than_ac"]
    assert sp["drl_uu"]["per_seed"] == {0: 5, 1: 6, 2: 7}
    assert sp["drl_uu"]["mean"] == 7 and sp["ac"]["mean"] == 23
    assert (sp["drl_uu"]["start"], sp["drl_uu"]["final"]) == (1.0, 2.0)
    assert sp["ratio"] == pytest.approx(7 / 23) and sp["holds"] is True
    assert c["au_faster_than_uu"]["holds"] is True
    assert c["au_faster_than_uu"]["ratio"] == pytest.approx(3 / 7)
    gap = 0.1 / pc_mean.mean()
    assert c["po_narrow_gap"]["relative_gap"] == pytest.approx(gap)
    assert c["po_narrow_gap"]["holds"] is True
    co = c["co_lower_unstable"]
    assert co["diff"] == pytest.approx(-0.5)
    assert co["variance_over_seeds"]["drl_co"] == pytest.approx(np.var([1.2, 2.5, 1.6], ddof=1))
    assert co["variance_over_seeds"]["drl_pc"] == pytest.approx(0.0)
    assert co["holds"] is True


def test_claims_fail_on_hand_made_rows() -> None:
    opt = [2.5, 2.6, 2.4, 2.9]                             # opt above drl_pc on every frame
    rows = _rows(PC, opt, co_final=[2.0, 2.0, 2.0],      # CO as stable as PC
                 po_frames=[[0.5 * v for v in f] for f in PC])   # PO half of PC
    c = convergence_claims(rows, window=1, references=["opt"], much_faster=0.2)
    assert c["pc_beats_opt"]["holds"] is False
    assert c["psac_faster_than_ac"]["holds"] is False      # 7/23 > 0.2
    assert c["po_narrow_gap"]["relative_gap"] == pytest.approx(0.5)
    assert c["po_narrow_gap"]["holds"] is False
    assert c["co_lower_unstable"]["lower"] is True and c["co_lower_unstable"]["unstable"] is False
    assert c["co_lower_unstable"]["holds"] is False
    # a curve that never rises: the speed claim is not decided
    flat = [r for r in rows if r.get("method") != "ac"] + _curve("ac", 0, [1.0] * 40)
    d = convergence_claims(flat, window=1)
    assert d["psac_faster_than_ac"]["holds"] is None
    assert d["psac_faster_than_ac"]["verdict"] == "not decided"


# --------------------------------------------------------------------------------------------
# reference designers
# --------------------------------------------------------------------------------------------


def test_hold_is_the_starting_beam_and_random_is_a_valid_design() -> None:
    cfg = env_config("drl_uu", {k: v for k, v in TINY.items() if k in (
        "num_antennas", "num_rx", "num_subcarriers", "num_users", "max_users", "num_taps",
        "num_paths", "cp_len", "num_symbols", "num_grid", "grid_x", "grid_y", "wmmse_iter")}
        | {"max_episode_steps": 3})
    got = rollout_designer(YangSomCore(3, cfg), HoldDesigner(), 3, 7)
    # by hand: transmit the starting precoder of the frame at every subframe
    core = YangSomCore(3, cfg)
    core.reset(generator=torch.Generator().manual_seed(7))
    f0, p0 = core.f_rf.clone(), core.p.clone()
    total = torch.zeros(3, dtype=torch.float64)
    for _ in range(3):
        _, r, *_ = core.step_precoder(f0, p0)
        total += r.double()
    assert [g["reward"] for g in got] == pytest.approx(total.tolist(), rel=1e-6)

    core.reset(seed=1)
    problem = core.current_problem()
    d1 = RandomDesigner(seed=3).design(problem)
    d2 = RandomDesigner(seed=3).design(problem)
    f1 = d1.extras["f_rf"]
    assert torch.equal(f1, d2.extras["f_rf"])
    torch.testing.assert_close(f1.abs(), torch.ones_like(f1.abs()))
    steps = torch.angle(f1) / (2 * math.pi / 2 ** cfg.bits)
    torch.testing.assert_close(steps, steps.round(), atol=1e-5, rtol=0)
    assert torch.equal(d1.extras["p"], torch.ones_like(problem.p))
    assert not torch.equal(f1, RandomDesigner(seed=4).design(problem).extras["f_rf"])


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="unknown methods"):
        ConvergenceConfig(part_a=("drl_xx",))
    with pytest.raises(ConfigError, match="learned methods"):
        ConvergenceConfig(references=("drl_uu",))
    with pytest.raises(ConfigError, match="not be empty"):
        ConvergenceConfig(seeds=())
    ConvergenceConfig(**CONVERGENCE_PROFILES["quick"])
    ConvergenceConfig(**CONVERGENCE_PROFILES["paper"])
    assert convergence_experiment().make_config("paper").episodes == 2000
    with pytest.raises(ConfigError, match="neither built in"):
        run_convergence(ConvergenceConfig(references=("opt",), **TINY), MemoryContext())


# --------------------------------------------------------------------------------------------
# end to end on a tiny environment, with a resume
# --------------------------------------------------------------------------------------------


class _Killed(Exception):
    pass


class _KillAfter(MemoryContext):
    def __init__(self, n: int, out_dir: Path) -> None:
        super().__init__(out_dir)
        self.left = n

    def record(self, key: str, rows: Any) -> None:
        if self.left == 0:
            raise _Killed(key)
        self.left -= 1
        super().record(key, rows)


def _tiny_cfg() -> ConvergenceConfig:
    return ConvergenceConfig(seeds=(0, 1), episodes=2, eval_frames=3, eval_batch=3, smooth=1,
                             part_a=("drl_uu", "ac"), part_b=("drl_pc",), **TINY)


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, repr(v)) for k, v in row.items()))


def test_tiny_run_end_to_end(tmp_path: Path) -> None:
    cfg = _tiny_cfg()
    refs = {"opt": HoldDesigner()}                       # a given reference (stand-in)
    full = MemoryContext(tmp_path / "a")
    summary = run_convergence(cfg, full, refs)
    rows = full.rows()
    curve = [r for r in rows if r["kind"] == "curve" and r["seed"] >= 0]
    assert len(curve) == 3 * 2 * 2                       # methods × seeds × episodes
    uu = [{**r, "method": "", "part": ""} for r in curve if r["method"] == "drl_uu"]
    pc = [{**r, "method": "", "part": ""} for r in curve if r["method"] == "drl_pc"]
    assert uu == pc and all(r["trained_as"] == "drl_uu" for r in curve
                            if r["method"] == "drl_pc")
    assert not (tmp_path / "a" / "models" / "drl_pc_seed0.json").exists()
    ev = {r["method"]: r for r in rows if r["kind"] == "eval"}
    assert set(ev) == {"drl_uu", "ac", "drl_pc", "hold", "random", "opt"}
    assert ev["opt"]["reward"] == ev["hold"]["reward"]  # same designer, same frames
    frames = [r["reward"] for r in rows if r["kind"] == "frame" and r["method"] == "ac"]
    per_frame = np.mean(np.reshape(frames, (2, 3)), axis=0)
    assert ev["ac"]["reward"] == pytest.approx(per_frame.mean())
    claims = summary["claims"]
    assert {"pc_beats_opt", "pc_beats_hold", "pc_beats_random",
            "psac_faster_than_ac"} <= set(claims)
    assert claims["pc_beats_opt"]["diff"] == pytest.approx(claims["pc_beats_hold"]["diff"])


@pytest.mark.slow
def test_tiny_run_resumes_after_a_kill(tmp_path: Path) -> None:
    cfg = _tiny_cfg()
    refs = {"opt": HoldDesigner()}
    full = MemoryContext(tmp_path / "a")
    summary = run_convergence(cfg, full, refs)
    rows = full.rows()
    # killed after the first two trainings were recorded, then resumed in the same folder
    killed = _KillAfter(2, tmp_path / "b")
    with pytest.raises(_Killed):
        run_convergence(cfg, killed, refs)
    resumed = MemoryContext(tmp_path / "b")
    for k in list(killed._rows):
        resumed.record(k, killed.rows(k))
    again = run_convergence(cfg, resumed, refs)
    assert sorted(map(_key, resumed.rows())) == sorted(map(_key, rows))
    assert again["claims"] == summary["claims"]
