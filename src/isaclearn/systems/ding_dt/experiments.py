r"""Experiments of ding_dt (paper Sec. VII, Figs. 5–11, Sec. VI-C).

==================  ==========================================================================
``vehicles``        rate per vehicle vs K at N = 32 (Fig. 7), swept over ``power_dbs``
``antennas``        rate per vehicle vs N_t = N_r at K = 50 (Fig. 8)
``dynamic_20``      40 s of Poisson traffic at 5 /s per direction (Fig. 9): total rate and gain
                    over the distance assignment vs time, one plotted seed, mean ± 95 % CI
``dynamic_50``      the same at 12.5 /s (Fig. 10)
``rcrb``            range RCRB vs slots since the track started, N ∈ {16, 32, 64} (Fig. 11)
``lstm_assign``     validation accuracy of the assignment Bi-LSTM per epoch, one curve per K
                    (Fig. 5)
``lstm_beam``       validation beam MSE of the beam Bi-LSTM per epoch, one curve per K (Fig. 6)
``runtime``         time per slot of alg3, greedy, distance and the Bi-LSTM vs K (Sec. VI-C)
==================  ==========================================================================

Every experiment runs the digital-twin loop (:func:`~isaclearn.systems.ding_dt.twin.run_twin`):
designs on predicted channels, rates on true ones. Constant-K points (Figs. 7, 8; spec §6.12):
``num_seeds`` instances of K vehicles placed uniformly (a leaving vehicle re-enters), the tracks
warmed up for ``warmup_slots`` slots with the cheap ``steer`` designer, then the method under
test designs ``measure_slots`` slots, over which the rates are averaged; every method sees the
same traffic and the same measurement noise. Result columns: ``method``, ``sum_rate`` (total of
a slot, bit/s/Hz), ``rate_per_vehicle``, ``rcrb_m``, ``accuracy`` (where it applies), the sweep
coordinate, the 95 % confidence half-width over seeds (``*_ci95``), the sensing-constraint
fractions among served vehicles (``infeasible_frac``, ``active_frac``, ``violated_frac``) and
``seconds_per_slot`` (design time per instance and slot).

The ``lstm`` rows need trained networks: with ``lstm_checkpoint`` (a stem of either network of a
pair) they are loaded (a pair built for another N_t is refused); otherwise they are looked up
in ``checkpoint_dir`` (default ``<run>/models``) under :func:`~isaclearn.systems.ding_dt.learned.
model_tag` and, when absent, trained inside the experiment on DT snapshots with Alg. 3 labels
(``lstm_train`` / ``lstm_val`` snapshots spread over ``lstm_data_k``, from ``lstm_instances``
independent twin instances per K) and saved there.

Claims of the paper are checked in each run's summary (``claims``: holds / does not hold with
the numbers); ``docs/ding_dt.md`` collects them with the commands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from isaclearn.channels.highway import (
    HighwayConfig,
    Traffic,
    constant_traffic,
    sample_poisson_traffic,
)
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.learn.bilstm import BiLstmNet
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext, check_fields, register
from isaclearn.systems.ding_dt.config import EKF_GAINS, SENSING_MODES, DtSettings, make_settings
from isaclearn.systems.ding_dt.designers import (
    DESIGNER_NOTES,
    LstmDesigner,
    SteerDesigner,
    SwitchDesigner,
    make_designer,
)
from isaclearn.systems.ding_dt.learned import (
    LstmSettings,
    Snapshots,
    collect_snapshots,
    load_pair,
    model_paths,
    train_net,
    train_pair,
)
from isaclearn.systems.ding_dt.scenario import SnapshotScenario
from isaclearn.systems.ding_dt.system import partner_stem
from isaclearn.systems.ding_dt.twin import TwinTrace, run_twin
from isaclearn.systems.toolkit import EpochLog, sweep, threads, time_designer

FOUR = ("alg3", "lstm", "greedy", "distance")
"""The four methods of the paper's Figs. 7–10."""


# ------------------------------------------------------------------------------------ configs


@dataclass
class DtCommon:
    """Fields shared by every ding_dt experiment (the scene and loop settings)."""

    num_antennas: int = 32
    """``N_t = N_r`` (Table I: 32)."""
    power_db: float = 40.0
    """Per-beam power ``P`` in dB, ‖f‖² ≤ P (spec §6.1: the paper gives none; 0 dB is its
    ‖f‖ ≤ 1)."""
    sensing_constraint: str = "paper"
    """Sensing constraint (37): ``paper`` (Λ clipped where infeasible), ``slack`` or ``none``."""
    slack_eps: float = 0.1
    """ε_s of the ``slack`` mode."""
    c_f: float = 2.0
    """Fisher factor of the angle information (2 exact, 1 as printed in (35))."""
    ekf_gain: str = "standard"
    """EKF gain: ``standard`` (26) + Joseph, or ``paper`` (27)–(32)."""
    inter_rsu_interference: bool = False
    """Count the other RSU's beams as interference (beyond (10))."""
    fp_tol: float = 1e-5
    """FP stops when Σ ln(1+SINR) changes by less than this, relative."""
    fp_max_iter: int = 100
    """Outer FP iterations at most."""
    pgd_steps: int = 10
    """Projected-gradient steps per F step."""
    speed_std_mps: float = 2.0
    """Speed standard deviation (m/s; not in the paper)."""
    seed: int = 0
    """Seed of traffic, noise and networks."""
    num_threads: int = 1
    """torch threads while the experiment runs."""

    def __post_init__(self) -> None:
        check_fields(self, at_least_1=("num_antennas", "fp_max_iter", "pgd_steps",
                                       "num_threads"),
                     at_least_0=("slack_eps", "speed_std_mps"), positive=("fp_tol", "c_f"))
        if self.sensing_constraint not in SENSING_MODES:
            raise ConfigError(f"config field sensing_constraint: must be one of "
                              f"{', '.join(SENSING_MODES)}, got {self.sensing_constraint!r}")
        if self.ekf_gain not in EKF_GAINS:
            raise ConfigError(f"config field ekf_gain: must be one of {', '.join(EKF_GAINS)}, "
                              f"got {self.ekf_gain!r}")

    def settings(self, **over: Any) -> DtSettings:
        """The :class:`DtSettings` of this config (``over`` replaces fields, e.g.
        ``num_antennas=16``)."""
        kw: dict[str, Any] = {
            "num_antennas": self.num_antennas, "power_db": self.power_db,
            "sensing_constraint": self.sensing_constraint, "slack_eps": self.slack_eps,
            "c_f": self.c_f, "ekf_gain": self.ekf_gain,
            "inter_rsu_interference": self.inter_rsu_interference, "fp_tol": self.fp_tol,
            "fp_max_iter": self.fp_max_iter, "pgd_steps": self.pgd_steps,
            "speed_std_mps": self.speed_std_mps}
        kw.update(over)
        return make_settings(**kw)


@dataclass
class LstmCommon:
    """Fields of the experiments with ``lstm`` rows (how the networks are obtained and trained)."""

    lstm_checkpoint: str = ""
    """Stem of either network of a trained pair (``.../lstm_assign_...``); its N_t must match."""
    checkpoint_dir: str = ""
    """Folder of trained pairs looked up by tag ("" = ``<run>/models``); pairs trained here are
    saved there."""
    lstm_train: int = 10_000
    """Training snapshots (paper: 10 000), spread over ``lstm_data_k``."""
    lstm_val: int = 3_000
    """Validation snapshots (paper: 3 000)."""
    lstm_data_k: tuple[int, ...] = (5, 10, 20, 30, 40, 50)
    """Vehicle counts K of the training snapshots."""
    lstm_instances: int = 32
    """Twin instances (independent traffic) run at once per K and data set; each gives
    ``ceil(snapshots / instances)`` consecutive labelled slots, so more instances = more
    independent traffic for the same number of snapshots (the paper does not say)."""
    lstm_hidden: int = 128
    """LSTM hidden units per direction."""
    lstm_layers: int = 2
    """Stacked Bi-LSTM layers."""
    lstm_dense: int = 256
    """Width of the Dense + ReLU layer."""
    lstm_epochs_assign: int = 50
    """Epochs of the assignment network (paper: "tens")."""
    lstm_epochs_beam: int = 200
    """Epochs of the beam network (paper: ≈ 200)."""
    lstm_batch: int = 128
    """Mini-batch (snapshots)."""
    lstm_lr: float = 1e-3
    """Adam learning rate."""

    def lstm_settings(self, seed: int) -> LstmSettings:
        """The :class:`LstmSettings` of this config."""
        return LstmSettings(hidden_size=self.lstm_hidden, num_layers=self.lstm_layers,
                            dense_width=self.lstm_dense, batch_size=self.lstm_batch,
                            lr=self.lstm_lr, epochs_assign=self.lstm_epochs_assign,
                            epochs_beam=self.lstm_epochs_beam, seed=seed)

    def check_lstm(self) -> None:
        """Range checks of the fields (called by the configs' ``__post_init__``)."""
        check_fields(self, at_least_1=("lstm_train", "lstm_val", "lstm_data_k", "lstm_hidden",
                                       "lstm_layers", "lstm_dense", "lstm_epochs_assign",
                                       "lstm_epochs_beam", "lstm_batch", "lstm_instances"),
                     positive=("lstm_lr",))


def _check_methods(methods: Sequence[str]) -> None:
    unknown = [m for m in methods if m not in DESIGNER_NOTES]
    if unknown or not methods:
        raise ConfigError(f"config field methods: unknown method {unknown[0]!r}; choose from "
                          f"{', '.join(DESIGNER_NOTES)}" if unknown else
                          "config field methods: name at least one method")


# ------------------------------------------------------------------------------------ helpers


def ci95(values: torch.Tensor) -> tuple[float, float]:
    """Mean and 95 % confidence half-width (Student t) of the finite entries of ``values``.

    Examples
    --------
    >>> m, h = ci95(torch.tensor([1.0, 2.0, 3.0]))
    >>> round(m, 3), round(h, 3)
    (2.0, 2.484)
    """
    from scipy import stats

    v = values.detach().double().flatten()
    v = v[torch.isfinite(v)]
    n = int(v.numel())
    if n == 0:
        return math.nan, math.nan
    mean = float(v.mean())
    if n == 1:
        return mean, math.nan
    half = float(stats.t.ppf(0.975, n - 1)) * float(v.std(unbiased=True)) / math.sqrt(n)
    return mean, half


def _frac(trace: TwinTrace, name: str, start: int) -> float:
    served = trace.num_vehicles[start:].sum()
    return float(getattr(trace, name)[start:].sum()) / max(1, int(served))


def _model_dir(cfg: LstmCommon, ctx: RunContext) -> Path | None:
    if cfg.checkpoint_dir:
        return Path(cfg.checkpoint_dir)
    if ctx.out_dir is not None:
        return Path(ctx.out_dir) / "models"
    return None


def lstm_designer(cfg: Any, settings: DtSettings, ctx: RunContext) -> LstmDesigner:
    """The trained Bi-LSTM pair for ``settings`` (module docstring: loaded or trained here)."""
    if cfg.lstm_checkpoint:
        from isaclearn.learn.bilstm import load_bilstm

        a, b = partner_stem(cfg.lstm_checkpoint)
        expect = {"num_tx": settings.num_tx, "num_rx": settings.num_rx}
        ctx.log(f"lstm: loading the pair {a} / {b}")
        return LstmDesigner(load_bilstm(a, expect={**expect, "head": "assign"}),
                            load_bilstm(b, expect={**expect, "head": "beam"}))
    folder = _model_dir(cfg, ctx)
    if folder is not None:
        found = load_pair(folder, settings)
        if found is not None:
            ctx.log(f"lstm: loaded the pair {model_paths(folder, settings)[0]} (and its beam "
                    f"network)")
            return found
    ks = [k for k in cfg.lstm_data_k]
    n_tr = max(1, cfg.lstm_train // len(ks))
    n_va = max(1, cfg.lstm_val // len(ks))
    ctx.log(f"lstm: generating {n_tr} training + {n_va} validation snapshots per K in {ks} "
            f"with Alg. 3 labels (paper: 10 000 + 3 000), N = {settings.num_tx}, "
            f"P = {settings.highway.power_db:g} dB")
    tr, va = [], []
    for k in ctx.progress(ks, total=len(ks), desc="lstm data"):
        tr.append(collect_snapshots(settings, k, n_tr, seed=cfg.seed + 1000 + k,
                                    batch=cfg.lstm_instances))
        va.append(collect_snapshots(settings, k, n_va, seed=cfg.seed + 2000 + k,
                                    batch=cfg.lstm_instances))
    lstm = cfg.lstm_settings(cfg.seed)
    ctx.log(f"lstm: training the assignment ({lstm.epochs_assign} epochs) and beam "
            f"({lstm.epochs_beam} epochs) networks")
    designer, _ = train_pair(Snapshots.cat(tr), Snapshots.cat(va), settings, lstm, folder,
                             log=EpochLog(ctx.log, "lstm", max(lstm.epochs_assign,
                                                               lstm.epochs_beam),
                                          interval_s=ctx.log_interval_s))
    return designer


def _designer(name: str, settings: DtSettings, cfg: Any, ctx: RunContext,
              cache: dict[str, Any]) -> Any:
    if name != "lstm":
        return make_designer(name, settings)
    key = str(settings.to_dict())
    if key not in cache:
        cache[key] = lstm_designer(cfg, settings, ctx)
    return cache[key]


@dataclass
class ConstantK:
    """Fields of the constant-K experiments (Figs. 7, 8)."""

    num_seeds: int = 10
    """Instances (independent traffic realizations) per point."""
    warmup_slots: int = 50
    """Slots of track warm-up with the ``steer`` designer (spec §6.12: 1 s)."""
    measure_slots: int = 50
    """Slots the method designs and is scored on (1 s)."""
    exhaustive_max_k: int = 10
    """``exhaustive`` runs only at K ≤ this."""


def constant_point(settings: DtSettings, num_vehicles: int, methods: Sequence[str], cfg: Any,
                   ctx: RunContext, cache: dict[str, Any], extra: dict[str, Any]
                   ) -> list[dict[str, Any]]:
    """One constant-K point: every method on the same traffic and noise (module docstring)."""
    traffic = constant_traffic(settings.highway, num_vehicles, cfg.num_seeds,
                               make_generator(cfg.seed + 17 * num_vehicles))
    rows = []
    w, n = cfg.warmup_slots, cfg.measure_slots
    for name in methods:
        if name == "exhaustive" and num_vehicles > cfg.exhaustive_max_k:
            continue
        main = _designer(name, settings, cfg, ctx, cache)
        run = SwitchDesigner(SteerDesigner(), main, w)
        trace = run_twin(settings, traffic, run, w + n,
                         generator=make_generator(cfg.seed + 7919 + num_vehicles))
        rpv, rpv_h = ci95(trace.rate_per_vehicle[w:].mean(0))
        sr, sr_h = ci95(trace.sum_rate[w:].mean(0))
        rc, _ = ci95(trace.rcrb_m[w:].nanmean(0))
        rows.append({
            "method": name, **extra, "num_vehicles": num_vehicles, "sum_rate": sr,
            "sum_rate_ci95": sr_h, "rate_per_vehicle": rpv, "rate_ci95": rpv_h,
            "rcrb_m": rc, "infeasible_frac": _frac(trace, "infeasible", w),
            "active_frac": _frac(trace, "active", w), "violated_frac": _frac(trace, "violated", w),
            "seconds_per_slot": float(trace.design_s[w:].mean()) / cfg.num_seeds,
            "seeds": cfg.num_seeds,
        })
    return rows


def _by(rows: Sequence[dict[str, Any]], coord: str, col: str = "rate_per_vehicle"
        ) -> dict[str, dict[Any, float]]:
    out: dict[str, dict[Any, float]] = {}
    for r in rows:
        out.setdefault(str(r["method"]), {})[r[coord]] = float(r[col])
    return out


def _gt(a: float, b: float, tol: float) -> bool:
    """``a > b`` by more than ``tol`` relative (the claims use FP's relative tolerance
    ``fp_tol``: two designs of the same assignment differ by that much)."""
    return a - b > tol * max(abs(a), abs(b))


def _verdict(ok: bool) -> str:
    return "holds" if ok else "does not hold"


def _order_claim(vals: dict[str, float], order: Sequence[str], tol: float
                 ) -> tuple[bool, str]:
    """Whether ``vals`` decrease strictly along ``order``, and the chain with the actual
    relations (``=`` within ``tol`` relative)."""
    present = [m for m in order if m in vals]
    ok = all(_gt(vals[a], vals[b], tol) for a, b in zip(present, present[1:]))
    text = f"{present[0]} {vals[present[0]]:.4g}" if present else ""
    for a, b in zip(present, present[1:]):
        va, vb = vals[a], vals[b]
        rel = ">" if _gt(va, vb, tol) else ("<" if _gt(vb, va, tol) else "=")
        text += f" {rel} {b} {vb:.4g}"
    return ok, text


# ------------------------------------------------------------------------------------ Fig. 7


@dataclass
class VehiclesConfig(DtCommon, ConstantK, LstmCommon):
    """Configuration of ``ding_dt.vehicles`` (Fig. 7)."""

    vehicles: tuple[int, ...] = (5, 10, 20, 30, 40, 50)
    """Numbers of vehicles K (the paper does not list them)."""
    power_dbs: tuple[float, ...] = (0.0, 20.0, 40.0)
    """Per-beam powers swept (spec §6.1)."""
    methods: tuple[str, ...] = ("alg3", "lstm", "greedy", "distance", "exhaustive", "steer",
                                "genie")
    """Designers (``exhaustive`` only at K ≤ ``exhaustive_max_k``)."""

    def __post_init__(self) -> None:
        DtCommon.__post_init__(self)
        self.check_lstm()
        check_fields(self, at_least_1=("vehicles", "num_seeds", "measure_slots"),
                     at_least_0=("warmup_slots", "exhaustive_max_k"))
        if not self.power_dbs:
            raise ConfigError("config field power_dbs: give at least one power")
        _check_methods(self.methods)


def run_vehicles(cfg: VehiclesConfig, ctx: RunContext) -> dict[str, Any]:
    """Fig. 7: rate per vehicle vs K at N = ``num_antennas``, per power."""
    cache: dict[str, Any] = {}
    points = [(p, k) for p in cfg.power_dbs for k in cfg.vehicles]
    with threads(cfg.num_threads):
        sweep(ctx, points, lambda pk: f"P={pk[0]:g},K={pk[1]}",
              lambda pk: constant_point(cfg.settings(power_db=pk[0]), pk[1], cfg.methods, cfg,
                                        ctx, cache, {"power_db": pk[0]}),
              desc="vehicles")
    rows = ctx.rows()
    claims: dict[str, Any] = {}
    for p in cfg.power_dbs:
        sub = [r for r in rows if float(r["power_db"]) == p]
        by = _by(sub, "num_vehicles")
        ks = sorted(cfg.vehicles)
        out: dict[str, Any] = {}
        falls = {m: all(_gt(v[a], v[b], cfg.fp_tol) for a, b in zip(ks, ks[1:])
                        if a in v and b in v)
                 for m, v in by.items() if m in FOUR}
        out["all_fall_with_K"] = f"{_verdict(all(falls.values()))}: " + ", ".join(
            f"{m} {'falls' if ok else 'does not fall'}" for m, ok in falls.items())
        per_k = {}
        for k in ks:
            vals = {m: v[k] for m, v in by.items() if k in v}
            ok, text = _order_claim(vals, ("alg3", "lstm", "distance"), cfg.fp_tol)
            per_k[k] = ok
            out[f"K{k}_order"] = text
        out["alg3_lstm_gt_distance"] = _verdict(all(per_k.values()))
        if "greedy" in by and "distance" in by and ks:
            k0, k1 = ks[0], ks[-1]
            g, d = by["greedy"], by["distance"]
            low = _gt(d.get(k0, math.nan), g.get(k0, math.nan), cfg.fp_tol)
            out["greedy_below_distance_at_small_K"] = (
                f"{_verdict(low)}: K = {k0}: greedy {g.get(k0, math.nan):.4g} vs distance "
                f"{d.get(k0, math.nan):.4g}")
            if "alg3" in by:
                a = by["alg3"]
                gap0 = (a.get(k0, math.nan) - g.get(k0, math.nan)) / a.get(k0, math.nan)
                gap1 = (a.get(k1, math.nan) - g.get(k1, math.nan)) / a.get(k1, math.nan)
                out["greedy_approaches_alg3_at_large_K"] = (
                    f"{_verdict(gap1 < gap0)}: relative gap to alg3 {100 * gap0:.2f} % at K = "
                    f"{k0}, {100 * gap1:.2f} % at K = {k1}")
        if "exhaustive" in by and "alg3" in by:
            ratios = [by["alg3"][k] / by["exhaustive"][k] for k in by["exhaustive"]
                      if k in by["alg3"] and by["exhaustive"][k] > 0]
            if ratios:
                out["alg3_vs_exhaustive_min_ratio"] = min(ratios)
        claims[f"P={p:g}dB"] = out
    return {"claims": claims, "sensing_constraint": cfg.sensing_constraint,
            "power_dbs": list(cfg.power_dbs), "points": len(points)}


# ------------------------------------------------------------------------------------ Fig. 8


@dataclass
class AntennasConfig(DtCommon, ConstantK, LstmCommon):
    """Configuration of ``ding_dt.antennas`` (Fig. 8)."""

    antennas: tuple[int, ...] = (8, 16, 32, 64, 128)
    """N_t = N_r values (the paper does not list them)."""
    num_vehicles: int = 50
    """K (Fig. 8: 50)."""
    methods: tuple[str, ...] = FOUR
    """Designers."""

    def __post_init__(self) -> None:
        DtCommon.__post_init__(self)
        self.check_lstm()
        check_fields(self, at_least_1=("antennas", "num_vehicles", "num_seeds",
                                       "measure_slots"),
                     at_least_0=("warmup_slots", "exhaustive_max_k"))
        _check_methods(self.methods)


def run_antennas(cfg: AntennasConfig, ctx: RunContext) -> dict[str, Any]:
    """Fig. 8: rate per vehicle vs N at K = ``num_vehicles``."""
    cache: dict[str, Any] = {}
    with threads(cfg.num_threads):
        sweep(ctx, list(cfg.antennas), lambda n: f"N={n}",
              lambda n: constant_point(cfg.settings(num_antennas=n), cfg.num_vehicles,
                                       cfg.methods, cfg, ctx, cache, {"num_antennas": n}),
              desc="antennas")
    rows = ctx.rows()
    by = _by(rows, "num_antennas")
    ns = sorted(cfg.antennas)
    rises = {m: all(_gt(v[b], v[a], cfg.fp_tol) for a, b in zip(ns, ns[1:]) if a in v and b in v)
             for m, v in by.items()}
    claims: dict[str, Any] = {"all_rise_with_N": f"{_verdict(all(rises.values()))}: " + ", ".join(
        f"{m} {'rises' if ok else 'does not rise'}" for m, ok in rises.items())}
    oks = []
    for n in ns:
        ok, text = _order_claim({m: v[n] for m, v in by.items() if n in v}, FOUR, cfg.fp_tol)
        oks.append(ok)
        claims[f"N{n}_order"] = text
    claims["alg3_gt_lstm_gt_greedy_gt_distance_every_N"] = _verdict(all(oks))
    return {"claims": claims, "power_db": cfg.power_db,
            "sensing_constraint": cfg.sensing_constraint}


# ------------------------------------------------------------------------------------ Figs. 9/10


@dataclass
class DynamicConfig(DtCommon, LstmCommon):
    """Configuration of ``ding_dt.dynamic_20`` / ``dynamic_50`` (Figs. 9, 10)."""

    rate_per_s: float = 5.0
    """Poisson arrival rate per direction (vehicles/s): 5 (Fig. 9) or 12.5 (Fig. 10)."""
    duration_s: float = 40.0
    """Simulated time (s), starting from an empty road."""
    num_seeds: int = 20
    """Traffic realizations (mean ± 95 % CI over them)."""
    seed_chunk: int = 5
    """Seeds run at once (one resumable sweep point per chunk)."""
    plot_seed: int = 0
    """The seed whose time series is plotted (the paper shows one "most common" run)."""
    bin_s: float = 0.2
    """Time bins of the stored series (s)."""
    early_s: float = 3.0
    """The early window of the claim about greedy's negative gain (s)."""
    methods: tuple[str, ...] = FOUR
    """Designers (``distance`` is the reference of the gain)."""

    def __post_init__(self) -> None:
        DtCommon.__post_init__(self)
        self.check_lstm()
        check_fields(self, at_least_1=("num_seeds", "seed_chunk"),
                     at_least_0=("plot_seed",),
                     positive=("rate_per_s", "duration_s", "bin_s", "early_s"))
        _check_methods(self.methods)
        if self.plot_seed >= self.num_seeds:
            raise ConfigError(f"config field plot_seed: must be below num_seeds = "
                              f"{self.num_seeds}, got {self.plot_seed}")


def poisson_batch(cfg: HighwayConfig, rate_per_s: float, duration_s: float,
                  seeds: Sequence[int]) -> Traffic:
    """Poisson traffic of each seed (its own generator, so a seed's traffic does not depend on
    which others run with it), padded to a common ``K``."""
    parts = [sample_poisson_traffic(cfg, rate_per_s, duration_s, 1, make_generator(s))
             for s in seeds]
    k = max(p.num_vehicles for p in parts)

    def pad(t: torch.Tensor, value: Any) -> torch.Tensor:
        extra = k - t.shape[1]
        if extra == 0:
            return t
        return torch.cat([t, torch.full((1, extra), value, dtype=t.dtype)], dim=1)

    return Traffic(
        arrival_s=torch.cat([pad(p.arrival_s, math.inf) for p in parts]),
        direction=torch.cat([pad(p.direction, 1.0) for p in parts]),
        speed_mps=torch.cat([pad(p.speed_mps, cfg.speed_mean_mps) for p in parts]),
        lane_y_m=torch.cat([pad(p.lane_y_m, cfg.lane_y_m[0]) for p in parts]),
        mask=torch.cat([pad(p.mask, False) for p in parts]), wrap=False)


def _dynamic_chunk(cfg: DynamicConfig, seeds: list[int], ctx: RunContext,
                   cache: dict[str, Any]) -> list[dict[str, Any]]:
    settings = cfg.settings()
    hw = settings.highway
    traffic = poisson_batch(hw, cfg.rate_per_s, cfg.duration_s, [cfg.seed + s for s in seeds])
    num_slots = int(round(cfg.duration_s / hw.slot_s))
    per_bin = max(1, int(round(cfg.bin_s / hw.slot_s)))
    traces: dict[str, TwinTrace] = {}
    for name in cfg.methods:
        designer = _designer(name, settings, cfg, ctx, cache)
        desc = f"{name} seeds {seeds[0]}-{seeds[-1]}"

        def show(r: range, desc: str = desc) -> Any:
            return ctx.progress(r, total=len(r), desc=desc)

        traces[name] = run_twin(settings, traffic, designer, num_slots,
                                generator=make_generator(cfg.seed + 104729 + seeds[0]),
                                progress=show)
    ref = traces.get("distance")
    rows: list[dict[str, Any]] = []
    n_bins = num_slots // per_bin
    early = int(round(cfg.early_s / hw.slot_s))
    for name, tr in traces.items():
        gain = tr.sum_rate - ref.sum_rate if ref is not None else None
        binned = tr.sum_rate[:n_bins * per_bin].reshape(n_bins, per_bin, -1).mean(1)
        nv = tr.num_vehicles[:n_bins * per_bin].double().reshape(n_bins, per_bin, -1).mean(1)
        gb = (gain[:n_bins * per_bin].reshape(n_bins, per_bin, -1).mean(1)
              if gain is not None else None)
        for j, s in enumerate(seeds):
            kind = "plot" if s == cfg.plot_seed else "bin"
            for t in range(n_bins):
                row = {"method": name, "kind": kind, "seed": s, "time_s": t * per_bin * hw.slot_s,
                       "sum_rate": float(binned[t, j]), "num_vehicles": float(nv[t, j])}
                if gb is not None:
                    row["gain_vs_distance"] = float(gb[t, j])
                rows.append(row)
            run = {"method": name, "kind": "run", "seed": s,
                   "sum_rate": float(tr.sum_rate[:, j].mean()),
                   "rate_per_vehicle": float(tr.rate_per_vehicle[:, j].nanmean()),
                   "num_vehicles": float(tr.num_vehicles[:, j].double().mean()),
                   "rcrb_m": float(tr.rcrb_m[:, j].nanmean()),
                   "seconds_per_slot": float(tr.design_s.mean()) / len(seeds)}
            served = max(1, int(tr.num_vehicles[:, j].sum()))
            for f in ("infeasible", "active", "violated"):
                run[f"{f}_frac"] = float(getattr(tr, f)[:, j].sum()) / served
            if gain is not None:
                g = gain[:, j]
                run["gain_vs_distance"] = float(g.mean())
                run["early_gain"] = float(g[:early].mean())
                run["late_gain"] = float(g[early:].mean())
            rows.append(run)
    return rows


def run_dynamic(cfg: DynamicConfig, ctx: RunContext) -> dict[str, Any]:
    """Figs. 9/10: total rate and gain over the distance assignment in Poisson traffic."""
    cache: dict[str, Any] = {}
    seeds = list(range(cfg.num_seeds))
    chunks = [seeds[i:i + cfg.seed_chunk] for i in range(0, len(seeds), cfg.seed_chunk)]
    with threads(cfg.num_threads):
        sweep(ctx, chunks, lambda c: f"seeds={c[0]}-{c[-1]}",
              lambda c: _dynamic_chunk(cfg, c, ctx, cache), desc="dynamic")
    rows = [r for r in ctx.rows() if r.get("kind") == "run"]
    bins = [r for r in ctx.rows() if r.get("kind") in ("bin", "plot")]
    shares = _gain_shares(bins, cfg.fp_tol)
    stats: dict[str, Any] = {}
    for name in cfg.methods:
        rs = [r for r in rows if r["method"] == name]
        entry = {}
        for col in ("sum_rate", "gain_vs_distance", "early_gain", "late_gain",
                    "share_gain_negative", "share_gain_nonnegative", "num_vehicles",
                    "infeasible_frac"):
            vals = [shares.get((name, r["seed"]), {}).get(col) if col.startswith("share")
                    else r.get(col) for r in rs]
            vals = [v for v in vals if v is not None]
            if vals:
                m, h = ci95(torch.tensor(vals, dtype=torch.float64))
                entry[col] = {"mean": m, "ci95": h}
        stats[name] = entry

    def mean(m: str, col: str) -> float:
        return float(stats.get(m, {}).get(col, {}).get("mean", math.nan))

    claims: dict[str, Any] = {}
    if "greedy" in stats and "distance" in stats:
        claims["greedy_gain_negative_early"] = (
            f"{_verdict(mean('greedy', 'early_gain') < 0)}: greedy's mean gain over distance in "
            f"the first {cfg.early_s:g} s: {mean('greedy', 'early_gain'):.4g} bit/s/Hz")
        claims["greedy_gain_positive_later"] = (
            f"{_verdict(mean('greedy', 'late_gain') > 0)}: after {cfg.early_s:g} s: "
            f"{mean('greedy', 'late_gain'):.4g}; share of bins with negative gain "
            f"{mean('greedy', 'share_gain_negative'):.3f}")
    if "alg3" in stats and "distance" in stats:
        claims["alg3_gain_nonnegative_always"] = (
            f"{_verdict(mean('alg3', 'share_gain_nonnegative') >= 0.999)}: share of "
            f"{cfg.bin_s:g} s bins with gain >= 0: {mean('alg3', 'share_gain_nonnegative'):.3f}")
    overall = {m: mean(m, "sum_rate") for m in stats}
    ok, text = _order_claim(overall, FOUR, cfg.fp_tol)
    claims["time_average_order"] = f"{_verdict(ok)}: {text}"
    if "lstm" in stats and "greedy" in stats:
        lg = _paired(bins, "lstm", "greedy", cfg.fp_tol)
        claims["lstm_ge_greedy_most_of_the_time"] = (
            f"{_verdict(lg > 0.5)}: share of (seed, bin) with lstm >= greedy: {lg:.3f}")
    return {"claims": claims, "stats": stats, "power_db": cfg.power_db,
            "sensing_constraint": cfg.sensing_constraint, "seeds": cfg.num_seeds,
            "rate_per_s": cfg.rate_per_s, "duration_s": cfg.duration_s}


def _paired(rows: Sequence[dict[str, Any]], a: str, b: str, tol: float) -> float:
    """Share of (seed, bin) where ``a``'s rate is at least ``b``'s (within ``tol``)."""
    va = {(r["seed"], r["time_s"]): r["sum_rate"] for r in rows if r["method"] == a}
    vb = {(r["seed"], r["time_s"]): r["sum_rate"] for r in rows if r["method"] == b}
    keys = [k for k in va if k in vb]
    if not keys:
        return math.nan
    return sum(not _gt(vb[k], va[k], tol) for k in keys) / len(keys)


def _gain_shares(bins: Sequence[dict[str, Any]], tol: float
                 ) -> dict[tuple[str, Any], dict[str, float]]:
    """Per (method, seed): the share of time bins whose gain over the distance assignment is
    negative / non-negative beyond ``tol`` relative to the distance assignment's rate."""
    ref = {(r["seed"], r["time_s"]): float(r["sum_rate"]) for r in bins
           if r["method"] == "distance"}
    out: dict[tuple[str, Any], list[bool]] = {}
    for r in bins:
        d = ref.get((r["seed"], r["time_s"]))
        if d is None or r.get("gain_vs_distance") is None:
            continue
        out.setdefault((r["method"], r["seed"]), []).append(
            float(r["gain_vs_distance"]) < -tol * abs(d))
    return {k: {"share_gain_negative": sum(v) / len(v),
                "share_gain_nonnegative": 1.0 - sum(v) / len(v)} for k, v in out.items()}


# ------------------------------------------------------------------------------------ Fig. 11


@dataclass
class RcrbConfig(DtCommon):
    """Configuration of ``ding_dt.rcrb`` (Fig. 11)."""

    antennas: tuple[int, ...] = (16, 32, 64)
    """N_t = N_r values."""
    designer: str = "alg3"
    """The designer whose beams the bound follows (Fig. 11: the proposed method)."""
    rate_per_s: float = 5.0
    """Poisson arrival rate per direction (spec §6.12: the dynamic_20 scenario)."""
    duration_s: float = 10.0
    """Simulated time (s)."""
    num_seeds: int = 4
    """Traffic realizations."""
    max_age: int = 100
    """Longest track age reported (slots)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, at_least_1=("antennas", "num_seeds", "max_age"),
                     positive=("rate_per_s", "duration_s"))
        _check_methods([self.designer])
        if self.designer == "lstm":
            raise ConfigError("config field designer: rcrb runs a classical designer "
                              "(the lstm needs trained networks)")


def _rcrb_point(cfg: RcrbConfig, n: int) -> list[dict[str, Any]]:
    settings = cfg.settings(num_antennas=n)
    hw = settings.highway
    traffic = poisson_batch(hw, cfg.rate_per_s, cfg.duration_s,
                            [cfg.seed + s for s in range(cfg.num_seeds)])
    trace = run_twin(settings, traffic, make_designer(cfg.designer, settings),
                     int(round(cfg.duration_s / hw.slot_s)),
                     generator=make_generator(cfg.seed + 31 * n), record=True)
    total = torch.zeros(cfg.max_age + 1, dtype=torch.float64)
    total_phi = torch.zeros_like(total)
    count = torch.zeros_like(total)
    for rec in trace.records or []:
        if not rec:
            continue
        m = rec["mask"] & (rec["age"] <= cfg.max_age)
        age = rec["age"][m]
        total.index_add_(0, age, rec["bound_diag"][..., 1][m].clamp_min(0).sqrt())
        total_phi.index_add_(0, age, rec["bound_diag"][..., 0][m].clamp_min(0).sqrt())
        count.index_add_(0, age, torch.ones_like(age, dtype=torch.float64))
    rows: list[dict[str, Any]] = [{
        "method": cfg.designer, "num_antennas": n, "slots_since_start": 0,
        "rcrb_m": hw.init_std_d_m, "rcrb_phi": hw.init_std_phi, "tracks": int(count[0])}]
    for a in range(cfg.max_age + 1):
        if count[a] > 0:
            rows.append({"method": cfg.designer, "num_antennas": n, "slots_since_start": a + 1,
                         "rcrb_m": float(total[a] / count[a]),
                         "rcrb_phi": float(total_phi[a] / count[a]), "tracks": int(count[a])})
    return rows


def run_rcrb(cfg: RcrbConfig, ctx: RunContext) -> dict[str, Any]:
    """Fig. 11: range RCRB vs slots since the track started, per N."""
    with threads(cfg.num_threads):
        sweep(ctx, list(cfg.antennas), lambda n: f"N={n}", lambda n: _rcrb_point(cfg, n),
              desc="rcrb")
    rows = ctx.rows()
    first: dict[int, float] = {}
    steady: dict[int, float] = {}
    for n in cfg.antennas:
        rs = [r for r in rows if int(r["num_antennas"]) == n]
        one = [r["rcrb_m"] for r in rs if int(r["slots_since_start"]) == 1]
        late = [r["rcrb_m"] for r in rs if int(r["slots_since_start"]) >= 5]
        first[n] = float(one[0]) if one else math.nan
        steady[n] = float(torch.tensor(late).median()) if late else math.nan
    ns = sorted(cfg.antennas)
    init = ctx.rows()[0]["rcrb_m"] if ctx.rows() else math.nan
    claims: dict[str, Any] = {
        "starts_at_0.1m": f"{_verdict(abs(init - 0.1) < 1e-12)}: {init:.4g} m",
        "drops_sharply": f"{_verdict(all(first[n] < 0.1 * init for n in ns))}: after one "
                         f"slot " + ", ".join(f"N = {n}: {1e3 * first[n]:.3g} mm" for n in ns),
        "lower_for_larger_N": f"{_verdict(all(steady[a] > steady[b] for a, b in zip(ns, ns[1:])))}"
                              ": steady (median over ages >= 5) " + ", ".join(
                                  f"N = {n}: {1e3 * steady[n]:.3g} mm" for n in ns),
    }
    ratios = {f"N{a}/N{b}": steady[a] / steady[b] for a, b in zip(ns, ns[1:])}
    claims["ratio_per_doubling"] = ratios
    return {"claims": claims, "first_slot_rcrb_m": first, "steady_rcrb_m": steady,
            "power_db": cfg.power_db, "sensing_constraint": cfg.sensing_constraint,
            "designer": cfg.designer}


# ------------------------------------------------------------------------------------ Figs. 5/6


@dataclass
class LstmCurveConfig(DtCommon, LstmCommon):
    """Configuration of ``ding_dt.lstm_assign`` / ``lstm_beam`` (Figs. 5, 6): one network per K,
    trained on ``lstm_train`` / validated on ``lstm_val`` snapshots of that K."""

    head: str = "assign"
    """Which network: ``assign`` (Fig. 5) or ``beam`` (Fig. 6)."""
    vehicles: tuple[int, ...] = (5, 10, 20, 30, 40, 50)
    """K values, one curve each."""

    def __post_init__(self) -> None:
        DtCommon.__post_init__(self)
        self.check_lstm()
        check_fields(self, at_least_1=("vehicles",))
        if self.head not in ("assign", "beam"):
            raise ConfigError(f"config field head: must be assign or beam, got {self.head!r}")


def _curve_point(cfg: LstmCurveConfig, k: int, ctx: RunContext) -> list[dict[str, Any]]:
    settings = cfg.settings()
    lstm = cfg.lstm_settings(cfg.seed)
    ctx.log(f"K = {k}: {cfg.lstm_train} training + {cfg.lstm_val} validation snapshots "
            f"(Alg. 3 labels)")
    train = collect_snapshots(settings, k, cfg.lstm_train, seed=cfg.seed + 1000 + k,
                              batch=cfg.lstm_instances)
    val = collect_snapshots(settings, k, cfg.lstm_val, seed=cfg.seed + 2000 + k,
                            batch=cfg.lstm_instances)
    epochs = lstm.epochs_assign if cfg.head == "assign" else lstm.epochs_beam
    net, hist = train_net(cfg.head, train, val, settings, lstm,
                          log=EpochLog(ctx.log, f"K={k}", epochs,
                                       interval_s=ctx.log_interval_s))
    folder = _model_dir(cfg, ctx)
    if folder is not None:
        from isaclearn.learn.bilstm import save_bilstm

        folder.mkdir(parents=True, exist_ok=True)
        save_bilstm(model_paths(folder, settings, f"_K{k}")[0 if cfg.head == "assign" else 1],
                    net)
    rows = []
    for h in hist:
        row: dict[str, Any] = {"method": "lstm", "num_vehicles": k, "epoch": int(h["epoch"]),
                               "train_loss": h.get("train_total"), "val_loss": h.get("val_total")}
        if cfg.head == "assign":
            row["accuracy"] = h.get("val_accuracy")
        else:
            row["beam_mse"] = h.get("val_beam_mse")
        rows.append(row)
    return rows


def run_lstm_curves(cfg: LstmCurveConfig, ctx: RunContext) -> dict[str, Any]:
    """Figs. 5/6: validation accuracy / beam MSE per epoch, one network per K."""
    with threads(cfg.num_threads):
        sweep(ctx, list(cfg.vehicles), lambda k: f"K={k}", lambda k: _curve_point(cfg, k, ctx),
              desc=f"lstm_{cfg.head}")
    rows = ctx.rows()
    col = "accuracy" if cfg.head == "assign" else "beam_mse"
    final: dict[int, float] = {}
    best: dict[int, float] = {}
    for k in cfg.vehicles:
        vals = [(int(r["epoch"]), float(r[col])) for r in rows
                if int(r["num_vehicles"]) == k and r.get(col) is not None]
        if vals:
            final[k] = vals[-1][1]
            best[k] = max(v for _, v in vals) if cfg.head == "assign" else min(v for _, v in vals)
    ks = sorted(final)
    claims: dict[str, Any] = {}
    if cfg.head == "assign":
        claims["accuracy_above_96pct"] = (
            f"{_verdict(all(final[k] > 0.96 for k in ks))}: final validation accuracy "
            + ", ".join(f"K = {k}: {100 * final[k]:.2f} %" for k in ks))
        claims["accuracy_falls_with_K"] = _verdict(
            all(final[a] >= final[b] for a, b in zip(ks, ks[1:])))
    else:
        claims["mse_falls_with_K"] = (
            f"{_verdict(all(final[a] > final[b] for a, b in zip(ks, ks[1:])))}: final "
            f"validation MSE " + ", ".join(f"K = {k}: {final[k]:.4g}" for k in ks))
    return {"claims": claims, f"final_{col}": final, f"best_{col}": best,
            "power_db": cfg.power_db, "sensing_constraint": cfg.sensing_constraint,
            "snapshots": {"train_per_K": cfg.lstm_train, "val_per_K": cfg.lstm_val,
                          "paper": "10 000 / 3 000"}}


# ------------------------------------------------------------------------------------ Sec. VI-C


@dataclass
class RuntimeConfig(DtCommon, LstmCommon):
    """Configuration of ``ding_dt.runtime`` (Sec. VI-C)."""

    vehicles: tuple[int, ...] = (5, 10, 20, 30, 40, 50)
    """K values."""
    methods: tuple[str, ...] = ("alg3", "greedy", "distance", "lstm")
    """Designers timed (the Bi-LSTM with untrained weights of the configured size: its time
    does not depend on the weights)."""
    batch: int = 4
    """Snapshot instances designed per call (the time is per instance)."""
    repeat: int = 1
    """Timed calls (the best is kept)."""

    def __post_init__(self) -> None:
        DtCommon.__post_init__(self)
        self.check_lstm()
        check_fields(self, at_least_1=("vehicles", "batch", "repeat"))
        _check_methods(self.methods)


def untrained_lstm(settings: DtSettings, lstm: LstmSettings) -> LstmDesigner:
    """A Bi-LSTM pair with initial weights (for timing)."""
    return LstmDesigner(BiLstmNet(lstm.net_config(settings, "assign")).eval(),
                        BiLstmNet(lstm.net_config(settings, "beam")).eval())


def time_methods(settings: DtSettings, ks: Sequence[int], methods: Sequence[str],
                 lstm: LstmSettings, *, batch: int, repeat: int, seed: int,
                 log: Callable[[str], None] | None = None,
                 lstm_designer: LstmDesigner | None = None) -> list[dict[str, Any]]:
    """Time per slot and instance of each method on snapshot problems of K vehicles
    (:class:`~isaclearn.systems.ding_dt.scenario.SnapshotScenario`), with the ratio to alg3;
    ``lstm`` uses ``lstm_designer`` or untrained networks of the sizes ``lstm``."""
    rows: list[dict[str, Any]] = []
    for k in ks:
        problem = SnapshotScenario(settings, k, 5).sample(batch, generator=make_generator(seed))
        for name in methods:
            if name == "lstm":
                designer = lstm_designer or untrained_lstm(settings, lstm)
            else:
                designer = make_designer(name, settings)
            if log is not None:
                log(f"timing {name} at K = {k} on {batch} instance(s)")
            _, sec = time_designer(designer, problem, repeat=repeat, warmup_instances=1)
            rows.append({"method": name, "num_vehicles": k, "seconds_per_slot": float(sec)})
        ref: float | None = next((float(r["seconds_per_slot"]) for r in rows
                                  if r["method"] == "alg3" and r["num_vehicles"] == k), None)
        for r in rows:
            if r["num_vehicles"] == k:
                r["ratio_to_alg3"] = r["seconds_per_slot"] / ref if ref else None
    return rows


def run_runtime(cfg: RuntimeConfig, ctx: RunContext) -> dict[str, Any]:
    """Sec. VI-C: time per slot vs K."""
    settings = cfg.settings()
    lstm = cfg.lstm_settings(cfg.seed)
    with threads(cfg.num_threads):
        sweep(ctx, list(cfg.vehicles), lambda k: f"K={k}",
              lambda k: time_methods(settings, [k], cfg.methods, lstm, batch=cfg.batch,
                                     repeat=cfg.repeat, seed=cfg.seed, log=ctx.log),
              desc="runtime")
    rows = ctx.rows()
    by = _by(rows, "num_vehicles", "seconds_per_slot")
    claims: dict[str, Any] = {}
    if "lstm" in by and "alg3" in by:
        ratios = {k: by["alg3"][k] / by["lstm"][k] for k in by["lstm"] if k in by["alg3"]}
        claims["lstm_faster_than_alg3"] = (
            f"{_verdict(all(r > 1 for r in ratios.values()))}: alg3 / lstm time per slot "
            + ", ".join(f"K = {k}: {r:.3g}x" for k, r in sorted(ratios.items())))
    if "greedy" in by and "alg3" in by:
        ks = sorted(k for k in by["alg3"] if k in by["greedy"])
        if ks:
            low = by["alg3"][ks[0]] < by["greedy"][ks[0]]
            high = by["greedy"][ks[-1]] < by["alg3"][ks[-1]]
            claims["alg3_faster_at_low_K_greedy_at_high_K"] = (
                f"{_verdict(low and high)}: K = {ks[0]}: alg3 {by['alg3'][ks[0]]:.3g} s, greedy "
                f"{by['greedy'][ks[0]]:.3g} s; K = {ks[-1]}: alg3 {by['alg3'][ks[-1]]:.3g} s, "
                f"greedy {by['greedy'][ks[-1]]:.3g} s")
    return {"claims": claims, "power_db": cfg.power_db, "batch": cfg.batch,
            "note": "lstm timed with untrained weights of the configured size"}


# ------------------------------------------------------------------------------------ registry

_QUICK_COMMON: dict[str, Any] = {"power_db": 20.0, "fp_tol": 1e-3, "fp_max_iter": 30}
_QUICK_LSTM: dict[str, Any] = {"lstm_train": 600, "lstm_val": 150, "lstm_hidden": 64,
                               "lstm_dense": 128, "lstm_epochs_assign": 30,
                               "lstm_epochs_beam": 60, "lstm_batch": 32, "lstm_lr": 3e-3}
_CONSTANT_COLUMNS = ["method", "rate_per_vehicle", "rate_ci95", "sum_rate", "rcrb_m",
                     "infeasible_frac", "violated_frac", "seconds_per_slot"]

register(ExperimentSpec(
    name="ding_dt.vehicles",
    fn=run_vehicles,
    config_cls=VehiclesConfig,
    profiles={
        "quick": {**_QUICK_COMMON, **_QUICK_LSTM, "vehicles": (2, 4, 8),
                  "power_dbs": (0.0, 20.0, 40.0), "num_seeds": 4, "warmup_slots": 5,
                  "measure_slots": 10, "exhaustive_max_k": 4, "lstm_data_k": (4, 8)},
        "paper": {},
    },
    description="Fig. 7: rate per vehicle vs K (N = 32), alg3/lstm/greedy/distance (+ exhaustive, "
                "steer, genie), per transmit power",
    plots=[PlotSpec(filename="vehicles_P{power_db}.png", x="num_vehicles",
                    y=["rate_per_vehicle"], split="power_db", xlabel="vehicles K",
                    ylabels=["rate per vehicle (bit/s/Hz)"],
                    title="ding_dt Fig. 7, P = {power_db} dB")],
    table_columns=["power_db", "num_vehicles", *_CONSTANT_COLUMNS],
    table_group=["power_db", "num_vehicles"],
))

register(ExperimentSpec(
    name="ding_dt.antennas",
    fn=run_antennas,
    config_cls=AntennasConfig,
    profiles={
        "quick": {**_QUICK_COMMON, **_QUICK_LSTM, "antennas": (8, 16, 32), "num_vehicles": 8,
                  "num_seeds": 3, "warmup_slots": 5, "measure_slots": 5,
                  "lstm_data_k": (8,)},
        "paper": {},
    },
    description="Fig. 8: rate per vehicle vs N_t = N_r at K = 50, alg3/lstm/greedy/distance",
    plots=[PlotSpec(filename="antennas.png", x="num_antennas", y=["rate_per_vehicle"],
                    xlabel="N_t = N_r", ylabels=["rate per vehicle (bit/s/Hz)"],
                    title="ding_dt Fig. 8")],
    table_columns=["num_antennas", *_CONSTANT_COLUMNS],
    table_group=["num_antennas"],
))

_DYNAMIC_PLOTS = [PlotSpec(filename="dynamic.png", x="time_s",
                           y=["sum_rate", "gain_vs_distance"], where={"kind": "plot"},
                           xlabel="time (s)",
                           ylabels=["total rate (bit/s/Hz)", "gain vs distance (bit/s/Hz)"],
                           title="ding_dt dynamic traffic (plotted seed)")]
_DYNAMIC_TABLE = ["seed", "method", "sum_rate", "gain_vs_distance", "early_gain",
                  "late_gain", "num_vehicles", "infeasible_frac", "seconds_per_slot"]
_QUICK_DYNAMIC: dict[str, Any] = {**_QUICK_COMMON, **_QUICK_LSTM, "duration_s": 2.0,
                                  "num_seeds": 3, "seed_chunk": 3, "bin_s": 0.1,
                                  "early_s": 1.0, "lstm_data_k": (4, 8)}

register(ExperimentSpec(
    name="ding_dt.dynamic_20",
    fn=run_dynamic,
    config_cls=DynamicConfig,
    profiles={"quick": {**_QUICK_DYNAMIC, "rate_per_s": 5.0},
              "paper": {"rate_per_s": 5.0}},
    description="Fig. 9: total rate and gain vs distance over 40 s of Poisson traffic at 5 /s "
                "per direction (~20 vehicles)",
    plots=_DYNAMIC_PLOTS,
    table_columns=_DYNAMIC_TABLE,
    table_where={"kind": "run"},
    table_group=["seed"],
))

register(ExperimentSpec(
    name="ding_dt.dynamic_50",
    fn=run_dynamic,
    config_cls=DynamicConfig,
    profiles={"quick": {**_QUICK_DYNAMIC, "rate_per_s": 12.5, "duration_s": 1.0,
                        "num_seeds": 2, "seed_chunk": 2, "early_s": 0.5},
              "paper": {"rate_per_s": 12.5}},
    description="Fig. 10: as Fig. 9 at 12.5 /s per direction (~50 vehicles)",
    plots=_DYNAMIC_PLOTS,
    table_columns=_DYNAMIC_TABLE,
    table_where={"kind": "run"},
    table_group=["seed"],
))

register(ExperimentSpec(
    name="ding_dt.rcrb",
    fn=run_rcrb,
    config_cls=RcrbConfig,
    profiles={"quick": {**_QUICK_COMMON, "duration_s": 2.0, "num_seeds": 2, "max_age": 60},
              "paper": {}},
    description="Fig. 11: range RCRB vs slots since the track started, N in {16, 32, 64}",
    plots=[PlotSpec(filename="rcrb.png", x="slots_since_start", y=["rcrb_m"],
                    group="num_antennas", logy=True, xlabel="slots since the track started",
                    ylabels=["RCRB of the range (m)"], title="ding_dt Fig. 11")],
    table_columns=["num_antennas", "slots_since_start", "method", "rcrb_m", "rcrb_phi",
                   "tracks"],
    table_group=["num_antennas", "slots_since_start"],
    table_filter=lambda r: int(r.get("slots_since_start", 0)) in (0, 1, 2, 5, 10, 20, 50),
))

register(ExperimentSpec(
    name="ding_dt.lstm_assign",
    fn=run_lstm_curves,
    config_cls=LstmCurveConfig,
    profiles={"quick": {**_QUICK_COMMON, **_QUICK_LSTM, "head": "assign",
                        "vehicles": (4, 8)},
              "paper": {"head": "assign"}},
    description="Fig. 5: validation accuracy of the assignment Bi-LSTM per epoch, per K",
    plots=[PlotSpec(filename="lstm_assign.png", x="epoch", y=["accuracy"],
                    group="num_vehicles", ylabels=["validation accuracy"],
                    title="ding_dt Fig. 5")],
    table_columns=["num_vehicles", "method", "epoch", "train_loss", "val_loss", "accuracy"],
    table_group=["num_vehicles", "epoch"],
    table_filter=lambda r: int(r.get("epoch", 0)) % 10 == 0,
))

register(ExperimentSpec(
    name="ding_dt.lstm_beam",
    fn=run_lstm_curves,
    config_cls=LstmCurveConfig,
    profiles={"quick": {**_QUICK_COMMON, **_QUICK_LSTM, "head": "beam", "vehicles": (4, 8)},
              "paper": {"head": "beam"}},
    description="Fig. 6: validation beam MSE of the beam Bi-LSTM per epoch, per K",
    plots=[PlotSpec(filename="lstm_beam.png", x="epoch", y=["beam_mse"], group="num_vehicles",
                    logy=True, ylabels=["validation beam MSE"], title="ding_dt Fig. 6")],
    table_columns=["num_vehicles", "method", "epoch", "train_loss", "val_loss", "beam_mse"],
    table_group=["num_vehicles", "epoch"],
    table_filter=lambda r: int(r.get("epoch", 0)) % 20 == 0,
))

register(ExperimentSpec(
    name="ding_dt.runtime",
    fn=run_runtime,
    config_cls=RuntimeConfig,
    profiles={"quick": {**_QUICK_COMMON, "vehicles": (2, 5, 10), "batch": 2},
              "paper": {}},
    description="Sec. VI-C: time per slot of alg3, greedy, distance and the Bi-LSTM vs K",
    plots=[PlotSpec(filename="runtime.png", x="num_vehicles", y=["seconds_per_slot"],
                    logy=True, xlabel="vehicles K", ylabels=["s per slot and instance"],
                    title="ding_dt Sec. VI-C")],
    table_columns=["num_vehicles", "method", "seconds_per_slot", "ratio_to_alg3"],
    table_group=["num_vehicles"],
))

__all__ = [
    "AntennasConfig",
    "DynamicConfig",
    "LstmCurveConfig",
    "RcrbConfig",
    "RuntimeConfig",
    "VehiclesConfig",
    "ci95",
    "constant_point",
    "lstm_designer",
    "poisson_batch",
    "time_methods",
    "untrained_lstm",
]

