"""yang_som experiments: rows and columns, resumability, the learned-method hook, the bench and
the system registration."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
import torch

from isaclearn.core.errors import ConfigError
from isaclearn.systems.base import MemoryContext, get_experiment, get_system
from isaclearn.systems.yang_som import experiments as ex
from isaclearn.systems.yang_som.bench import SUITE, bench_env

TINY: dict[str, Any] = {"num_antennas": 4, "num_rx": 4, "num_subcarriers": 2, "num_users": 2,
                        "max_users": 2, "num_taps": 2, "num_paths": 2, "num_symbols": 2,
                        "subframes": 2, "num_grid": 8, "frames": 2, "batch_size": 2,
                        "opt_stride": 2, "opt_fractions": (0.5,)}


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


def test_learned_hook_joins_the_method_table(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def policy(obs: Any) -> torch.Tensor:
        return torch.zeros(obs["S_H"].shape[0], 4 + 2 + 2, dtype=torch.float32)

    def hook(out_dir: Any, env_kwargs: dict[str, Any], methods: tuple[str, ...],
             seed: int) -> dict[str, Any]:
        calls.append((out_dir, env_kwargs["num_antennas"], methods, seed))
        return {m: policy for m in methods}

    monkeypatch.setattr(ex, "learned_hook", hook)
    cfg = ex.WeightConfig(**TINY, methods=("mp", "drl_uu"), weights=(0.5,))
    ctx = MemoryContext()
    ex.run_weight(cfg, ctx)
    assert [r["method"] for r in ctx.rows()] == ["mp", "drl_uu"]
    assert calls == [(None, 4, ("drl_uu",), 1000)]


def test_learned_methods_without_the_hook_are_refused() -> None:
    cfg = ex.SnrConfig(**TINY, methods=("drl_au",), snr_grid=(0.0,))
    with pytest.raises(ConfigError, match="learned_hook"):
        ex.run_snr(cfg, MemoryContext())
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
    opts = argparse.Namespace(batches="1", steps=1, seed=0, methods="mp", device="cpu")
    rows = SUITE.run(opts, None)
    assert rows[0]["what"] == "env_step" and rows[0]["batch"] == 1 and rows[0]["ratio"] > 0
    assert rows[-1]["what"] == "design:mp" and rows[-1]["time_ratio"] == 1.0
    with pytest.raises(ConfigError):
        bench_env((0,))
