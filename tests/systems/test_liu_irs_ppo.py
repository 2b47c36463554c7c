"""The liu_irs_ppo system layer: the SystemSpec, evaluate against the env's info, the baseline
experiments (tiny sizes, in memory, resumable) and the rl bench suite."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.metrics.comm import rates
from isaclearn.rl.envs.liu_irs_ppo import IrsIsacMisoCore
from isaclearn.systems.base import MemoryContext, bench_suites, get_system
from isaclearn.systems.liu_irs_ppo import evaluate, make_scenario
from isaclearn.systems.liu_irs_ppo.bench import bench_dppo, bench_env, run_rl_bench
from isaclearn.systems.liu_irs_ppo.evaluation import default_noise_snr_db
from isaclearn.systems.liu_irs_ppo.experiments import (
    BeampatternConfig,
    CompareConfig,
    PowerConfig,
    _peaks,
    run_beampattern,
    run_compare,
    run_power,
)
from isaclearn.systems.liu_irs_ppo.system import baseline_designers

TINY = {"seeds": (0,), "episodes": 2, "batch_size": 2}


def test_system_is_registered_with_designers_and_bench() -> None:
    spec = get_system("liu_irs_ppo")
    names = {e.name for e in spec.designers()}
    assert {"mrt", "zf", "wmmse", "mrt_no_irs", "zf_no_irs", "wmmse_no_irs"} <= names
    assert "rl" in bench_suites()
    problem = make_scenario().sample(3, generator=make_generator(0))
    for entry in spec.designers():
        scores = spec.evaluate(problem, entry.make().design(problem))
        assert set(scores) == set(spec.metrics)
        assert all(v.shape == (3,) and bool(torch.isfinite(v).all()) for v in scores.values())


def test_evaluate_matches_the_env_and_metrics() -> None:
    """A FixedPhases(MRT) design scored by evaluate equals the env's info on the phases="initial"
    env, and the sum rate equals metrics.rates on the V^0 effective channel."""
    core = IrsIsacMisoCore(4, phases="initial", dtype=torch.complex128)
    core.reset(seed=3)
    problem = core.current_problem()
    design = baseline_designers()["mrt"].design(problem)
    scores = evaluate(problem, design)
    _, reward, _, _, info = core.step(core.design_to_action(design))
    for key in ("sum_rate", "beampattern_mse", "power", "cascade_direct_ratio"):
        torch.testing.assert_close(scores[key], info[key], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(scores["reward"], reward, rtol=1e-9, atol=1e-12)
    from isaclearn.channels.irs import effective_channel

    h = effective_channel(problem, problem.reflection(problem.phases0))
    torch.testing.assert_close(scores["sum_rate"], rates(h, design.w, problem.noise_var).sum(-1))
    off = evaluate(problem, baseline_designers()["zf_no_irs"].design(problem))
    assert float(off["cascade_direct_ratio"].abs().max()) == 0.0


def test_noise_stays_fixed_across_the_power_sweep() -> None:
    base = make_scenario().config.noise_var
    for p in (0.1, 1.0, 10.0):
        cfg = make_scenario(p_max_w=p, snr_db=default_noise_snr_db(p))
        assert math.isclose(cfg.config.noise_var, base, rel_tol=1e-12)


def test_compare_with_agents_tiny() -> None:
    ctx = MemoryContext()
    cfg = CompareConfig(**TINY, methods=("mrt",), agents=("pd_ppo",),  # type: ignore[arg-type]
                        train_episodes=4, train_batch=2)
    summary = run_compare(cfg, ctx)
    train = [r for r in ctx.rows() if r["method"] == "pd_ppo"]
    scored = [r for r in ctx.rows() if r["method"] == "pd_ppo:eval"]
    assert len(train) == 4 and len(scored) == 2
    assert all({"episode", "reward", "sum_rate", "beampattern_mse", "lambda", "mu"} <= set(r)
               for r in train)
    assert "pd_ppo_final_sum_rate" in summary
    with pytest.raises(ConfigError):
        CompareConfig(agents=("dqn",))


def test_compare_rows_and_resume() -> None:
    ctx = MemoryContext()
    cfg = CompareConfig(**TINY, methods=("mrt", "zf_no_irs"))  # type: ignore[arg-type]
    summary = run_compare(cfg, ctx)
    rows = ctx.rows()
    assert len(rows) == 4
    need = {"method", "seed", "episode", "reward", "sum_rate", "beampattern_mse", "lambda", "mu",
            "cascade_direct_ratio"}
    assert all(need <= set(r) for r in rows)
    mrt = [r for r in rows if r["method"] == "mrt"]
    assert all(math.isclose(r["reward"], 50 * r["sum_rate"], rel_tol=1e-5) for r in mrt)
    assert 0 < summary["cascade_direct_ratio_mean"] < 1e-2
    assert all(r["cascade_direct_ratio"] == 0.0 for r in rows if r["method"] == "zf_no_irs")
    run_compare(cfg, ctx)  # resumed: nothing is recomputed
    assert len(ctx.rows()) == 4
    with pytest.raises(ConfigError):
        CompareConfig(methods=("nope",))


def test_power_and_beampattern_tiny() -> None:
    ctx = MemoryContext()
    cfg = PowerConfig(**TINY, methods=("mrt",), users=(2,),  # type: ignore[arg-type]
                      p_max_dbm=(30.0, 40.0))
    summary = run_power(cfg, ctx)
    curve = summary["sum_rate_K2_mrt"]
    assert len(curve) == 2 and curve[1] > curve[0]
    ctx = MemoryContext()
    out = run_beampattern(BeampatternConfig(**TINY, methods=("zf",),  # type: ignore[arg-type]
                                            grid_step_deg=1.0), ctx)
    assert len(ctx.rows()) == 181 and 1 <= len(out["peaks_deg_zf"]) <= 3


def test_beampattern_draws_the_trained_agent() -> None:
    ctx = MemoryContext()
    cfg = BeampatternConfig(**TINY, methods=("mrt",), agents=("pd_ppo",),  # type: ignore[arg-type]
                            train_episodes=2, train_batch=1, grid_step_deg=1.0)
    out = run_beampattern(cfg, ctx)
    pattern = [r for r in ctx.rows() if r["method"] == "pd_ppo:pattern"]
    assert len(pattern) == 181 and all(r["kind"] == "pattern" for r in pattern)
    values = torch.tensor([r["pattern"] for r in pattern])
    # P(ψ) = aᴴWWᴴa with ‖a‖ = 1 lies in [0, tr WWᴴ] and tr WWᴴ ≤ P_max (22)
    assert bool(torch.isfinite(values).all()) and float(values.min()) >= 0.0
    assert float(values.max()) <= cfg.p_max_w * (1 + 1e-9)
    assert out["pd_ppo_peak_power"] == pytest.approx(float(values.max()))
    assert 1 <= len(out["pd_ppo_peaks_deg"]) <= 3 and "peaks_deg_mrt" in out
    assert any(r["method"] == "pd_ppo" and "episode" in r for r in ctx.rows())
    n = len(ctx.rows())
    run_beampattern(cfg, ctx)  # resumed: nothing is retrained or redrawn
    assert len(ctx.rows()) == n


def test_peaks_finds_the_three_largest_local_maxima() -> None:
    grid = torch.arange(-90.0, 90.5, 0.5)
    pattern = sum(h * torch.exp(-((grid - c) / 3.0) ** 2)
                  for h, c in ((1.0, -40.0), (2.0, 0.0), (1.5, 40.0), (0.3, 70.0)))
    assert _peaks(torch.as_tensor(pattern), grid) == [-40.0, 0.0, 40.0]


def test_bench_rows_and_options() -> None:
    rows = bench_env((1, 4), steps=2, numpy_steps=1)
    assert [r["batch"] for r in rows] == [1, 4]
    assert all(r["ratio"] > 0 and r["steps_per_s"] > 0 for r in rows)
    dppo = bench_dppo((1, 2), batch=2, rounds=1)
    assert [r["what"] for r in dppo] == ["dppo_workers=1", "dppo_workers=2"]
    assert all(r["steps_per_s"] > 0 for r in dppo)
    with pytest.raises(ConfigError):
        run_rl_bench(argparse.Namespace(batches="1,x", steps=2, seed=0, device="cpu"))
    with pytest.raises(ConfigError):
        run_rl_bench(argparse.Namespace(batches="0", steps=2, seed=0, device="cpu"))


def test_agents_train_with_the_chosen_discount() -> None:
    """The experiments' agents use ``Common.gamma`` (default 0, the reading of
    systems.liu_irs_ppo "Discount") for the advantages and the Q-head target; ``--set
    gamma=0.9`` restores the MorvanZhou value; out-of-range values are refused."""
    from isaclearn.systems.liu_irs_ppo.experiments import MimoConfig, _trainer

    for agents, cfg_cls in ((("pd_ppo", "pd_a2c"), CompareConfig),
                            (("pd_dppo", "a3c"), MimoConfig)):
        for gamma in (None, 0.9):
            cfg = cfg_cls(**TINY, train_episodes=4, train_batch=2,  # type: ignore[arg-type]
                          **({} if gamma is None else {"gamma": gamma}))
            for agent in agents:
                trainer, _ = _trainer(cfg, cfg.scenario(), agent, 0)
                want = 0.0 if gamma is None else gamma
                assert trainer.config.gamma == want and trainer.config.update.gamma == want
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ConfigError):
            CompareConfig(gamma=bad)


def test_agents_use_the_chosen_activation() -> None:
    """``Common.activation`` (default the paper's ReLU) reaches every agent's networks:
    the actor's hidden layer equals ``tanh``/``relu`` of its linear map."""
    from isaclearn.systems.liu_irs_ppo.experiments import MimoConfig, _trainer

    for agents, cfg_cls in ((("pd_ppo", "pd_a2c"), CompareConfig),
                            (("pd_dppo", "a3c"), MimoConfig)):
        for act in (None, "tanh"):
            cfg = cfg_cls(**TINY, train_episodes=4, train_batch=2,  # type: ignore[arg-type]
                          **({} if act is None else {"activation": act}))
            for agent in agents:
                trainer, _ = _trainer(cfg, cfg.scenario(), agent, 0)
                assert trainer.config.activation == (act or "relu")
                actor = trainer.agent.actor
                obs = -torch.ones(3, actor.config.obs_dim)
                f = torch.tanh if act == "tanh" else torch.relu
                h = f(actor.body(obs))
                loc = torch.tanh(actor.mean_head(h))
                lo, hi = actor.config.action_low, actor.config.action_high
                torch.testing.assert_close(actor(obs)[0], (hi + lo) / 2 + (hi - lo) / 2 * loc)
    with pytest.raises(ConfigError, match="activation"):
        CompareConfig(activation="gelu")


def test_per_user_observation_reaches_the_agents_and_the_pattern() -> None:
    """``observation="user"`` trains and scores the MISO agents on the per-user env of Alg. 1
    (observation and ``w`` action of one user, ``2 M`` reals), draws the pattern at step
    ``K``; the baselines keep the joint env; MIMO refuses it."""
    from isaclearn.systems.liu_irs_ppo.experiments import MimoConfig, _trainer

    cfg = CompareConfig(**TINY, train_episodes=2, train_batch=1,  # type: ignore[arg-type]
                        observation="user")
    m = cfg.scenario().num_antennas
    for agent in ("pd_ppo", "pd_a2c"):
        trainer, make = _trainer(cfg, cfg.scenario(), agent, 0)
        assert trainer.agent.actor.config.obs_dim == 2 * m
        assert make(1).per_user and make(1).action_space["w"].shape == (2 * m,)
    ctx = MemoryContext()
    bp = BeampatternConfig(**TINY, methods=("mrt",), agents=("pd_ppo",),  # type: ignore[arg-type]
                           train_episodes=2, train_batch=1, grid_step_deg=1.0,
                           observation="user")
    out = run_beampattern(bp, ctx)
    values = [r["pattern"] for r in ctx.rows() if r["method"] == "pd_ppo:pattern"]
    assert len(values) == 181 and max(values) <= bp.p_max_w * (1 + 1e-9)
    assert out["pd_ppo_peak_power"] == pytest.approx(max(values))
    with pytest.raises(ConfigError, match="observation"):
        CompareConfig(observation="antenna")
    with pytest.raises(ConfigError, match="MISO only"):
        MimoConfig(observation="user")
