"""yang_som experiments: rows and columns, resumability, the learned methods, the bench and
the system registration."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from isaclearn.core.errors import ConfigError
from isaclearn.systems.base import MemoryContext, get_experiment, get_system
from isaclearn.systems.yang_som import experiments as ex
from isaclearn.systems.yang_som.bench import SUITE, bench_env

TINY: dict[str, Any] = {"num_antennas": 4, "num_rx": 4, "num_subcarriers": 2, "num_users": 2,
                        "max_users": 2, "num_taps": 2, "num_paths": 2, "num_symbols": 2,
                        "subframes": 2, "num_grid": 8, "frames": 2, "batch_size": 2,
                        "opt_stride": 2, "opt_fractions": (0.5,)}
LEARN: dict[str, Any] = {**TINY, "max_users": 4, "num_grid": 16}  # room for the conv encoders


def test_snr_rows_columns_and_resume() -> None:
    cfg = ex.SnrConfig(**TINY, methods=("mp", "greedy"), snr_grid=(-5.0, 5.0))
    ctx = MemoryContext()
    summary = ex.run_snr(cfg, ctx)
    rows = ctx.rows()
    assert [(r["method"], r["snr_db"]) for r in rows] == [
        ("mp", -5.0), ("greedy", -5.0), ("mp", 5.0), ("greedy", 5.0)]
    for r in rows:
        for col in ("se", "se_ci", "crlb_db", "crlb_db_ci", "reward", "reward_ci", "frames"):
            assert col in r
        assert r["frames"] == 2
    # more power, more rate (same frames)
    assert rows[2]["se"] > rows[0]["se"]
    assert "not yet measured" in summary["claims"]["drl_claims"]
    n = len(ctx.rows())
    ex.run_snr(cfg, ctx)  # resumed: nothing recomputed
    assert len(ctx.rows()) == n


def test_learned_methods_are_trained_once_and_scored_at_each_point(tmp_path) -> None:
    from isaclearn.rl.envs.yang_som import YangSomCore
    from isaclearn.rl.rollout import rollout
    from isaclearn.systems.yang_som import learned

    cfg = ex.WeightConfig(**LEARN, methods=("mp", "drl_au", "dqn"), weights=(0.2, 0.8),
                          train_episodes=2, retrain_per_point=False)
    ctx = MemoryContext(tmp_path)
    ex.run_weight(cfg, ctx)
    rows = ctx.rows()
    assert [(r["method"], r["weight"]) for r in rows] == [
        (m, w) for w in (0.2, 0.8) for m in ("mp", "drl_au", "dqn")]
    assert sorted(p.name for p in (tmp_path / "agents").iterdir()) == ["default"]
    # the policy trained at ψ = 0.5 acts on the ψ = 0.8 frames with its own scheme (AU)
    policy = learned.learned_designers(tmp_path / "agents" / "default", cfg.env_kwargs(),
                                       ["drl_au"], cfg.train_seed)["drl_au"]
    core = YangSomCore(cfg.batch_size, cfg.env_config(weight=0.8), scheme="au")
    direct = rollout(core, policy, cfg.frames, cfg.seed)
    want = sum(float(r["reward"]) for r in direct) / len(direct)
    got = next(r for r in rows if r["method"] == "drl_au" and r["weight"] == 0.8)
    assert got["reward"] == pytest.approx(want, rel=1e-9)
    other = next(r for r in rows if r["method"] == "drl_au" and r["weight"] == 0.2)
    assert other["reward"] != pytest.approx(want, rel=1e-6)


def test_learned_methods_retrain_per_point_and_need_a_run_folder(tmp_path) -> None:
    cfg = ex.WeightConfig(**LEARN, methods=("drl_uu",), weights=(0.2, 0.8), train_episodes=1,
                          retrain_per_point=True)
    ex.run_weight(cfg, MemoryContext(tmp_path))
    assert sorted(p.name for p in (tmp_path / "agents").iterdir()) == [
        "weight0.2", "weight0.8"]
    with pytest.raises(ConfigError, match="run folder"):
        ex.run_snr(ex.SnrConfig(**TINY, methods=("drl_au",), snr_grid=(0.0,)),
                   MemoryContext())
    with pytest.raises(ConfigError, match="unknown"):
        ex.SnrConfig(**TINY, methods=("nope",))


def test_tradeoff_and_runtime_rows() -> None:
    ctx = MemoryContext()
    ex.run_tradeoff(ex.TradeoffConfig(**TINY, methods=("mp", "orthogonal"), weights=(0.5,)),
                    ctx)
    assert {r["method"] for r in ctx.rows()} == {"mp", "orthogonal"}
    ctx = MemoryContext()
    summary = ex.run_runtime(ex.RuntimeConfig(**{**TINY, "frames": 1, "batch_size": 1},
                                              methods=("mp", "greedy")), ctx)
    rows = ctx.rows()
    assert {r["method"] for r in rows} == {"mp", "greedy"}
    assert all(r["seconds_per_frame"] > 0 for r in rows)
    assert set(summary["seconds_per_frame"]) == {"mp", "greedy"}


def test_system_registration() -> None:
    spec = get_system("yang_som")
    assert list(spec.metrics)[:3] == ["se", "crlb_db", "reward"]
    assert {"opt", "mp", "greedy", "omp", "ideal", "orthogonal"} <= set(
        spec.designer_entries())
    names = set(spec.experiments())
    assert {f"yang_som.{n}" for n in ("snr", "weight", "users", "speed", "tradeoff",
                                      "runtime")} <= names
    cfg = get_experiment("yang_som.snr").make_config("quick")
    assert cfg.num_antennas == 8 and cfg.frames == 5
    assert spec.bench_suites[0].name == "yang_som"


def test_bench_rows() -> None:
    opts = argparse.Namespace(batches="1", steps=1, seed=0, methods="mp,drl_au", device="cpu")
    rows = SUITE.run(opts, None)
    assert rows[0]["what"] == "env_step" and rows[0]["batch"] == 1 and rows[0]["ratio"] > 0
    design = {r["what"]: r for r in rows[1:]}
    assert set(design) == {"design:mp", "design:drl_au"}
    fastest = min(r["seconds_per_frame"] for r in design.values())
    for r in design.values():
        assert r["seconds_per_frame"] > 0
        assert r["time_ratio"] == pytest.approx(r["seconds_per_frame"] / fastest)
    from isaclearn.systems.yang_som.learned import untrained_policy

    with pytest.raises(ConfigError, match="PSAC"):
        untrained_policy("ac")
    with pytest.raises(ConfigError, match="unknown methods"):
        SUITE.run(argparse.Namespace(batches="1", steps=1, seed=0, methods="nope",
                                     device="cpu"), None)
    with pytest.raises(ConfigError):
        bench_env((0,))
