"""The experiments of liu_irs_ppo (spec §5): ``lr`` (Fig. 3), ``compare`` (Fig. 4), ``power``
(Fig. 5), ``beampattern`` (Fig. 6), ``threshold`` (Fig. 7), ``tradeoff`` (Fig. 8), ``irs_size``
(Fig. 9), ``mimo_reward`` (Fig. 10), ``mimo_capacity`` (Fig. 11) and ``mimo_beampattern``
(Fig. 12).

Every method is scored through :func:`isaclearn.rl.rollout.rollout` on the same seeded episodes
of the env :class:`~isaclearn.rl.envs.liu_irs_ppo.IrsIsacMisoCore` (MIMO:
:class:`~isaclearn.rl.envs.liu_irs_ppo.IrsIsacMimoCore`; 50 steps): MRT/ZF/WMMSE with the
episode's random V^0 run on the ``phases="initial"`` env (the IRS held at V^0, spec §4), the
"without IRS" variants on the ``phases="off"`` env, the MIMO WMMSE of Fig. 10
(:class:`~isaclearn.solvers.irs.MimoWmmse`, ``wmmse_mimo``) on the MIMO ``phases="initial"``
env. The env multipliers stay at λ = 1, μ = 0 in scoring, so ``reward`` is the episode's summed
sum rate (the μ-term is reported separately as ``beampattern_mse``). Rows carry ``method``,
``seed``, ``episode``, ``reward``, ``sum_rate``, ``beampattern_mse``, ``lambda``, ``mu``,
``power``, ``per_antenna_violation`` and ``cascade_direct_ratio``, plus the sweep column of the
experiment (``lr_actor``/``lr_critic``, ``num_users``/``p_max_dbm``, ``ell``,
``num_irs_elements``); ``summary.json`` holds the mean cascade/direct power ratio (spec §2).
Each (method, seed[, sweep point]) is one resumable sweep point (``toolkit.sweep``).

Learned agents (``agents``): PD-PPO and PD-A2C (MISO) and primal-dual DPPO with ``workers``
workers and the A3C baseline (MIMO) of :mod:`isaclearn.rl.agents.trainers` and
:mod:`isaclearn.rl.dppo`, trained on the env with the IRS phases in the action (``phases="off"``
for the "without IRS" agent of Fig. 9), λ and μ updated by the primal-dual steps (34)–(36)
(A3C: none). Their training rows (one per episode, ``method`` = the agent's name, with the
Lagrangian ``reward``, ``lambda``, ``mu``, ``reward_ema`` and the running means of the dual
iterates ``lambda_avg``, ``mu_avg``, ``x_avg`` of
:class:`~isaclearn.rl.primal_dual.PrimalDualConfig` ``average=True``, which only reports) draw
the learning curves; the trained policy is then scored deterministically through ``rollout``
on the baselines' seeded episodes (``method`` = ``<agent>:eval``; λ = 1, μ = 0 there, so
``reward`` is again the summed sum rate). ``dual_damping`` sets the augmented-Lagrangian
damping of (34) (our addition; 0 = the paper's steps). Training resumes from its checkpoint
after a kill. The summaries give, per agent, the means over the last 10 % of the training
episodes (sum rate, L_r, λ, μ, the violation rate of L_r ≤ ℓ) and the episodes to converge
(:func:`episodes_to_converge`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from isaclearn.channels.irs import IrsIsacConfig
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.metrics.pattern import angle_grid, desired_pattern, paper_beampattern
from isaclearn.rl.envs.liu_irs_ppo import (
    IrsIsacEnvConfig,
    IrsIsacMimoCore,
    IrsIsacMimoEnvConfig,
    IrsIsacMisoCore,
    PhaseMode,
)
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

__all__ = ["BeampatternConfig", "CompareConfig", "IrsSizeConfig", "LrConfig",
           "MimoBeampatternConfig", "MimoConfig", "PowerConfig", "ThresholdConfig",
           "TradeoffConfig", "episodes_to_converge", "mimo_designers", "run_beampattern",
           "run_compare", "run_irs_size", "run_lr", "run_mimo_beampattern", "run_mimo_capacity",
           "run_mimo_reward", "run_power", "run_threshold", "run_tradeoff"]

MISO_AGENTS = ("pd_ppo", "pd_a2c")
_QUICK_AGENT = {"agents": ("pd_ppo",), "train_episodes": 20, "train_batch": 5}
_QUICK_TRAIN = {"seeds": (0, 1), "episodes": 10, "batch_size": 10, "train_episodes": 40,
                "train_batch": 5}
_QUICK_MIMO = {"seeds": (0, 1), "episodes": 4, "batch_size": 4, "train_episodes": 16,
               "train_batch": 2}
"""Learned agents of the MISO experiments."""
MIMO_AGENTS = ("pd_dppo", "a3c")
"""Learned agents of the MIMO experiments (Figs. 10–12)."""


def mimo_designers() -> dict[str, Any]:
    """The MIMO baselines by result name: matrix WMMSE with the episode's V^0
    (``wmmse_mimo``, spec §4) and on the direct channel (``wmmse_mimo_no_irs``)."""
    from isaclearn.solvers.irs import MimoWmmse

    return {"wmmse_mimo": MimoWmmse(name="wmmse_mimo"),
            "wmmse_mimo_no_irs": MimoWmmse(phases="off", name="wmmse_mimo_no_irs")}


@dataclass
class Common:
    """Fields shared by the liu_irs_ppo experiments."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Seeds of the episodes and of the agents (spec §5: paper profile 5 seeds)."""
    episodes: int = 100
    """Scored episodes per method and seed (50 steps each)."""
    batch_size: int = 100
    """Episodes run side by side in the batched env when scoring."""
    methods: tuple[str, ...] = ("mrt", "zf", "wmmse")
    """Baselines (names of :func:`~isaclearn.systems.liu_irs_ppo.system.baseline_designers`;
    MIMO experiments: of :func:`mimo_designers`)."""
    p_max_w: float = 10.0
    """P_max in watts (spec §6.2: 10 W)."""
    direct_link_db: float = -60.0
    """Blockage of the direct link, dB (spec §6.12)."""
    num_irs_elements: int = 16
    """IRS elements (4 x 4)."""
    device: str = "cpu"
    """Torch device of the env."""
    agents: tuple[str, ...] = ()
    """Learned agents trained and scored: ``pd_ppo``, ``pd_a2c`` (MISO); ``pd_dppo``, ``a3c``
    (MIMO)."""
    train_episodes: int = 2000
    """Training episodes per agent and seed (all workers together)."""
    train_batch: int = 10
    """Episodes run side by side during training (per worker)."""
    dual_damping: float = 0.0
    """Augmented-Lagrangian damping ρ of (34) (our addition,
    :class:`~isaclearn.rl.primal_dual.PrimalDualConfig`; 0 = the paper's steps)."""
    gamma: float = 0.0
    """Discount γ of every agent's advantages (25)/(44) and Q-head target (the paper gives
    none). Chosen 0: in this MDP the reward of step ``t`` depends only on the action of step
    ``t`` and the episode's channels (``V^{t+1}`` is set by the action, not accumulated, and
    ``W`` does not enter the transition), so the discounted later rewards in (25) carry no
    credit for the action and only add variance to the policy gradient (module docstring of
    :mod:`isaclearn.systems.liu_irs_ppo`, "Discount"). ``gamma=0.9`` is the MorvanZhou value
    used before."""
    observation: str = "joint"
    """What the MISO agents observe and set per step: ``"joint"`` (the whole effective channel
    and ``W``, spec §3) or ``"user"`` (the literal per-user loop of Alg. 1, spec §6.14: user
    ``t mod K``'s channel and its column of ``W``,
    :class:`~isaclearn.rl.envs.liu_irs_ppo.IrsIsacEnvConfig`). The baselines are scored on the
    joint env either way (they design all of ``W`` from the whole problem). In the ``"user"``
    env a column stays until its user's next turn, so the premise of ``gamma=0`` does not hold
    there; ``gamma`` is not changed with it (set it with ``--set gamma=...``)."""
    activation: str = "relu"
    """Hidden activation of every agent's networks: ``"relu"`` (paper §VI, the default) or
    ``"tanh"`` (SB3's ``MlpPolicy``; the activation that closes the gap to SB3 PPO,
    ``docs/liu_irs_ppo.md``, "The gap to SB3 PPO")."""

    mimo: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_fields(self, at_least_1=("episodes", "batch_size", "num_irs_elements"),
                     positive=("p_max_w",))
        known = set(mimo_designers() if self.mimo else baseline_designers())
        unknown = sorted(set(self.methods) - known)
        if unknown:
            raise ConfigError(f"methods {unknown} are unknown; known: {sorted(known)}")
        allowed = MIMO_AGENTS if self.mimo else MISO_AGENTS
        bad = sorted(set(self.agents) - set(allowed))
        if bad:
            raise ConfigError(f"agents {bad} are unknown; known: {sorted(allowed)}")
        check_fields(self, at_least_1=("train_episodes", "train_batch"))
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"gamma must lie in [0, 1], got {self.gamma}")
        if self.observation not in ("joint", "user"):
            raise ConfigError(f"observation must be 'joint' or 'user', got "
                              f"{self.observation!r}")
        if self.mimo and self.observation != "joint":
            raise ConfigError("observation='user' is MISO only (the MIMO per-user loop is "
                              "DPPO's workers)")
        if self.activation not in ("relu", "tanh"):
            raise ConfigError(f"activation must be 'relu' or 'tanh', got {self.activation!r}")
        if not (self.dual_damping >= 0 and math.isfinite(self.dual_damping)):
            raise ConfigError(f"dual_damping must be finite and >= 0, got {self.dual_damping}")

    def scenario(self, **changes: Any) -> IrsIsacConfig:
        """The scenario config of the run (σ² fixed at its P_max = 10 W value, so that a
        P_max sweep changes the power and not the noise)."""
        fields: dict[str, Any] = {"p_max_w": self.p_max_w, "direct_link_db": self.direct_link_db,
                                  "num_irs_elements": self.num_irs_elements,
                                  **({"mimo": True} if self.mimo else {}), **changes}
        fields["snr_db"] = default_noise_snr_db(float(fields["p_max_w"]))
        return IrsIsacConfig(**fields)


def _env(scenario: IrsIsacConfig, method: str, device: str) -> Any:
    phases: PhaseMode = "off" if method.endswith("_no_irs") else "initial"
    if scenario.mimo:
        mcfg = IrsIsacMimoEnvConfig(scenario=scenario, phases=phases, device=device)
        return lambda b: IrsIsacMimoCore(b, mcfg)
    cfg = IrsIsacEnvConfig(scenario=scenario, phases=phases, device=device)
    return lambda b: IrsIsacMisoCore(b, cfg)


def _score(cfg: Common, scenario: IrsIsacConfig, method: str, seed: int,
           extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    designer = (mimo_designers() if scenario.mimo else baseline_designers())[method]
    rows = rollout(_env(scenario, method, cfg.device), designer, cfg.episodes, int(seed),
                   method=method, batch_size=cfg.batch_size)
    for r in rows:
        r.update(extra or {})
    return rows


_TRAIN_COLUMNS = ("episode", "reward", "sum_rate", "beampattern_mse", "lambda", "mu", "power",
                  "per_antenna_violation", "cascade_direct_ratio", "reward_ema", "lambda_avg",
                  "mu_avg", "x_avg")


def _trainer(cfg: Common, scenario: IrsIsacConfig, agent: str, seed: int, *,
             phases: PhaseMode = "action", update: dict[str, Any] | None = None,
             workers: int = 4) -> tuple[Any, Any]:
    """The trainer of ``agent`` (not trained yet) and the factory of its scoring env."""
    from isaclearn.rl.agents.ppo_update import PPOUpdateConfig
    from isaclearn.rl.agents.trainers import PrimalDualA2C, PrimalDualPPO, TrainerConfig
    from isaclearn.rl.dppo import A3C, DPPO
    from isaclearn.rl.primal_dual import PrimalDualConfig

    k = scenario.num_users
    pd_cfg = PrimalDualConfig(num_rates=k, num_constraints=k if scenario.mimo else 1,
                              ell=scenario.ell, damping=cfg.dual_damping, average=True)
    upd = PPOUpdateConfig(**(update or {}))
    core: Any
    make: Any
    if scenario.mimo:
        mcfg = IrsIsacMimoEnvConfig(scenario=scenario, phases=phases, device=cfg.device)
        core, make = IrsIsacMimoCore(cfg.train_batch, mcfg), (
            lambda b: IrsIsacMimoCore(b, mcfg))
    else:
        ecfg = IrsIsacEnvConfig(scenario=scenario, phases=phases, device=cfg.device,
                                observation=cfg.observation)  # type: ignore[arg-type]
        core, make = IrsIsacMisoCore(cfg.train_batch, ecfg), (
            lambda b: IrsIsacMisoCore(b, ecfg))
    common: dict[str, Any] = {"episodes": cfg.train_episodes, "seed": int(seed), "update": upd,
                              "gamma": float(cfg.gamma), "activation": cfg.activation}
    trainer: Any
    if agent == "pd_dppo":
        trainer = DPPO(core, TrainerConfig(advantage="lstep", primal_dual=pd_cfg, **common),
                       workers=workers)
    elif agent == "a3c":
        trainer = A3C(core, TrainerConfig(advantage="lstep", lstep_window="segment",
                                          steps_per_update=5, lstep=5, **common),
                      workers=workers)
    else:
        cls = {"pd_ppo": PrimalDualPPO, "pd_a2c": PrimalDualA2C}[agent]
        trainer = cls(core, TrainerConfig(primal_dual=pd_cfg, **common))
    return trainer, make


def _train(trainer: Any, ctx: RunContext, stem: str) -> list[dict[str, Any]]:
    """Train (resuming from ``stem`` in the run folder), adding the running means of the dual
    iterates to each row as its round ends."""
    def averages(row: dict[str, Any]) -> None:
        pd = trainer.primal_dual
        if pd is not None and pd.state.lam_avg is not None:
            row["lambda_avg"] = float(pd.state.lam_avg.mean())
            row["mu_avg"] = float(pd.state.mu_avg.mean())
            row["x_avg"] = float(pd.state.x_avg.sum())

    path = None if ctx.out_dir is None else Path(ctx.out_dir) / stem
    return list(trainer.train(checkpoint=path, callback=averages))


def _agent_rows(cfg: Common, ctx: RunContext, scenario: IrsIsacConfig, agent: str,
                seed: int, *, tag: str = "", phases: PhaseMode = "action",
                extra: dict[str, Any] | None = None, update: dict[str, Any] | None = None,
                workers: int = 4) -> list[dict[str, Any]]:
    """Train ``agent`` with ``seed`` (resuming from its checkpoint in the run folder), then
    score it through ``rollout`` on the baselines' episodes. ``tag`` names the sweep point in
    the checkpoint's file name; the ``method`` of the rows is ``agent`` (``<agent>_no_irs``
    with ``phases="off"``) and ``<method>:eval``."""
    trainer, make = _trainer(cfg, scenario, agent, seed, phases=phases, update=update,
                             workers=workers)
    method = agent + ("_no_irs" if phases == "off" else "")
    try:
        history = _train(trainer, ctx, f"{tag}{method}_seed{seed}")
        rows = [{"method": method, "seed": int(seed),
                 **{k: r[k] for k in _TRAIN_COLUMNS if k in r}} for r in history]
        scored = rollout(make, trainer, cfg.episodes, int(seed), method=f"{method}:eval",
                         batch_size=cfg.batch_size)
    finally:
        trainer.close()
    for r in rows + scored:
        r.update(extra or {})
    return rows + scored


def episodes_to_converge(values: list[float], *, tol: float = 0.05, ema: float = 0.9,
                         tail: float = 0.1) -> int | None:
    """The first episode from which the moving average ``m <- ema m + (1 - ema) v`` of a
    training curve stays within ``tol`` (relative) of its final level, the mean of the last
    ``tail`` fraction of the episodes; ``len(values)`` when the average is still outside the
    band at the last episode (not converged within the run); ``None`` for an empty curve.

    Examples
    --------
    >>> episodes_to_converge([0.0] * 10 + [1.0] * 90)
    38
    """
    if not values:
        return None
    n_tail = max(1, int(len(values) * tail))
    final = sum(values[-n_tail:]) / n_tail
    band = tol * abs(final)
    m: float | None = None
    last_out = -1
    for i, v in enumerate(values):
        m = v if m is None else ema * m + (1.0 - ema) * v
        if abs(m - final) > band:
            last_out = i
    return last_out + 1


def _agent_summary(rows: list[dict[str, Any]], method: str, ell: float, prefix: str = ""
                   ) -> dict[str, Any]:
    """Means over the last 10 % of the training episodes of ``method`` (over seeds), the
    violation rate of L_r ≤ ℓ there, the episodes to converge (sum rate and L_r curves, mean
    over seeds) and the scored capacity."""
    train = [r for r in rows if r["method"] == method]
    out: dict[str, Any] = {}
    if not train:
        return out
    n = max(int(r["episode"]) for r in train) + 1
    last = [r for r in train if int(r["episode"]) >= n - max(1, n // 10)]
    p = f"{prefix}{method}_"
    for col, name in (("sum_rate", "final_sum_rate"), ("beampattern_mse", "final_beampattern_mse"),
                      ("reward", "final_reward"), ("lambda", "final_lambda"),
                      ("mu", "final_mu"), ("lambda_avg", "final_lambda_avg"),
                      ("mu_avg", "final_mu_avg")):
        vals = [float(r[col]) for r in last if col in r]
        if vals:
            out[p + name] = sum(vals) / len(vals)
    out[p + "final_violation_rate"] = sum(
        float(r["beampattern_mse"]) > ell for r in last) / len(last)
    for col in ("sum_rate", "beampattern_mse", "reward"):
        eps = []
        for seed in sorted({r["seed"] for r in train}):
            curve = [float(r[col]) for r in sorted(
                (r for r in train if r["seed"] == seed), key=lambda r: int(r["episode"]))]
            e = episodes_to_converge(curve)
            if e is not None:
                eps.append(e)
        out[p + f"episodes_to_converge_{col}"] = (sum(eps) / len(eps)) if eps else None
    scored = [float(r["sum_rate"]) for r in rows if r["method"] == f"{method}:eval"]
    if scored:
        out[p + "eval_sum_rate"] = sum(scored) / len(scored)
        mse = [float(r["beampattern_mse"]) for r in rows if r["method"] == f"{method}:eval"]
        out[p + "eval_beampattern_mse"] = sum(mse) / len(mse)
    return out


def _ratio_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    with_irs = [float(r["cascade_direct_ratio"]) for r in rows
                if not str(r["method"]).split(":")[0].endswith("_no_irs")
                and "cascade_direct_ratio" in r]
    return {"cascade_direct_ratio_mean": (sum(with_irs) / len(with_irs)) if with_irs
            else float("nan"),
            "cascade_direct_ratio_note": "||H2^H V H1||_F^2 / ||H0^H||_F^2, mean over the "
                                         "rows with the IRS (V^0 for the baselines, the "
                                         "agents' phases for theirs; spec §2)",
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
        summary.update(_agent_summary(rows, agent, scenario.ell))
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

    def point_scenario(k: int, p_dbm: float) -> tuple[IrsIsacConfig, dict[str, Any]]:
        p_w = 10.0 ** (p_dbm / 10.0) * 1e-3
        extra = {"num_users": int(k), "p_max_dbm": float(p_dbm), "p_max": p_w}
        return cfg.scenario(p_max_w=p_w, num_users=int(k)), extra

    def run(point: tuple[int, float, str, int]) -> list[dict[str, Any]]:
        k, p_dbm, method, seed = point
        scenario, extra = point_scenario(k, p_dbm)
        return _score(cfg, scenario, method, seed, extra)

    def run_agent(point: tuple[int, float, str, int]) -> list[dict[str, Any]]:
        k, p_dbm, agent, seed = point
        scenario, extra = point_scenario(k, p_dbm)
        return _agent_rows(cfg, ctx, scenario, agent, seed, tag=f"K{k}_p{p_dbm:g}_",
                           extra=extra)

    sweep(ctx, points, key=lambda p: f"K={p[0]},p_max_dbm={p[1]:g},method={p[2]},seed={p[3]}",
          run_point=run, desc="power")
    sweep(ctx, [(k, p, a, s) for k in cfg.users for p in cfg.p_max_dbm for a in cfg.agents
                for s in cfg.seeds],
          key=lambda p: f"K={p[0]},p_max_dbm={p[1]:g},agent={p[2]},seed={p[3]}",
          run_point=run_agent, desc="power agents")
    rows = ctx.rows()
    summary: dict[str, Any] = {}
    for k in cfg.users:
        for m in [*cfg.methods, *(f"{a}:eval" for a in cfg.agents),
                  *(f"{a}" for a in cfg.agents)]:
            curve = []
            for p in cfg.p_max_dbm:
                sel = [float(r["sum_rate"]) for r in rows if r["num_users"] == k
                       and r["method"] == m and float(r["p_max_dbm"]) == float(p)
                       and (":" in m or m in cfg.methods or _in_last_tenth(r, cfg))]
                curve.append(sum(sel) / len(sel) if sel else float("nan"))
            name = m.replace(":eval", "_eval") if ":" in m else (
                m if m in cfg.methods else f"{m}_final")
            summary[f"sum_rate_K{k}_{name}"] = curve
            summary[f"increasing_K{k}_{name}"] = all(b >= a for a, b in zip(curve, curve[1:]))
            summary[f"concave_K{k}_{name}"] = all(
                c - b <= b - a for a, b, c in zip(curve, curve[1:], curve[2:]))
    summary["p_max_dbm"] = list(cfg.p_max_dbm)
    summary["note"] = ("<agent>_final: training sum rate over the last 10 % of the episodes; "
                       "<agent>_eval: the trained policy scored on the baselines' episodes")
    summary.update(_ratio_summary(rows))
    return summary


def _in_last_tenth(row: dict[str, Any], cfg: Common) -> bool:
    n = cfg.train_episodes
    return int(row["episode"]) >= n - max(1, n // 10)


# --------------------------------------------------------------------------------------------
# beampattern (Fig. 6)


@dataclass
class BeampatternConfig(Common):
    """Fig. 6: the transmit beampattern P(ψ) of each method and of each trained agent's
    deterministic policy (``agents``), averaged over the first step of ``episodes`` seeded
    episodes, with the desired pattern d(ψ) of (17)."""

    grid_step_deg: float = 0.5
    """Angle step of the rows, degrees (must divide 90; the metric itself uses 0.1°)."""


def _peaks(pattern: torch.Tensor, grid_deg: torch.Tensor, count: int = 3) -> list[float]:
    """Angles (deg) of the ``count`` largest local maxima of a pattern ``[G]``."""
    p = pattern
    inner = (p[1:-1] >= p[:-2]) & (p[1:-1] >= p[2:])
    idx = torch.nonzero(inner).squeeze(1) + 1
    order = torch.argsort(p[idx], descending=True)[:count]
    return sorted(float(grid_deg[i]) for i in idx[order])


def _pattern_setup(scenario: IrsIsacConfig, step_deg: float
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The angle grid (rad), the same in degrees, and the desired pattern d(ψ) of (17)."""
    grid = angle_grid(step_deg, dtype=torch.float64)
    targets = torch.deg2rad(torch.tensor(scenario.target_angles_deg, dtype=torch.float64))
    desired = desired_pattern(grid, targets, math.radians(scenario.beam_width_deg),
                              height=scenario.pattern_height)
    return grid, torch.rad2deg(grid), desired


def _pattern_rows(method: str, seed: int, pattern: torch.Tensor, grid_deg: torch.Tensor,
                  desired: torch.Tensor) -> list[dict[str, Any]]:
    """Rows of a mean pattern ``[G]`` (MISO) or ``[K, G]`` (MIMO; one ``user`` per row),
    marked ``kind = "pattern"`` (the agents' training rows of the same run are not)."""
    users = [None] if pattern.ndim == 1 else list(range(pattern.shape[0]))
    rows: list[dict[str, Any]] = []
    for k in users:
        values = pattern if k is None else pattern[k]
        rows += [{"method": method, "kind": "pattern", "seed": int(seed),
                  **({} if k is None else {"user": k}), "angle_deg": float(a),
                  "pattern": float(v), "desired": float(d)}
                 for a, v, d in zip(grid_deg.tolist(), values.tolist(), desired.tolist(),
                                    strict=True)]
    return rows


def _agent_pattern_rows(cfg: Common, ctx: RunContext, scenario: IrsIsacConfig, agent: str,
                        seed: int, grid: torch.Tensor, grid_deg: torch.Tensor,
                        desired: torch.Tensor, *, workers: int = 4) -> list[dict[str, Any]]:
    """Train ``agent`` (resuming), then the rows of its training curve (``method = agent``)
    and of the beampattern of its deterministic W at the first step of ``cfg.episodes``
    seeded episodes (``observation="user"``: at step ``K``, the first with every column set by
    the agent), averaged over them (``method = <agent>:pattern``)."""
    trainer, make = _trainer(cfg, scenario, agent, seed, workers=workers)
    try:
        history = _train(trainer, ctx, f"{agent}_seed{seed}")
        core = make(cfg.episodes)
        obs, _ = core.reset(generator=make_generator(int(seed), core.device))
        for _ in range(scenario.num_users - 1 if getattr(core, "per_user", False) else 0):
            obs = core.step(trainer(obs))[0]
        w = core.precoder(trainer(obs)["w"]).to(torch.complex128)  # [B, M, K] or [B, K, M, N]
    finally:
        trainer.close()
    pattern = paper_beampattern(w, grid.to(w.device)).mean(0).cpu()  # [G] or [K, G]
    rows: list[dict[str, Any]] = [
        {"method": agent, "seed": int(seed), **{k: r[k] for k in _TRAIN_COLUMNS if k in r}}
        for r in history]
    return rows + _pattern_rows(f"{agent}:pattern", seed, pattern, grid_deg, desired)


def _peak_summary(rows: list[dict[str, Any]], method: str, targets_deg: Sequence[float],
                  prefix: str, *, user: int | None = None) -> dict[str, Any]:
    """Peaks of the seed-mean pattern of ``method`` (``user`` for MIMO rows): their angles,
    the peak power and whether the three largest lie within 5° of the targets."""
    per_angle: dict[float, list[float]] = {}
    for r in rows:
        if r["method"] == method and (user is None or int(r["user"]) == user):
            per_angle.setdefault(float(r["angle_deg"]), []).append(float(r["pattern"]))
    if not per_angle:
        return {}
    angles = sorted(per_angle)
    mean = torch.tensor([sum(per_angle[a]) / len(per_angle[a]) for a in angles])
    peaks = _peaks(mean, torch.tensor(angles))
    return {f"{prefix}peaks_deg": peaks, f"{prefix}peak_power": float(mean.max()),
            f"{prefix}peaks_within_5deg_of_targets": len(peaks) == 3 and all(
                abs(p - t) <= 5.0 for p, t in zip(peaks, sorted(targets_deg), strict=True))}


def run_beampattern(cfg: BeampatternConfig, ctx: RunContext) -> dict[str, Any]:
    scenario = cfg.scenario()
    grid, grid_deg, desired = _pattern_setup(scenario, cfg.grid_step_deg)
    summary: dict[str, Any] = {}
    points = [(m, s) for m in cfg.methods for s in cfg.seeds]

    def run(point: tuple[str, int]) -> list[dict[str, Any]]:
        method, seed = point
        core = _env(scenario, method, cfg.device)(cfg.episodes)
        core.reset(generator=make_generator(int(seed), core.device))
        design = baseline_designers()[method].design(core.current_problem())
        pattern = paper_beampattern(design.w.to(torch.complex128), grid.to(core.device))
        return _pattern_rows(method, seed, pattern.mean(0).cpu(), grid_deg, desired)

    sweep(ctx, points, key=lambda p: f"method={p[0]},seed={p[1]}", run_point=run,
          desc="beampattern")
    sweep(ctx, [(a, s) for a in cfg.agents for s in cfg.seeds],
          key=lambda p: f"agent={p[0]},seed={p[1]}",
          run_point=lambda p: _agent_pattern_rows(cfg, ctx, scenario, p[0], p[1], grid,
                                                  grid_deg, desired),
          desc="beampattern agents")
    rows = ctx.rows()
    targets = scenario.target_angles_deg
    for m in cfg.methods:
        peaks = _peak_summary(rows, m, targets, f"{m}_")
        summary.update({k.replace(f"{m}_", "", 1) + f"_{m}": v for k, v in peaks.items()})
    for agent in cfg.agents:
        summary.update(_agent_summary(rows, agent, scenario.ell))
        summary.update(_peak_summary(rows, f"{agent}:pattern", targets, f"{agent}_"))
    return summary


# --------------------------------------------------------------------------------------------
# lr (Fig. 3)


@dataclass
class LrConfig(Common):
    """Fig. 3: PD-PPO's episode reward per episode for pairs of Adam learning rates (actor,
    critic); ``lr_actor[i]`` goes with ``lr_critic[i]``."""

    methods: tuple[str, ...] = ()
    """Baselines (none: Fig. 3 shows PD-PPO only)."""
    lr_actor: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5)
    """Actor learning rates."""
    lr_critic: tuple[float, ...] = (2e-2, 2e-3, 2e-4, 2e-5)
    """Critic learning rates (paired with ``lr_actor``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.lr_actor) != len(self.lr_critic) or not self.lr_actor:
            raise ConfigError("lr_actor and lr_critic must be non-empty and of equal length")
        if not all(v > 0 and math.isfinite(v) for v in (*self.lr_actor, *self.lr_critic)):
            raise ConfigError("learning rates must be positive and finite")


def run_lr(cfg: LrConfig, ctx: RunContext) -> dict[str, Any]:
    scenario = cfg.scenario()
    pairs = list(zip(cfg.lr_actor, cfg.lr_critic, strict=True))
    agents = cfg.agents or ("pd_ppo",)

    def run(point: tuple[float, float, str, int]) -> list[dict[str, Any]]:
        la, lc, agent, seed = point
        extra = {"lr_actor": float(la), "lr_critic": float(lc), "lr": f"{la:g}/{lc:g}"}
        return _agent_rows(cfg, ctx, scenario, agent, seed, tag=f"lr{la:g}_{lc:g}_",
                           extra=extra, update={"lr_actor": float(la), "lr_critic": float(lc)})

    sweep(ctx, [(la, lc, a, s) for la, lc in pairs for a in agents for s in cfg.seeds],
          key=lambda p: f"lr_actor={p[0]:g},lr_critic={p[1]:g},agent={p[2]},seed={p[3]}",
          run_point=run, desc="lr")
    rows = ctx.rows()
    summary: dict[str, Any] = {}
    for la, lc in pairs:
        sel = [r for r in rows if float(r["lr_actor"]) == la and float(r["lr_critic"]) == lc]
        for agent in agents:
            summary.update(_agent_summary(sel, agent, scenario.ell, prefix=f"lr{la:g}_{lc:g}_"))
    finals = {f"{la:g}/{lc:g}": summary.get(f"lr{la:g}_{lc:g}_{agents[0]}_final_reward")
              for la, lc in pairs}
    summary["final_reward_by_lr"] = finals
    known = {k: v for k, v in finals.items() if v is not None}
    summary["best_lr"] = max(known, key=lambda k: known[k]) if known else None
    summary.update(_ratio_summary(rows))
    return summary


# --------------------------------------------------------------------------------------------
# threshold (Fig. 7) and tradeoff (Fig. 8): sweeps over ℓ


@dataclass
class ThresholdConfig(Common):
    """Fig. 7: PD-PPO's beampattern error L_r per episode for thresholds ℓ."""

    ells: tuple[float, ...] = (1.0, 2.0, 3.0)
    """Thresholds ℓ of (18)."""
    methods: tuple[str, ...] = ()
    """Baselines scored at every ℓ (none by default: Figs. 7–8 show PD-PPO only)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.ells or not all(v > 0 and math.isfinite(v) for v in self.ells):
            raise ConfigError("ells must be non-empty, positive and finite")


@dataclass
class TradeoffConfig(ThresholdConfig):
    """Fig. 8: PD-PPO's capacity versus ℓ ∈ {2, …, 10}."""

    ells: tuple[float, ...] = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)
    """Thresholds ℓ of (18)."""


def _ell_sweep(cfg: ThresholdConfig, ctx: RunContext, desc: str) -> dict[str, Any]:
    agents = cfg.agents or ("pd_ppo",)

    def run_baseline(point: tuple[float, str, int]) -> list[dict[str, Any]]:
        ell, method, seed = point
        return _score(cfg, cfg.scenario(ell=float(ell)), method, seed, {"ell": float(ell)})

    def run_agent(point: tuple[float, str, int]) -> list[dict[str, Any]]:
        ell, agent, seed = point
        return _agent_rows(cfg, ctx, cfg.scenario(ell=float(ell)), agent, seed,
                           tag=f"ell{ell:g}_", extra={"ell": float(ell)})

    sweep(ctx, [(e, m, s) for e in cfg.ells for m in cfg.methods for s in cfg.seeds],
          key=lambda p: f"ell={p[0]:g},method={p[1]},seed={p[2]}", run_point=run_baseline,
          desc=desc)
    sweep(ctx, [(e, a, s) for e in cfg.ells for a in agents for s in cfg.seeds],
          key=lambda p: f"ell={p[0]:g},agent={p[1]},seed={p[2]}", run_point=run_agent,
          desc=f"{desc} agents")
    rows = ctx.rows()
    summary: dict[str, Any] = {"ells": list(cfg.ells)}
    for ell in cfg.ells:
        sel = [r for r in rows if float(r["ell"]) == float(ell)]
        for agent in agents:
            summary.update(_agent_summary(sel, agent, float(ell), prefix=f"ell{ell:g}_"))
    for agent in agents:
        for key in ("final_beampattern_mse", "final_sum_rate", "eval_sum_rate",
                    "eval_beampattern_mse", "final_violation_rate",
                    "episodes_to_converge_beampattern_mse", "final_mu"):
            summary[f"{agent}_{key}_by_ell"] = [summary.get(f"ell{e:g}_{agent}_{key}")
                                               for e in cfg.ells]
    summary.update(_ratio_summary(rows))
    return summary


def _monotone(values: list[Any], increasing: bool) -> bool | None:
    if any(v is None for v in values):
        return None
    pairs = zip(values, values[1:])
    return all((b >= a) if increasing else (b <= a) for a, b in pairs)


def run_threshold(cfg: ThresholdConfig, ctx: RunContext) -> dict[str, Any]:
    summary = _ell_sweep(cfg, ctx, "threshold")
    for agent in cfg.agents or ("pd_ppo",):
        summary[f"{agent}_lower_ell_lower_lr"] = _monotone(
            summary[f"{agent}_final_beampattern_mse_by_ell"], increasing=True)
    return summary


def run_tradeoff(cfg: TradeoffConfig, ctx: RunContext) -> dict[str, Any]:
    summary = _ell_sweep(cfg, ctx, "tradeoff")
    for agent in cfg.agents or ("pd_ppo",):
        for key in ("final_sum_rate", "eval_sum_rate"):
            summary[f"{agent}_{key}_nondecreasing_in_ell"] = _monotone(
                summary[f"{agent}_{key}_by_ell"], increasing=True)
    return summary


# --------------------------------------------------------------------------------------------
# irs_size (Fig. 9)


@dataclass
class IrsSizeConfig(Common):
    """Fig. 9: capacity versus the number N of IRS elements (chosen {4, 16, 36, 64, 100}),
    agents with the IRS phases in the action and without the IRS (``phases="off"``), and the
    baselines with V^0 and without IRS."""

    elements: tuple[int, ...] = (4, 16, 36, 64, 100)
    """Numbers of IRS elements (squares: a √N × √N array)."""
    methods: tuple[str, ...] = ("mrt", "wmmse", "mrt_no_irs", "wmmse_no_irs")
    """Baselines."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.elements or not all(int(n) >= 1 for n in self.elements):
            raise ConfigError("elements must be non-empty positive integers")


def run_irs_size(cfg: IrsSizeConfig, ctx: RunContext) -> dict[str, Any]:
    agents = cfg.agents or ("pd_ppo",)

    def run_baseline(point: tuple[int, str, int]) -> list[dict[str, Any]]:
        n, method, seed = point
        return _score(cfg, cfg.scenario(num_irs_elements=int(n)), method, seed,
                      {"num_irs_elements": int(n)})

    def run_agent(point: tuple[int, str, bool, int]) -> list[dict[str, Any]]:
        n, agent, with_irs, seed = point
        return _agent_rows(cfg, ctx, cfg.scenario(num_irs_elements=int(n)), agent, seed,
                           tag=f"N{n}_", phases="action" if with_irs else "off",
                           extra={"num_irs_elements": int(n)})

    sweep(ctx, [(n, m, s) for n in cfg.elements for m in cfg.methods for s in cfg.seeds],
          key=lambda p: f"N={p[0]},method={p[1]},seed={p[2]}", run_point=run_baseline,
          desc="irs_size")
    sweep(ctx, [(n, a, w, s) for n in cfg.elements for a in agents for w in (True, False)
                for s in cfg.seeds],
          key=lambda p: f"N={p[0]},agent={p[1]}{'' if p[2] else '_no_irs'},seed={p[3]}",
          run_point=run_agent, desc="irs_size agents")
    rows = ctx.rows()
    summary: dict[str, Any] = {"elements": list(cfg.elements)}
    names = [*cfg.methods, *(f"{a}{x}:eval" for a in agents for x in ("", "_no_irs"))]
    for m in names:
        curve = []
        for n in cfg.elements:
            sel = [float(r["sum_rate"]) for r in rows if r["method"] == m
                   and int(r["num_irs_elements"]) == int(n)]
            curve.append(sum(sel) / len(sel) if sel else None)
        key = m.replace(":eval", "_eval")
        summary[f"sum_rate_by_N_{key}"] = curve
        summary[f"increasing_in_N_{key}"] = _monotone(curve, increasing=True)
    for n in cfg.elements:
        at_n = [r for r in rows if int(r["num_irs_elements"]) == int(n)]
        for a in agents:
            for x in ("", "_no_irs"):
                summary.update(_agent_summary(at_n, a + x, cfg.scenario().ell,
                                              prefix=f"N{n}_"))
        ratio = [float(r["cascade_direct_ratio"]) for r in at_n
                 if r["method"] in cfg.methods and not r["method"].endswith("_no_irs")]
        summary[f"N{n}_cascade_direct_ratio_mean"] = (sum(ratio) / len(ratio)) if ratio \
            else None
    summary.update(_ratio_summary(rows))
    return summary


# --------------------------------------------------------------------------------------------
# MIMO: mimo_reward (Fig. 10), mimo_capacity (Fig. 11), mimo_beampattern (Fig. 12)


@dataclass
class MimoConfig(Common):
    """Figs. 10–11 (MIMO, K = 4 users with N = 4 antennas): primal-dual DPPO with ``workers``
    workers and A3C, their reward and capacity per episode, and the matrix WMMSE baseline
    scored on the same episodes."""

    methods: tuple[str, ...] = ("wmmse_mimo",)
    """Baselines (:func:`mimo_designers`)."""
    agents: tuple[str, ...] = MIMO_AGENTS
    """Agents: ``pd_dppo``, ``a3c``."""
    workers: int = 4
    """Workers of DPPO and A3C (the paper: one per user, K = 4)."""

    mimo: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, at_least_1=("workers",))


def _run_mimo(cfg: MimoConfig, ctx: RunContext, desc: str) -> dict[str, Any]:
    scenario = cfg.scenario()
    sweep(ctx, [(m, s) for m in cfg.methods for s in cfg.seeds],
          key=lambda p: f"method={p[0]},seed={p[1]}",
          run_point=lambda p: _score(cfg, scenario, p[0], p[1]), desc=desc)
    sweep(ctx, [(a, s) for a in cfg.agents for s in cfg.seeds],
          key=lambda p: f"agent={p[0]},seed={p[1]}",
          run_point=lambda p: _agent_rows(cfg, ctx, scenario, p[0], p[1],
                                          workers=cfg.workers), desc=f"{desc} agents")
    rows = ctx.rows()
    summary: dict[str, Any] = {"by_method": summarize(
        rows, ["sum_rate", "reward", "beampattern_mse", "power"])}
    for agent in cfg.agents:
        summary.update(_agent_summary(rows, agent, scenario.ell))
        # spread over seeds of the last 10 % (Fig. 11: "lower variance")
        train = [r for r in rows if r["method"] == agent and _in_last_tenth(r, cfg)]
        if train:
            v = torch.tensor([float(r["sum_rate"]) for r in train], dtype=torch.float64)
            summary[f"{agent}_final_sum_rate_std"] = float(v.std()) if v.numel() > 1 else 0.0
    for m in cfg.methods:
        sel = [float(r["reward"]) for r in rows if r["method"] == m]
        if sel:
            summary[f"{m}_episode_reward"] = sum(sel) / len(sel)
    summary.update(_ratio_summary(rows))
    return summary


def run_mimo_reward(cfg: MimoConfig, ctx: RunContext) -> dict[str, Any]:
    summary = _run_mimo(cfg, ctx, "mimo_reward")
    evals = {m: summary.get(f"{m}_eval_sum_rate") for m in cfg.agents}
    summary["note"] = ("rewards of the ':eval' and baseline rows are at λ = 1, μ = 0 (the "
                       "summed sum rate); training rows carry the Lagrangian reward")
    if "pd_dppo" in evals and "a3c" in evals and None not in (evals["pd_dppo"], evals["a3c"]):
        summary["dppo_eval_ge_a3c"] = bool(evals["pd_dppo"] >= evals["a3c"])  # type: ignore
    wm = [float(r["sum_rate"]) for r in ctx.rows() if r["method"] == "wmmse_mimo"]
    if wm and evals.get("pd_dppo") is not None:
        summary["dppo_eval_ge_wmmse"] = bool(evals["pd_dppo"] >= sum(wm) / len(wm))  # type: ignore
    return summary


def run_mimo_capacity(cfg: MimoConfig, ctx: RunContext) -> dict[str, Any]:
    return _run_mimo(cfg, ctx, "mimo_capacity")


@dataclass
class MimoBeampatternConfig(MimoConfig):
    """Fig. 12: each user's transmit beampattern P_k(ψ) of the trained DPPO policy, averaged
    over the first step of ``episodes`` seeded episodes, with the desired pattern d(ψ)."""

    methods: tuple[str, ...] = ()
    """Baselines (none by default)."""
    agents: tuple[str, ...] = ("pd_dppo",)
    """Agents whose patterns are drawn."""
    grid_step_deg: float = 0.5
    """Angle step of the rows, degrees."""


def run_mimo_beampattern(cfg: MimoBeampatternConfig, ctx: RunContext) -> dict[str, Any]:
    scenario = cfg.scenario()
    grid, grid_deg, desired = _pattern_setup(scenario, cfg.grid_step_deg)
    sweep(ctx, [(a, s) for a in cfg.agents for s in cfg.seeds],
          key=lambda p: f"agent={p[0]},seed={p[1]}",
          run_point=lambda p: _agent_pattern_rows(cfg, ctx, scenario, p[0], p[1], grid,
                                                  grid_deg, desired, workers=cfg.workers),
          desc="mimo_beampattern")
    rows = ctx.rows()
    summary: dict[str, Any] = {}
    for agent in cfg.agents:
        summary.update(_agent_summary(rows, agent, scenario.ell))
        for k in range(scenario.num_users):
            summary.update(_peak_summary(rows, f"{agent}:pattern", scenario.target_angles_deg,
                                         f"{agent}_user{k}_", user=k))
    return summary


_QUICK = {"seeds": (0, 1), "episodes": 20, "batch_size": 20}
_AGENTS = ("pd_ppo", "pd_a2c")
_QUICK_AGENT = {"agents": ("pd_ppo",), "train_episodes": 20, "train_batch": 5}
_QUICK_TRAIN = {"seeds": (0, 1), "episodes": 10, "batch_size": 10, "train_episodes": 40,
                "train_batch": 5}
_QUICK_MIMO = {"seeds": (0, 1), "episodes": 4, "batch_size": 4, "train_episodes": 16,
               "train_batch": 2}

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
                        "p_max_dbm": (20.0, 30.0, 40.0), **_QUICK_AGENT},
              "paper": {"agents": ("pd_ppo",)}},
    description="Fig. 5: capacity vs P_max for K = 2, 3, 4 (PD-PPO and the baselines)",
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
    profiles={"quick": {**_QUICK, **_QUICK_AGENT, "episodes": 20},
              "paper": {"grid_step_deg": 0.1, "agents": ("pd_ppo",)}},
    description="Fig. 6: transmit beampattern P(ψ) of the baselines and the trained PD-PPO "
                "policy, with the desired pattern",
    plots=[PlotSpec(filename="beampattern.png", x="angle_deg", y=["pattern"],
                    where={"kind": "pattern"}, xlabel="angle (deg)", ylabels=["P(ψ) (W)"],
                    title="liu_irs_ppo Fig. 6")],
    table_columns=["method", "angle_deg", "pattern", "desired"],
    table_where={"kind": "pattern"},
    table_group=["method", "angle_deg"],
    table_filter=lambda r: float(r["angle_deg"]) in (-40.0, 0.0, 40.0),
))


register(ExperimentSpec(
    name="liu_irs_ppo.lr",
    fn=run_lr,
    config_cls=LrConfig,
    profiles={"quick": {**_QUICK_TRAIN, "lr_actor": (1e-2, 1e-3, 1e-5),
                        "lr_critic": (2e-2, 2e-3, 2e-5)},
              "paper": {}},
    description="Fig. 3: PD-PPO's episode reward per episode for (actor, critic) learning "
                "rates",
    plots=[PlotSpec(filename="lr.png", x="episode", y=["reward"], group="lr",
                    where={"method": "pd_ppo"}, xlabel="episode", ylabels=["episode reward"],
                    title="liu_irs_ppo Fig. 3")],
    table_columns=["lr", "method", "sum_rate", "reward", "beampattern_mse", "lambda", "mu"],
    table_group=["lr", "method"],
))

register(ExperimentSpec(
    name="liu_irs_ppo.threshold",
    fn=run_threshold,
    config_cls=ThresholdConfig,
    profiles={"quick": dict(_QUICK_TRAIN), "paper": {}},
    description="Fig. 7: PD-PPO's beampattern error L_r per episode for ℓ = 1, 2, 3",
    plots=[PlotSpec(filename="threshold.png", x="episode", y=["beampattern_mse"], group="ell",
                    where={"method": "pd_ppo"}, xlabel="episode", ylabels=["L_r"],
                    title="liu_irs_ppo Fig. 7")],
    table_columns=["ell", "method", "sum_rate", "beampattern_mse", "lambda", "mu"],
    table_group=["ell", "method"],
))

register(ExperimentSpec(
    name="liu_irs_ppo.tradeoff",
    fn=run_tradeoff,
    config_cls=TradeoffConfig,
    profiles={"quick": {**_QUICK_TRAIN, "ells": (2.0, 6.0, 10.0)}, "paper": {}},
    description="Fig. 8: PD-PPO's capacity versus ℓ = 2, ..., 10",
    plots=[PlotSpec(filename="tradeoff.png", x="ell", y=["sum_rate"],
                    where={"method": "pd_ppo:eval"}, xlabel="ℓ",
                    ylabels=["capacity (bit/s/Hz)"], title="liu_irs_ppo Fig. 8")],
    table_columns=["ell", "method", "sum_rate", "beampattern_mse", "mu"],
    table_group=["ell", "method"],
))

register(ExperimentSpec(
    name="liu_irs_ppo.irs_size",
    fn=run_irs_size,
    config_cls=IrsSizeConfig,
    profiles={"quick": {**_QUICK_TRAIN, "train_episodes": 20, "elements": (4, 16, 36),
                        "methods": ("mrt", "mrt_no_irs")},
              "paper": {}},
    description="Fig. 9: capacity versus the number of IRS elements, PD-PPO with and without "
                "IRS, MRT/WMMSE with V^0 and without IRS",
    plots=[PlotSpec(filename="irs_size.png", x="num_irs_elements", y=["sum_rate"],
                    where={}, xlabel="IRS elements N", ylabels=["capacity (bit/s/Hz)"],
                    title="liu_irs_ppo Fig. 9")],
    table_columns=["num_irs_elements", "method", "sum_rate", "beampattern_mse",
                   "cascade_direct_ratio"],
    table_group=["num_irs_elements", "method"],
    table_filter=lambda r: ":" in str(r["method"]) or "pd_" not in str(r["method"]),
))

register(ExperimentSpec(
    name="liu_irs_ppo.mimo_reward",
    fn=run_mimo_reward,
    config_cls=MimoConfig,
    profiles={"quick": dict(_QUICK_MIMO), "paper": {}},
    description="Fig. 10 (MIMO): episode reward of primal-dual DPPO (K workers), A3C and "
                "the matrix WMMSE",
    plots=[PlotSpec(filename="mimo_reward.png", x="episode", y=["reward"],
                    xlabel="episode", ylabels=["episode reward"],
                    title="liu_irs_ppo Fig. 10")],
    table_columns=["method", "reward", "sum_rate", "beampattern_mse", "lambda", "mu"],
    table_group=["method"],
))

register(ExperimentSpec(
    name="liu_irs_ppo.mimo_capacity",
    fn=run_mimo_capacity,
    config_cls=MimoConfig,
    profiles={"quick": {**_QUICK_MIMO, "methods": ()}, "paper": {"methods": ()}},
    description="Fig. 11 (MIMO): capacity per episode of primal-dual DPPO and A3C",
    plots=[PlotSpec(filename="mimo_capacity.png", x="episode", y=["sum_rate"],
                    xlabel="episode", ylabels=["capacity (bit/s/Hz)"],
                    title="liu_irs_ppo Fig. 11")],
    table_columns=["method", "sum_rate", "reward", "beampattern_mse"],
    table_group=["method"],
))

register(ExperimentSpec(
    name="liu_irs_ppo.mimo_beampattern",
    fn=run_mimo_beampattern,
    config_cls=MimoBeampatternConfig,
    profiles={"quick": {**_QUICK_MIMO, "grid_step_deg": 1.0}, "paper": {"grid_step_deg": 0.1}},
    description="Fig. 12 (MIMO): each user's beampattern P_k(ψ) of the trained DPPO policy",
    plots=[PlotSpec(filename="mimo_beampattern.png", x="angle_deg", y=["pattern"],
                    group="user", where={"method": "pd_dppo:pattern"}, xlabel="angle (deg)",
                    ylabels=["P_k(ψ) (W)"], title="liu_irs_ppo Fig. 12")],
    table_columns=["method", "user", "angle_deg", "pattern", "desired"],
    table_group=["method", "user", "angle_deg"],
    table_filter=lambda r: str(r["method"]).endswith(":pattern")
    and float(r["angle_deg"]) in (-40.0, 0.0, 40.0),
))
