r"""The experiments of yang_som (spec §5) for the non-learned methods, structured so that the
learned ones join through one method table.

``snr`` (Fig. 7), ``weight`` (Figs. 8/11), ``users`` (Figs. 9/12), ``speed`` (Figs. 10/13),
``tradeoff`` (Fig. 14, with the ``ideal`` and ``orthogonal`` boundaries) and ``runtime``
(Fig. 15). (``convergence``, Fig. 6, is the training experiment of the learned methods and is
registered elsewhere.)

Every method is scored on the same held-out frames (seed ``seed``, ``frames`` of them, ``T``
subframes each): classical designers through
:func:`~isaclearn.systems.yang_som.designers.rollout_designer`, learned policies through
:func:`isaclearn.rl.rollout.rollout` on a :class:`~isaclearn.rl.envs.yang_som.YangSomCore` of
the same configuration (same seed and batch size → the same frames). One sweep point × method is
one resumable key (``toolkit.sweep``); its row (:func:`~isaclearn.systems.yang_som.evaluation.
aggregate`) has ``method``, the sweep coordinate, ``frames``, ``se`` (bit/s/Hz, (8)),
``se_per_hz``, ``crlb_db`` (dB rad², (11)), ``reward`` (the frame's return
:math:`\sum_n r^{(n)}`, (38)), ``reward_rate``, ``reward_sense``, each with a 95 % half-width
``<col>_ci`` over frames, ``seconds_per_frame`` and ``note`` (e.g. Opt's reuse).

Learned methods
---------------
:func:`method_table` builds ``{name: designer}`` for a sweep point from the classical
designers, an ``extra_designers`` mapping passed by the caller, and the learned methods of
:mod:`isaclearn.systems.yang_som.learned` for the other names (``drl_uu``, ``drl_au``,
``drl_pc``, ``drl_po``, ``drl_co``, ``ac``, ``dqn``). A learned method is trained first if its
finished checkpoint is not there (:func:`~isaclearn.systems.yang_som.learned.train_sweep`, on
Ray with ``workers > 0``; a killed training resumes from its last checkpoint), under
``<out>/agents/<point>/``: at every sweep point with ``retrain_per_point`` (spec reading 16,
the ``paper`` profile), else once at the run config's own point (``agents/default``, the
``quick`` profile) and then evaluated at every point. It acts greedily on the point's
held-out frames through :func:`isaclearn.rl.rollout.rollout` on a
:class:`~isaclearn.rl.envs.yang_som.YangSomCore` of the point's configuration with its own
action scheme (``env_overrides``) and view (``wrap_core``: DQN's codeword actions).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from isaclearn.core.errors import ConfigError
from isaclearn.rl.envs.yang_som import YangSomConfig, YangSomCore
from isaclearn.rl.rollout import rollout
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext, check_fields, register
from isaclearn.systems.toolkit import sweep, threads
from isaclearn.systems.yang_som import learned
from isaclearn.systems.yang_som.config import QUICK_SIZES, YangSomRunConfig
from isaclearn.systems.yang_som.convergence import ConvergenceConfig, convergence_experiment
from isaclearn.systems.yang_som.designers import (
    CLASSICAL_METHODS,
    OptDesigner,
    classical_designers,
    frame_rows_from_rollout,
    rollout_designer,
)
from isaclearn.systems.yang_som.evaluation import aggregate

__all__ = ["LEARNED_METHODS", "SnrConfig", "SpeedConfig", "TradeoffConfig", "UsersConfig",
           "RuntimeConfig", "WeightConfig", "learned_table", "method_table", "run_runtime",
           "run_snr", "run_speed", "run_tradeoff", "run_users", "run_weight", "score_point",
           "table_flops"]

LEARNED_METHODS = tuple(learned.METHODS)
"""Names of the learned methods (:data:`isaclearn.systems.yang_som.learned.METHODS`)."""


def _slug(changes: Mapping[str, Any]) -> str:
    text = "_".join(f"{k}{v}" for k, v in sorted(changes.items()))
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", text) or "default"


def learned_table(cfg: YangSomRunConfig, changes: Mapping[str, Any], out_dir: Path | None,
                  methods: Sequence[str], *, log: Callable[[str], None] | None = None
                  ) -> dict[str, Any]:
    """The learned ``methods`` for the sweep point ``changes`` (module docstring): trained
    under ``out_dir/agents/<point>`` unless finished there, then loaded as rollout policies.

    Raises
    ------
    ConfigError
        No ``out_dir`` to keep the agents in, or an unknown method.
    CheckpointError
        A checkpoint there is from another configuration.
    """
    if not methods:
        return {}
    if out_dir is None and not cfg.agents_dir:
        raise ConfigError(f"learned methods {list(methods)} need a run folder for their agents")
    point = dict(changes) if cfg.retrain_per_point else {}
    train_kwargs = cfg.env_kwargs(**point)
    root = Path(cfg.agents_dir) if cfg.agents_dir else Path(str(out_dir)) / "agents"
    agents = root / _slug(point)
    jobs = [learned.LearnJob(method=m, env_kwargs=train_kwargs, seed=int(cfg.train_seed),
                             episodes=int(cfg.train_episodes), out_dir=str(agents),
                             batch_size=int(cfg.train_batch), exact_resume=False,
                             checkpoint_every=5)
            for m in methods]
    learned.train_sweep(jobs, workers=int(cfg.workers), log=log)
    return dict(learned.learned_designers(agents, train_kwargs, tuple(methods),
                                          int(cfg.train_seed)))


def method_table(cfg: YangSomRunConfig, changes: Mapping[str, Any], out_dir: Path | None, *,
                 methods: Sequence[str] | None = None,
                 extra_designers: Mapping[str, Any] | None = None,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``{name: designer}`` of ``methods`` (default ``cfg.methods``) at the sweep point
    ``changes``, in that order: the classical designers
    (:func:`~isaclearn.systems.yang_som.designers.classical_designers`), then
    ``extra_designers``, then the learned methods (:func:`learned_table`).

    Raises
    ------
    ConfigError
        A method that none of them provides.
    """
    names = tuple(cfg.methods if methods is None else methods)
    table: dict[str, Any] = classical_designers(
        [m for m in names if m in CLASSICAL_METHODS], **cfg.designer_options())
    table.update({k: v for k, v in (extra_designers or {}).items() if k in names})
    rest = tuple(m for m in names if m not in table)
    unknown = [m for m in rest if m not in LEARNED_METHODS]
    if unknown:
        raise ConfigError(f"no designer for methods {unknown}; known: "
                          f"{sorted(_KNOWN)} and extra designers")
    table.update(learned_table(cfg, changes, out_dir, rest, log=log))
    return {m: table[m] for m in names}


def score_method(cfg: YangSomRunConfig, env: YangSomConfig, name: str, designer: Any
                 ) -> list[dict[str, Any]]:
    """Frame rows of one method on the held-out frames of ``env``."""
    batch = min(cfg.batch_size, cfg.frames)
    if hasattr(designer, "design"):
        return rollout_designer(YangSomCore(batch, env), designer, cfg.frames, cfg.seed,
                                method=name)
    overrides = getattr(designer, "env_overrides", None) or {}
    core: Any = YangSomCore(batch, env, **dict(overrides))
    wrap = getattr(designer, "wrap_core", None)
    if wrap is not None:
        core = wrap(core)
    if hasattr(designer, "predict"):  # an SB3 model: timed with the env steps (upper bound)
        start = time.perf_counter()
        out = rollout(core, designer, cfg.frames, cfg.seed, method=name)
        seconds = (time.perf_counter() - start) / cfg.frames
    else:  # a policy: only its own calls are timed, as a designer's design calls are
        timed = learned.TimedPolicy(designer)
        out = rollout(core, timed, cfg.frames, cfg.seed, method=name)
        seconds = timed.seconds / cfg.frames
    rows = frame_rows_from_rollout(out)
    for r in rows:
        r["seconds_per_frame"] = seconds
    return rows


def score_point(cfg: YangSomRunConfig, ctx: RunContext, coords: Mapping[str, Any], *,
                changes: Mapping[str, Any] | None = None,
                extra_designers: Mapping[str, Any] | None = None,
                methods: Sequence[str] | None = None, prefix: str = "") -> None:
    """Score every method at one sweep point (``changes`` to the run config) and record one
    aggregated row per method under the key ``"<coords>|<method>"`` (resumable)."""
    env_kwargs = cfg.env_kwargs(**dict(changes or {}))
    env = YangSomConfig(**env_kwargs)
    names = tuple(cfg.methods if methods is None else methods)
    point = ",".join(f"{k}={v}" for k, v in coords.items())
    todo = [m for m in names if not ctx.is_done(f"{prefix}{point}|{m}")]
    if not todo:
        return
    table = method_table(cfg, dict(changes or {}), ctx.out_dir, methods=todo,
                         extra_designers=extra_designers, log=ctx.log)

    def run(method: str) -> list[dict[str, Any]]:
        frame_rows = score_method(cfg, env, method, table[method])
        return aggregate(frame_rows, dict(coords))

    sweep(ctx, todo, lambda m: f"{prefix}{point}|{m}", run, desc=f"{point}")


def _values(rows: Sequence[Mapping[str, Any]], method: str, x: str, y: str
            ) -> list[tuple[float, float]]:
    return sorted((float(r[x]), float(r[y])) for r in rows
                  if r.get("method") == method and x in r and y in r)


def _slope(points: Sequence[tuple[float, float]]) -> float:
    if len(points) < 2:
        return math.nan
    x = torch.tensor([p[0] for p in points], dtype=torch.float64)
    y = torch.tensor([p[1] for p in points], dtype=torch.float64)
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / xc.square().sum())


def _fmt(points: Sequence[tuple[float, float]]) -> str:
    return ", ".join(f"{x:g}: {y:.3g}" for x, y in points)


def _trend_claims(rows: Sequence[Mapping[str, Any]], x: str, methods: Sequence[str]
                  ) -> dict[str, str]:
    """Per method, the SE and CRLB values along ``x`` with their least-squares slopes."""
    out = {}
    for m in methods:
        se_pts, cr_pts = _values(rows, m, x, "se"), _values(rows, m, x, "crlb_db")
        if se_pts:
            out[f"{m}_se"] = f"slope {_slope(se_pts):.3g} per unit {x}; {_fmt(se_pts)}"
            out[f"{m}_crlb_db"] = f"slope {_slope(cr_pts):.3g} per unit {x}; {_fmt(cr_pts)}"
    return out


def _drl(methods: Sequence[str]) -> list[str]:
    return [m for m in methods if m in LEARNED_METHODS]


def _verdict(ok: bool) -> str:
    return "holds" if ok else "does not hold"


# --------------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------------

_KNOWN = set(CLASSICAL_METHODS) | set(LEARNED_METHODS)


def _check_methods(methods: Sequence[str]) -> None:
    bad = sorted(set(methods) - _KNOWN)
    if bad:
        raise ConfigError(f"methods {bad} are unknown; known: {sorted(_KNOWN)}")


@dataclass
class SnrConfig(YangSomRunConfig):
    """``snr`` (Fig. 7)."""

    snr_grid: tuple[float, ...] = (-10.0, -5.0, 0.0, 5.0, 10.0)
    """SNR points (dB)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_methods(self.methods)


@dataclass
class WeightConfig(YangSomRunConfig):
    """``weight`` (Figs. 8/11)."""

    weights: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    """ψ points."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_methods(self.methods)
        check_fields(self, unit_interval=("weights",))


@dataclass
class UsersConfig(YangSomRunConfig):
    """``users`` (Figs. 9/12)."""

    methods: tuple[str, ...] = ("drl_uu", "drl_au", "opt", "mp", "greedy", "dqn")
    """Methods (the paper adds the DQN baseline here)."""
    users_grid: tuple[int, ...] = (2, 4, 6, 8, 10, 12, 14, 16)
    """U points (each ≤ ``max_users``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_methods(self.methods)
        check_fields(self, at_least_1=("users_grid",))
        if max(self.users_grid) > self.max_users:
            raise ConfigError(f"users_grid {self.users_grid} exceeds max_users "
                              f"{self.max_users}")


@dataclass
class SpeedConfig(YangSomRunConfig):
    """``speed`` (Figs. 10/13)."""

    speeds: tuple[float, ...] = (10.0, 15.0, 20.0, 25.0, 30.0)
    """Fixed speeds (m/s)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_methods(self.methods)
        check_fields(self, positive=("speeds",))


@dataclass
class TradeoffConfig(YangSomRunConfig):
    """``tradeoff`` (Fig. 14)."""

    methods: tuple[str, ...] = ("drl_uu", "drl_au", "opt", "mp", "greedy", "ideal",
                                "orthogonal")
    """Methods, with the ``ideal`` and ``orthogonal`` boundaries."""
    weights: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    """ψ points of the trade-off curve."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_methods(self.methods)
        check_fields(self, unit_interval=("weights",))


@dataclass
class RuntimeConfig(YangSomRunConfig):
    """``runtime`` (Fig. 15)."""

    methods: tuple[str, ...] = ("drl_uu", "drl_au", "opt", "mp", "greedy", "omp")
    """Methods timed."""
    frames: int = 2
    """Frames timed."""
    batch_size: int = 1
    """Frames per batch (1: time per frame as the paper measures it)."""
    subframes: int = 10
    """T of the timed frames (times are per frame of ``T_paper = 100`` subframes, scaled)."""
    frame_subframes: int = 100
    """T of the paper's frame the times are scaled to."""
    opt_stride: int = 10
    """Opt solves every ``opt_stride`` subframes; its full-algorithm time (every subframe) is
    extrapolated from the measured solve time (``seconds_per_frame_full``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_methods(self.methods)
        check_fields(self, at_least_1=("frame_subframes",))


# --------------------------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------------------------


def _sweep_run(cfg: YangSomRunConfig, ctx: RunContext, column: str, values: Sequence[Any],
               change: str) -> list[dict[str, Any]]:
    with threads(cfg.num_threads):
        for v in values:
            score_point(cfg, ctx, {column: v}, changes={change: v})
    return ctx.rows()


def _common_claims(rows: Sequence[Mapping[str, Any]], x: str, methods: Sequence[str]
                   ) -> dict[str, Any]:
    claims: dict[str, Any] = dict(_trend_claims(rows, x, methods))
    drl = _drl(methods)
    if not drl:
        claims["drl_claims"] = "not yet measured (no learned method in this run)"
    return claims


def run_snr(cfg: SnrConfig, ctx: RunContext) -> dict[str, Any]:
    """Fig. 7: SE and CRLB vs SNR."""
    rows = _sweep_run(cfg, ctx, "snr_db", cfg.snr_grid, "snr_db")
    claims = _common_claims(rows, "snr_db", cfg.methods)
    for m in _drl(cfg.methods):
        if "opt" in cfg.methods:
            d = _values(rows, m, "snr_db", "crlb_db")
            o = dict(_values(rows, "opt", "snr_db", "crlb_db"))
            gaps = [(x, y - o[x]) for x, y in d if x in o]
            claims[f"{m}_crlb_below_opt_db"] = (
                f"{_verdict(all(g < 0 for _, g in gaps))}: {m} − opt CRLB (dB) {_fmt(gaps)} "
                "(paper: ≈ −2 dB)")
            s = _values(rows, m, "snr_db", "se")
            so = dict(_values(rows, "opt", "snr_db", "se"))
            ratio = [(x, 10 * math.log10(y / so[x])) for x, y in s if x in so and so[x] > 0]
            claims[f"{m}_se_above_opt"] = (
                f"{_verdict(all(r > 0 for _, r in ratio))}: 10 log10(SE {m} / SE opt) "
                f"{_fmt(ratio)} (paper: ≈ 2.5 dB horizontal gap)")
    return {"claims": claims}


def run_weight(cfg: WeightConfig, ctx: RunContext) -> dict[str, Any]:
    """Figs. 8/11: SE and CRLB vs ψ."""
    rows = _sweep_run(cfg, ctx, "weight", cfg.weights, "weight")
    claims = _common_claims(rows, "weight", cfg.methods)
    for m in cfg.methods:
        se_pts = _values(rows, m, "weight", "se")
        if m in LEARNED_METHODS and not cfg.retrain_per_point:
            claims[f"{m}_psi"] = (f"not measured: trained once at ψ = {cfg.weight:g} "
                                  "(retrain_per_point=False); the paper retrains per ψ")
            continue
        if len({y for _, y in se_pts}) <= 1:
            claims[f"{m}_psi"] = "ψ-independent by construction (does not use ψ)"
            continue
        se_s = _slope(se_pts)
        cr_s = _slope(_values(rows, m, "weight", "crlb_db"))
        claims[f"{m}_se_rises_with_psi"] = f"{_verdict(se_s > 0)}: slope {se_s:.3g}"
        claims[f"{m}_crlb_rises_with_psi"] = f"{_verdict(cr_s > 0)}: slope {cr_s:.3g} dB"
    return {"claims": claims}


def run_users(cfg: UsersConfig, ctx: RunContext) -> dict[str, Any]:
    """Figs. 9/12: SE and CRLB vs U."""
    rows = _sweep_run(cfg, ctx, "num_users", cfg.users_grid, "num_users")
    claims = _common_claims(rows, "num_users", cfg.methods)
    for m in cfg.methods:
        cr = _values(rows, m, "num_users", "crlb_db")
        se_pts = _values(rows, m, "num_users", "se")
        if len(cr) >= 2:
            claims[f"{m}_crlb_rises_with_U"] = f"{_verdict(_slope(cr) > 0)}: {_fmt(cr)}"
        if len(se_pts) >= 3:
            peak = max(range(len(se_pts)), key=lambda i: se_pts[i][1])
            interior = 0 < peak < len(se_pts) - 1
            claims[f"{m}_se_interior_peak"] = (f"{_verdict(interior)}: peak at U = "
                                               f"{se_pts[peak][0]:g}")
    se = {m: dict(_values(rows, m, "num_users", "se")) for m in cfg.methods}
    classical = [m for m in cfg.methods if m not in LEARNED_METHODS and m != "orthogonal"]
    for m in _drl(cfg.methods):
        if m == "dqn" or not classical:
            continue
        margins = [(u, v - max(se[c].get(u, -math.inf) for c in classical))
                   for u, v in sorted(se[m].items())]
        claims[f"{m}_best_at_every_U"] = (
            f"{_verdict(all(g > 0 for _, g in margins))}: SE {m} − best classical "
            f"{_fmt(margins)}")
    if "dqn" in se and len(se["dqn"]) >= 2:
        pts = sorted(se["dqn"].items())
        top = max(v for _, v in pts)
        drop = 1 - pts[-1][1] / top if top > 0 else math.nan
        claims["dqn_se_crashes_at_large_U"] = (
            f"{_verdict(drop > 0.5)}: SE at U = {pts[-1][0]:g} is {100 * drop:.1f} % below "
            f"its peak {top:.4g} ('crash' read as > 50 %)")
    if all(m in se and len(se[m]) >= 2 for m in ("drl_uu", "drl_au")):
        spread = {m: max(se[m].values()) - min(se[m].values()) for m in ("drl_uu", "drl_au")}
        claims["au_less_sensitive_to_U_than_uu"] = (
            f"{_verdict(spread['drl_au'] < spread['drl_uu'])}: SE range over U "
            f"AU {spread['drl_au']:.4g}, UU {spread['drl_uu']:.4g}")
    return {"claims": claims}


def run_speed(cfg: SpeedConfig, ctx: RunContext) -> dict[str, Any]:
    """Figs. 10/13: SE and CRLB vs speed."""
    rows = _sweep_run(cfg, ctx, "speed_mps", cfg.speeds, "speed_mps")
    claims = _common_claims(rows, "speed_mps", cfg.methods)
    if "mp" in cfg.methods:
        mp = _values(rows, "mp", "speed_mps", "se")
        if len(mp) >= 2:
            rel = (mp[-1][1] - mp[0][1]) / mp[0][1] if mp[0][1] else math.nan
            claims["mp_degrades_with_speed"] = (
                f"{_verdict(rel < 0)}: MP SE {mp[0][1]:.4g} → {mp[-1][1]:.4g} "
                f"({100 * rel:+.2f} %) from {mp[0][0]:g} to {mp[-1][0]:g} m/s (paper: "
                "'significantly')")
        for m in _drl(cfg.methods):
            d = _values(rows, m, "speed_mps", "se")
            if len(d) >= 2 and d[0][1] and mp[0][1]:
                slope_d, slope_mp = _slope(d) / d[0][1], _slope(mp) / mp[0][1]
                claims[f"{m}_degrades_less_than_mp"] = (
                    f"{_verdict(slope_d > slope_mp)}: relative SE slope {m} "
                    f"{100 * slope_d:+.3g} %/(m/s), mp {100 * slope_mp:+.3g} %/(m/s)")
    return {"claims": claims}


def run_tradeoff(cfg: TradeoffConfig, ctx: RunContext) -> dict[str, Any]:
    """Fig. 14: (CRLB, SE) points over ψ per method, with the boundaries."""
    rows = _sweep_run(cfg, ctx, "weight", cfg.weights, "weight")
    claims: dict[str, Any] = {}
    by: dict[str, dict[float, tuple[float, float]]] = {}
    for r in rows:
        by.setdefault(str(r["method"]), {})[float(r["weight"])] = (float(r["se"]),
                                                                   float(r["crlb_db"]))

    def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] >= b[0] and a[1] <= b[1]

    for m in by:
        for ref in ("orthogonal", "ideal"):
            if ref in by and m != ref:
                pts = [w for w in by[m] if w in by[ref]]
                n_dom = sum(dominates(by[m][w], by[ref][w]) for w in pts)
                claims[f"{m}_dominates_{ref}"] = (
                    f"{n_dom}/{len(pts)} ψ points with SE ≥ and CRLB ≤ the {ref} point")
    if not _drl(cfg.methods):
        claims["drl_closest_to_ideal"] = "not yet measured (no learned method in this run)"
    elif "ideal" in by:
        # distance to the ideal point at the same ψ: SE gap relative to the ideal SE plus the
        # CRLB gap in dB / 10 (one decade of CRLB weighs as much as the whole ideal SE)
        def gap(m: str) -> float:
            pts = [w for w in by[m] if w in by["ideal"]]
            return sum(math.hypot((by["ideal"][w][0] - by[m][w][0]) / by["ideal"][w][0],
                                  (by[m][w][1] - by["ideal"][w][1]) / 10.0)
                       for w in pts) / max(len(pts), 1)

        dist = {m: gap(m) for m in by if m not in ("ideal", "orthogonal")}
        best = min(dist, key=lambda m: dist[m])
        claims["drl_closest_to_ideal"] = (
            f"{_verdict(best in LEARNED_METHODS)}: mean distance to the ideal point "
            + ", ".join(f"{m} {v:.3g}" for m, v in sorted(dist.items(), key=lambda t: t[1])))
    return {"claims": claims}


def table_flops(method: str, *, m: int, k: int, s: int, n_iter: int, grid: int, taps: int,
                nx: int = 60, ny: int = 60) -> float:
    """Table IV's complexity orders per subframe, evaluated at the given sizes (no constants):
    Opt :math:`S(N_t^{3.5} + 2N_{iter}U^2N_t)` (ε term omitted), MP :math:`4UN_{iter} +
    U^2N_t`, Greedy :math:`S(U^4 + U^2)N_t`, OMP :math:`S N_t G U` (selection), DRL-UU/AU the
    encoder part :math:`U G_t N_d + N_xN_y` (kernel and width constants of the net omitted)
    plus :math:`N_t + S` (UU) / :math:`US` (AU)."""
    table = {
        "opt": s * (m ** 3.5 + 2 * n_iter * k * k * m),
        "mp": 4 * k * n_iter + k * k * m,
        "greedy": s * (k ** 4 + k ** 2) * m,
        "omp": s * (m ** 3.5 + 2 * n_iter * k * k * m) + s * m * grid * k,
        "drl_uu": k * grid * taps + nx * ny + m + s,
        "drl_au": k * grid * taps + nx * ny + k * s,
    }
    return float(table.get(method, math.nan))


def run_runtime(cfg: RuntimeConfig, ctx: RunContext) -> dict[str, Any]:
    """Fig. 15: design time per frame of each method (``T`` subframes), as ratios."""
    env_kwargs = cfg.env_kwargs()
    env = YangSomConfig(**env_kwargs)
    scale = cfg.frame_subframes / cfg.subframes

    def run(method: str) -> list[dict[str, Any]]:
        if method not in ("opt", "omp", "ideal"):  # warm-up (lazy imports, vmap tracing)
            warm = method_table(cfg, {}, ctx.out_dir, methods=[method])[method]
            score_method(replace(cfg, frames=1, batch_size=1), env, method, warm)
        table = method_table(cfg, {}, ctx.out_dir, methods=[method])
        designer = table[method]
        frame_rows = score_method(cfg, env, method, designer)
        per_frame = sum(float(r["seconds_per_frame"]) for r in frame_rows) / len(frame_rows)
        row: dict[str, Any] = {"method": method, "frames": len(frame_rows),
                               "seconds_per_frame": per_frame * scale,
                               "seconds_per_subframe": per_frame / cfg.subframes,
                               "flops_order": table_flops(
                                   method, m=cfg.num_antennas, k=cfg.num_users,
                                   s=cfg.num_subcarriers, n_iter=cfg.opt_iter,
                                   grid=cfg.num_grid, taps=cfg.num_taps)}
        sdr = getattr(designer, "sdr", None)
        if isinstance(designer, OptDesigner) and sdr is not None and sdr.solves:
            frames = len(frame_rows)
            per_solve = sdr.solve_seconds / sdr.solves  # one batched solve = batch frames
            batch = min(cfg.batch_size, cfg.frames)
            solve_per_frame = per_solve / batch
            rest = per_frame - sdr.solve_seconds / frames
            row["seconds_per_frame_full"] = (solve_per_frame * cfg.frame_subframes
                                             + rest * scale)
            row["note"] = (f"SDR solved every {cfg.opt_stride} subframes; "
                           "seconds_per_frame_full = every subframe (extrapolated)")
        return [row]

    with threads(cfg.num_threads):
        sweep(ctx, list(cfg.methods), lambda m: f"runtime|{m}", run, desc="runtime")
    rows = ctx.rows()
    t = {str(r["method"]): float(r.get("seconds_per_frame_full", r["seconds_per_frame"]))
         for r in rows}
    fastest = min(t.values())
    claims = {f"{m}_time_ratio_to_fastest": f"{v / fastest:.3g}" for m, v in t.items()}
    drl = _drl(cfg.methods)
    if drl:
        best = min(t, key=lambda m: t[m])
        claims["drl_smallest"] = f"{_verdict(best in drl)}: fastest is {best}"
    else:
        claims["drl_smallest"] = "not yet measured (no learned method in this run)"
    return {"claims": claims, "seconds_per_frame": t}


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------

_QUICK: dict[str, Any] = {**QUICK_SIZES, "opt_stride": 5, "opt_fractions": (0.03, 0.1, 0.3),
                          "train_episodes": 30, "train_batch": 4, "retrain_per_point": False}
_COLUMNS = ["method", "se", "se_ci", "crlb_db", "crlb_db_ci", "reward", "reward_ci",
            "seconds_per_frame"]


def _cols(x: str) -> list[str]:
    return ["method", x, *_COLUMNS[1:]]


def _plots(x: str, xlabel: str, fig: str) -> list[PlotSpec]:
    return [PlotSpec(filename=f"{x}.png", x=x, y=["crlb_db", "se"], xlabel=xlabel,
                     ylabels=["CRLB (dB rad²)", "SE (bit/s/Hz)"], title=f"yang_som {fig}")]


register(ExperimentSpec(
    name="yang_som.snr", fn=run_snr, config_cls=SnrConfig,
    profiles={"quick": dict(_QUICK), "paper": {}},
    description="Fig. 7: CRLB and SE vs SNR (U 8, ψ 0.5), DRL-UU/AU, opt, mp, greedy",
    plots=_plots("snr_db", "SNR (dB)", "Fig. 7"), table_columns=_cols("snr_db"),
    table_group=["snr_db"]))

register(ExperimentSpec(
    name="yang_som.weight", fn=run_weight, config_cls=WeightConfig,
    profiles={"quick": {**_QUICK, "weights": (0.1, 0.5, 0.9)}, "paper": {}},
    description="Figs. 8/11: CRLB and SE vs ψ (SNR 0 dB)",
    plots=_plots("weight", "ψ", "Figs. 8/11"), table_columns=_cols("weight"),
    table_group=["weight"]))

register(ExperimentSpec(
    name="yang_som.users", fn=run_users, config_cls=UsersConfig,
    profiles={"quick": {**_QUICK, "users_grid": (1, 2, 3, 4)}, "paper": {}},
    description="Figs. 9/12: CRLB and SE vs U (SNR 0 dB, ψ 0.5)",
    plots=_plots("num_users", "users U", "Figs. 9/12"), table_columns=_cols("num_users"),
    table_group=["num_users"]))

register(ExperimentSpec(
    name="yang_som.speed", fn=run_speed, config_cls=SpeedConfig,
    profiles={"quick": {**_QUICK, "speeds": (10.0, 20.0, 30.0)}, "paper": {}},
    description="Figs. 10/13: CRLB and SE vs fixed speed (SNR 0 dB, ψ 0.5)",
    plots=_plots("speed_mps", "speed (m/s)", "Figs. 10/13"),
    table_columns=_cols("speed_mps"), table_group=["speed_mps"]))

register(ExperimentSpec(
    name="yang_som.tradeoff", fn=run_tradeoff, config_cls=TradeoffConfig,
    profiles={"quick": {**_QUICK, "weights": (0.1, 0.5, 0.9)}, "paper": {}},
    description="Fig. 14: SE vs CRLB over ψ with the ideal (fully digital) and orthogonal "
                "boundaries",
    plots=[PlotSpec(filename="tradeoff.png", x="crlb_db", y=["se"], kind="line",
                    xlabel="CRLB (dB rad²)", ylabels=["SE (bit/s/Hz)"],
                    title="yang_som Fig. 14")],
    table_columns=_cols("weight"), table_group=["weight"]))

register(ExperimentSpec(
    name="yang_som.runtime", fn=run_runtime, config_cls=RuntimeConfig,
    profiles={"quick": {**{k: v for k, v in QUICK_SIZES.items()
                           if k not in ("frames", "batch_size", "subframes")},
                        "opt_fractions": (0.03, 0.1, 0.3), "subframes": 10, "opt_stride": 5,
                        "frame_subframes": 10, "train_episodes": 30, "train_batch": 4,
                        "retrain_per_point": False,
                        "methods": ("drl_uu", "drl_au", "opt", "omp", "mp", "greedy")},
              "paper": {}},
    description="Fig. 15: design time per frame of each method (ratios; Opt's full time "
                "extrapolated from solves on a subset of subframes)",
    plots=[PlotSpec(filename="runtime.png", x="method", y=["seconds_per_frame"], group=None,
                    kind="scatter", logy=True, xlabel="method",
                    ylabels=["time per frame (s)"], title="yang_som Fig. 15")],
    table_columns=["method", "seconds_per_frame", "seconds_per_frame_full",
                   "seconds_per_subframe", "flops_order"]))


def _convergence_references(cfg: ConvergenceConfig) -> dict[str, Any]:
    """The classical references of ``yang_som.convergence`` (``cfg.classical``)."""
    unknown = sorted(set(cfg.classical) - set(CLASSICAL_METHODS))
    if unknown:
        raise ConfigError(f"classical references {unknown} are unknown; known: "
                          f"{list(CLASSICAL_METHODS)}")
    return classical_designers(
        cfg.classical, num_grid=cfg.num_grid, opt_stride=cfg.opt_stride,
        opt_fractions=cfg.opt_fractions, opt_subcarrier_stride=cfg.opt_subcarrier_stride,
        opt_iter=cfg.opt_iter, opt_ici_rounds=cfg.opt_ici_rounds,
        opt_ici=cfg.opt_ici)  # type: ignore[arg-type]


register(convergence_experiment(_convergence_references))
