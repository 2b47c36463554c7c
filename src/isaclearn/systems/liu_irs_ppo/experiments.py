"""The experiments of liu_irs_ppo wired so far (spec §5): ``compare`` (Fig. 4, capacity per
episode of the agents and the baselines), ``power`` (Fig. 5, capacity vs P_max for
K ∈ {2, 3, 4}, baselines) and ``beampattern`` (Fig. 6, P(ψ) of the baselines).

Every method is scored through :func:`isaclearn.rl.rollout.rollout` on the same seeded episodes
of the env :class:`~isaclearn.rl.envs.liu_irs_ppo.IrsIsacMisoCore` (50 steps): MRT/ZF/WMMSE with
the episode's random V^0 run on the ``phases="initial"`` env (the IRS held at V^0, spec §4),
the "without IRS" variants on the ``phases="off"`` env. The env multipliers stay at λ = 1,
μ = 0, so ``reward`` is the episode's summed sum rate (the μ-term is reported separately as
``beampattern_mse``). Rows carry ``method``, ``seed``, ``episode``, ``reward``, ``sum_rate``,
``beampattern_mse``, ``lambda``, ``mu``, ``power``, ``per_antenna_violation`` and
``cascade_direct_ratio``; ``summary.json`` holds the mean cascade/direct power ratio (spec §2).
Each (method, seed[, sweep point]) is one resumable sweep point (``toolkit.sweep``).

``compare`` also trains the learned agents (``agents``: PD-PPO and PD-A2C of
:mod:`isaclearn.rl.agents.trainers`, on the env with the IRS phases in the action, λ and μ
updated by the primal-dual steps): their training rows (one per episode, ``method`` =
``pd_ppo`` / ``pd_a2c``, with ``lambda``, ``mu``, ``reward_ema``) draw the learning curve, and
the trained policy is then scored deterministically through ``rollout`` on the baselines'
seeded episodes (``method`` = ``pd_ppo:eval``; λ = 1, μ = 0 there, so ``reward`` is again the
summed sum rate). Training resumes from its checkpoint after a kill. DPPO/A3C (MIMO, Figs.
10–11) and the agents' rows of ``power`` are not wired yet (issue 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from isaclearn.channels.irs import IrsIsacConfig
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.metrics.pattern import angle_grid, desired_pattern, paper_beampattern
from isaclearn.rl.envs.liu_irs_ppo import IrsIsacEnvConfig, IrsIsacMisoCore, PhaseMode
from isaclearn.rl.rollout import rollout
from isaclearn.systems.base import (
    ExperimentSpec,
    PlotSpec,
    RunContext,
    check_fields,
    register,
)
from isaclearn.systems.liu_irs_ppo.evaluation import default_noise_snr_db
from isaclearn.systems.liu_irs_ppo.system import baseline_designers
from isaclearn.systems.toolkit import summarize, sweep

__all__ = ["BeampatternConfig", "CompareConfig", "PowerConfig", "run_beampattern",
           "run_compare", "run_power"]


@dataclass
class Common:
    """Fields shared by the liu_irs_ppo experiments."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Seeds of the episodes (spec §5: paper profile 5 seeds)."""
    episodes: int = 100
    """Episodes per method and seed (50 steps each)."""
    batch_size: int = 100
    """Episodes run side by side in the batched env."""
    methods: tuple[str, ...] = ("mrt", "zf", "wmmse")
    """Baselines (names of :func:`~isaclearn.systems.liu_irs_ppo.system.baseline_designers`)."""
    p_max_w: float = 10.0
    """P_max in watts (spec §6.2: 10 W)."""
    direct_link_db: float = -60.0
    """Blockage of the direct link, dB (spec §6.12)."""
    num_irs_elements: int = 16
    """IRS elements (4 x 4)."""
    device: str = "cpu"
    """Torch device of the env."""
    agents: tuple[str, ...] = ()
    """Learned agents trained and scored (``compare`` only): ``pd_ppo``, ``pd_a2c``."""
    train_episodes: int = 2000
    """Training episodes per agent and seed."""
    train_batch: int = 10
    """Episodes run side by side during training (per worker)."""

    def __post_init__(self) -> None:
        check_fields(self, at_least_1=("episodes", "batch_size", "num_irs_elements"),
                     positive=("p_max_w",))
        known = set(baseline_designers())
        unknown = sorted(set(self.methods) - known)
        if unknown:
            raise ConfigError(f"methods {unknown} are unknown; known: {sorted(known)}")
        bad = sorted(set(self.agents) - {"pd_ppo", "pd_a2c"})
        if bad:
            raise ConfigError(f"agents {bad} are unknown; known: ['pd_a2c', 'pd_ppo']")
        check_fields(self, at_least_1=("train_episodes", "train_batch"))

    def scenario(self, **changes: Any) -> IrsIsacConfig:
        """The scenario config of the run (σ² fixed at its P_max = 10 W value, so that a
        P_max sweep changes the power and not the noise)."""
        fields: dict[str, Any] = {"p_max_w": self.p_max_w, "direct_link_db": self.direct_link_db,
                                  "num_irs_elements": self.num_irs_elements, **changes}
        fields["snr_db"] = default_noise_snr_db(float(fields["p_max_w"]))
        return IrsIsacConfig(**fields)


def _env(scenario: IrsIsacConfig, method: str, device: str) -> Any:
    phases: PhaseMode = "off" if method.endswith("_no_irs") else "initial"
    cfg = IrsIsacEnvConfig(scenario=scenario, phases=phases, device=device)
    return lambda b: IrsIsacMisoCore(b, cfg)


def _score(cfg: Common, scenario: IrsIsacConfig, method: str, seed: int,
           extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    designer = baseline_designers()[method]
    rows = rollout(_env(scenario, method, cfg.device), designer, cfg.episodes, int(seed),
                   method=method, batch_size=cfg.batch_size)
    for r in rows:
        r.update(extra or {})
    return rows


_TRAIN_COLUMNS = ("episode", "reward", "sum_rate", "beampattern_mse", "lambda", "mu", "power",
                  "per_antenna_violation", "cascade_direct_ratio", "reward_ema")


def _agent_rows(cfg: Common, ctx: RunContext, scenario: IrsIsacConfig, agent: str,
                seed: int) -> list[dict[str, Any]]:
    """Train ``agent`` with ``seed`` (resuming from its checkpoint in the run folder), then
    score it through ``rollout`` on the baselines' episodes."""
    from isaclearn.rl.agents.trainers import PrimalDualA2C, PrimalDualPPO, TrainerConfig
    from isaclearn.rl.primal_dual import PrimalDualConfig

    cls = {"pd_ppo": PrimalDualPPO, "pd_a2c": PrimalDualA2C}[agent]
    env_cfg = IrsIsacEnvConfig(scenario=scenario, device=cfg.device)
    trainer = cls(IrsIsacMisoCore(cfg.train_batch, env_cfg), TrainerConfig(
        episodes=cfg.train_episodes, seed=int(seed),
        primal_dual=PrimalDualConfig(num_rates=scenario.num_users, ell=scenario.ell)))
    stem = None if ctx.out_dir is None else Path(ctx.out_dir) / f"{agent}_seed{seed}"
    history = trainer.train(checkpoint=stem)
    rows = [{"method": agent, "seed": int(seed), **{k: r[k] for k in _TRAIN_COLUMNS if k in r}}
            for r in history]
    scored = rollout(lambda b: IrsIsacMisoCore(b, env_cfg), trainer, cfg.episodes, int(seed),
                     method=f"{agent}:eval", batch_size=cfg.batch_size)
    return rows + scored


def _ratio_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    with_irs = [float(r["cascade_direct_ratio"]) for r in rows
                if not str(r["method"]).endswith("_no_irs")]
    return {"cascade_direct_ratio_mean": (sum(with_irs) / len(with_irs)) if with_irs
            else float("nan"),
            "cascade_direct_ratio_note": "||H2^H V H1||_F^2 / ||H0^H||_F^2 with V = V^0, "
                                         "mean over the baselines' episodes (spec §2)",
            }


# --------------------------------------------------------------------------------------------
# compare (Fig. 4)


@dataclass
class CompareConfig(Common):
    """Fig. 4: capacity (mean sum rate over the episode's steps) per episode."""


def run_compare(cfg: CompareConfig, ctx: RunContext) -> dict[str, Any]:
    scenario = cfg.scenario()
    points = [(m, s) for m in cfg.methods for s in cfg.seeds]
    sweep(ctx, points, key=lambda p: f"method={p[0]},seed={p[1]}",
          run_point=lambda p: _score(cfg, scenario, p[0], p[1]), desc="compare")
    sweep(ctx, [(a, s) for a in cfg.agents for s in cfg.seeds],
          key=lambda p: f"agent={p[0]},seed={p[1]}",
          run_point=lambda p: _agent_rows(cfg, ctx, scenario, p[0], p[1]), desc="agents")
    rows = ctx.rows()
    summary: dict[str, Any] = {"by_method": summarize(
        rows, ["sum_rate", "reward", "beampattern_mse", "power"])}
    for agent in cfg.agents:
        last = [r for r in rows if r["method"] == agent
                and int(r["episode"]) >= cfg.train_episodes - max(1, cfg.train_episodes // 10)]
        if last:
            summary[f"{agent}_final_sum_rate"] = sum(float(r["sum_rate"]) for r in last) / len(last)
            summary[f"{agent}_final_beampattern_mse"] = sum(
                float(r["beampattern_mse"]) for r in last) / len(last)
            summary[f"{agent}_final_lambda"] = sum(float(r["lambda"]) for r in last) / len(last)
            summary[f"{agent}_final_mu"] = sum(float(r["mu"]) for r in last) / len(last)
    summary.update(_ratio_summary(rows))
    ctx.log(f"cascade/direct power ratio (V^0): {summary['cascade_direct_ratio_mean']:.3g}")
    return summary


# --------------------------------------------------------------------------------------------
# power (Fig. 5)


@dataclass
class PowerConfig(Common):
    """Fig. 5: capacity versus P_max for K ∈ {2, 3, 4} (P_max values not given; chosen 20–40
    dBm). The noise stays at its P_max = 10 W value."""

    p_max_dbm: tuple[float, ...] = (20.0, 25.0, 30.0, 35.0, 40.0)
    """P_max values in dBm."""
    users: tuple[int, ...] = (2, 3, 4)
    """Numbers of users K."""


def run_power(cfg: PowerConfig, ctx: RunContext) -> dict[str, Any]:
    points = [(k, p, m, s) for k in cfg.users for p in cfg.p_max_dbm for m in cfg.methods
              for s in cfg.seeds]

    def run(point: tuple[int, float, str, int]) -> list[dict[str, Any]]:
        k, p_dbm, method, seed = point
        p_w = 10.0 ** (p_dbm / 10.0) * 1e-3
        scenario = cfg.scenario(p_max_w=p_w, num_users=int(k))
        return _score(cfg, scenario, method, seed,
                      {"num_users": int(k), "p_max_dbm": float(p_dbm), "p_max": p_w})

    sweep(ctx, points, key=lambda p: f"K={p[0]},p_max_dbm={p[1]:g},method={p[2]},seed={p[3]}",
          run_point=run, desc="power")
    rows = ctx.rows()
    summary: dict[str, Any] = {}
    for k in cfg.users:
        for m in cfg.methods:
            curve = []
            for p in cfg.p_max_dbm:
                sel = [float(r["sum_rate"]) for r in rows if r["num_users"] == k
                       and r["method"] == m and float(r["p_max_dbm"]) == float(p)]
                curve.append(sum(sel) / len(sel) if sel else float("nan"))
            summary[f"sum_rate_K{k}_{m}"] = curve
            summary[f"increasing_K{k}_{m}"] = all(b >= a for a, b in zip(curve, curve[1:]))
    summary["p_max_dbm"] = list(cfg.p_max_dbm)
    summary.update(_ratio_summary(rows))
    return summary


# --------------------------------------------------------------------------------------------
# beampattern (Fig. 6)


@dataclass
class BeampatternConfig(Common):
    """Fig. 6: the transmit beampattern P(ψ) of each method, averaged over the first step of
    ``episodes`` seeded episodes, with the desired pattern d(ψ) of (17)."""

    grid_step_deg: float = 0.5
    """Angle step of the rows, degrees (must divide 90; the metric itself uses 0.1°)."""


def _peaks(pattern: torch.Tensor, grid_deg: torch.Tensor, count: int = 3) -> list[float]:
    """Angles (deg) of the ``count`` largest local maxima of a pattern ``[G]``."""
    p = pattern
    inner = (p[1:-1] >= p[:-2]) & (p[1:-1] >= p[2:])
    idx = torch.nonzero(inner).squeeze(1) + 1
    order = torch.argsort(p[idx], descending=True)[:count]
    return sorted(float(grid_deg[i]) for i in idx[order])


def run_beampattern(cfg: BeampatternConfig, ctx: RunContext) -> dict[str, Any]:
    scenario = cfg.scenario()
    grid = angle_grid(cfg.grid_step_deg, dtype=torch.float64)
    grid_deg = torch.rad2deg(grid)
    targets = torch.deg2rad(torch.tensor(scenario.target_angles_deg, dtype=torch.float64))
    desired = desired_pattern(grid, targets, math.radians(scenario.beam_width_deg),
                              height=scenario.pattern_height)
    summary: dict[str, Any] = {}
    points = [(m, s) for m in cfg.methods for s in cfg.seeds]

    def run(point: tuple[str, int]) -> list[dict[str, Any]]:
        method, seed = point
        core = _env(scenario, method, cfg.device)(cfg.episodes)
        core.reset(generator=make_generator(int(seed), core.device))
        design = baseline_designers()[method].design(core.current_problem())
        pattern = paper_beampattern(design.w.to(torch.complex128), grid.to(core.device))
        mean = pattern.mean(0).cpu()
        return [{"method": method, "seed": int(seed), "angle_deg": float(a),
                 "pattern": float(v), "desired": float(d)}
                for a, v, d in zip(grid_deg.tolist(), mean.tolist(), desired.tolist(),
                                   strict=True)]

    sweep(ctx, points, key=lambda p: f"method={p[0]},seed={p[1]}", run_point=run,
          desc="beampattern")
    rows = ctx.rows()
    for m in cfg.methods:
        per_angle: dict[float, list[float]] = {}
        for r in rows:
            if r["method"] == m:
                per_angle.setdefault(float(r["angle_deg"]), []).append(float(r["pattern"]))
        if not per_angle:
            continue
        angles = sorted(per_angle)
        mean = torch.tensor([sum(per_angle[a]) / len(per_angle[a]) for a in angles])
        peaks = _peaks(mean, torch.tensor(angles))
        summary[f"peaks_deg_{m}"] = peaks
        summary[f"peaks_within_5deg_of_targets_{m}"] = len(peaks) == 3 and all(
            abs(p - t) <= 5.0 for p, t in zip(peaks, sorted(scenario.target_angles_deg),
                                              strict=True))
    return summary


_QUICK = {"seeds": (0, 1), "episodes": 20, "batch_size": 20}
_AGENTS = ("pd_ppo", "pd_a2c")

register(ExperimentSpec(
    name="liu_irs_ppo.compare",
    fn=run_compare,
    config_cls=CompareConfig,
    profiles={"quick": {**_QUICK, "agents": _AGENTS, "train_episodes": 100},
              "paper": {"agents": _AGENTS}},
    description="Fig. 4: capacity per episode — PD-PPO, PD-A2C (training curves and scored "
                "on the baselines' episodes), MRT, ZF, WMMSE with random V^0",
    plots=[PlotSpec(filename="compare.png", x="episode", y=["sum_rate"],
                    xlabel="episode", ylabels=["capacity (bit/s/Hz)"],
                    title="liu_irs_ppo Fig. 4")],
    table_columns=["method", "sum_rate", "reward", "beampattern_mse", "power",
                   "cascade_direct_ratio"],
    table_group=["method"],
))

register(ExperimentSpec(
    name="liu_irs_ppo.power",
    fn=run_power,
    config_cls=PowerConfig,
    profiles={"quick": {**_QUICK, "episodes": 10, "batch_size": 10,
                        "p_max_dbm": (20.0, 30.0, 40.0)}, "paper": {}},
    description="Fig. 5: capacity vs P_max for K = 2, 3, 4 (baselines)",
    plots=[PlotSpec(filename="power_K{num_users}.png", x="p_max_dbm", y=["sum_rate"],
                    split="num_users", xlabel="P_max (dBm)", ylabels=["capacity (bit/s/Hz)"],
                    title="liu_irs_ppo Fig. 5, K = {num_users}")],
    table_columns=["num_users", "p_max_dbm", "method", "sum_rate", "beampattern_mse"],
    table_group=["num_users", "p_max_dbm", "method"],
))

register(ExperimentSpec(
    name="liu_irs_ppo.beampattern",
    fn=run_beampattern,
    config_cls=BeampatternConfig,
    profiles={"quick": {**_QUICK, "episodes": 20}, "paper": {"grid_step_deg": 0.1}},
    description="Fig. 6: transmit beampattern P(ψ) of the baselines and the desired pattern",
    plots=[PlotSpec(filename="beampattern.png", x="angle_deg", y=["pattern"],
                    xlabel="angle (deg)", ylabels=["P(ψ) (W)"], title="liu_irs_ppo Fig. 6")],
    table_columns=["method", "angle_deg", "pattern", "desired"],
    table_filter=lambda r: float(r["angle_deg"]) in (-40.0, 0.0, 40.0),
))

