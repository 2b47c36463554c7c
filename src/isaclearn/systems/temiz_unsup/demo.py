"""``temiz_unsup.demo``: a learned precoder beside every classical designer and the bounds.

What ``make demo`` runs (profile ``quick``). It trains the structured network of
:mod:`isaclearn.systems.temiz_unsup.learned` (variant ``struct``: a Transformer over the users
that emits the parameters of the optimal MISO precoder form plus sensing weights) at the
communication end ``ρ = 1`` and at one trade-off point ``ρ = 0.5`` (the ``ρ`` of the paper's
Table 3 and Fig. 5: half rate, half sensing in the loss of eq. 25), each within a training-time
limit, and scores it on the same test instances as

* MRT, ZF, MMSE (RZF) and WMMSE (the reference: best of the MRT/ZF/RZF starts, 100 iterations
  or converged),
* the SDR rate–CRB boundary (:class:`isaclearn.solvers.SdrTradeoff`, the designer behind
  :func:`isaclearn.solvers.sdr_boundary`: minimum sum CRB subject to a common SINR target Γ per
  user, one semidefinite program per instance and Γ, on the first ``sdr_instances`` test
  instances; every point is the mean over the instances feasible at every Γ), and
* the DPC sum capacity (:func:`isaclearn.solvers.dpc_sum_capacity`), an upper bound on the
  sum rate of any precoder (it has no CRB: a line on the rate–CRB plot).

Result rows (``kind = "method"``; the four baselines are one sweep point, every other method
its own, so an interrupted run resumes without repeating finished ones): ``method``,
``instances``, ``sum_rate`` (mean, bit/s/Hz), ``sum_crb_db`` (``10 log10`` of the mean exact
sum CRB of eq. 5, rad²), ``frac_wmmse`` (sum rate over WMMSE's), ``seconds_per_instance`` (one
batched call on all instances after a warm-up on a few; for the SDR points: per instance and
Γ) and, for the networks, the training record (``train_time_s``, ``epochs``, ``stop_reason``,
``time_to_95pct_wmmse_s``). The SDR points carry ``sinr_min_db`` and ``fraction_feasible``. The
figure ``rate_crb.png`` puts every method on the rate–CRB plane: designers as points, the SDR
boundary as a line, the DPC bound as a horizontal line (rows ``kind = "dpc_line"``).

Measured numbers of the quick profile are in the README ("Set-up and the two commands").
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext, register
from isaclearn.systems.temiz_unsup.evaluation import db, evaluate, row_metrics
from isaclearn.systems.temiz_unsup.experiments import WMMSE_REFERENCE, LearnedCommon, model_store
from isaclearn.systems.temiz_unsup.learned import VARIANTS
from isaclearn.systems.temiz_unsup.scenario import make_scenario
from isaclearn.systems.toolkit import finite_mean, solver_progress, threads, time_designer

BASELINES = ("mrt", "zf", "mmse", "wmmse")


@dataclass
class DemoConfig(LearnedCommon):
    """Configuration of ``temiz_unsup.demo`` (the fields of :class:`LearnedCommon` plus these).

    ``variants`` are the networks trained at every ``ρ`` of ``rhos`` (default: ``struct``).
    """

    variants: tuple[str, ...] = ("struct",)
    """Network variants (see :mod:`isaclearn.systems.temiz_unsup.learned`)."""
    num_antennas: int = 10
    """Transmit antennas ``M``."""
    rhos: tuple[float, ...] = (1.0, 0.5)
    """Trade-off weights at which each network variant is trained and scored."""
    sdr_instances: int = 8
    """Test instances (the first ones) for the SDR boundary (one SDP per instance and Γ)."""
    sdr_sinr_db: tuple[float, ...] = (-10.0, -5.0, 0.0, 2.5, 5.0)
    """SINR targets Γ of the SDR boundary, dB."""
    warmup_instances: int = 8
    """Instances of the untimed warm-up call before each timed one."""


def _timed(fn: Any, problem: Any, warmup: int) -> tuple[Any, float]:
    """``fn(problem)`` and its seconds per instance, after an untimed call on ``warmup``
    instances (no warm-up when 0)."""
    return time_designer(fn, problem, warmup=warmup > 0,
                         warmup_instances=min(max(warmup, 1), problem.batch_size))


def _scores(problem: Any, w: torch.Tensor) -> dict[str, Any]:
    return row_metrics(evaluate(problem, Design(w=w)), ("sum_rate", "sum_crb_db"))


def _check(cfg: DemoConfig) -> None:
    for v in cfg.variants:
        if v not in VARIANTS:
            raise ConfigError(f"unknown network variant {v!r}; choose from {', '.join(VARIANTS)}")
    if not cfg.rhos or any(not 0.0 <= r <= 1.0 for r in cfg.rhos):
        raise ConfigError(f"rhos must be non-empty values in [0, 1], got {cfg.rhos}")
    if cfg.num_test < 1 or cfg.sdr_instances < 0:
        raise ConfigError("num_test must be >= 1 and sdr_instances >= 0")


def _label(variant: str, rho: float) -> str:
    return f"{variant} rho={rho:g}"


# ------------------------------------------------------------------------------ experiment


def run_demo(cfg: DemoConfig, ctx: RunContext) -> dict[str, Any]:
    """Train, then score every method on the same test instances (see the module docstring)."""
    from isaclearn.solvers import MMSE, MRT, WMMSE, ZF, dpc_sum_capacity

    _check(cfg)
    m = cfg.num_antennas
    with threads(cfg.num_threads):
        test = make_scenario(m, cfg.num_users, snr_db=cfg.snr_db).sample(
            cfg.num_test, generator=make_generator(cfg.test_seed))
        ctx.log(f"test set: {test.batch_size} instances, M = {m}, K = {cfg.num_users}, "
                f"targets at -10 and 25 deg, SNR {cfg.snr_db:g} dB")
        if not ctx.is_done("baselines"):
            designers: dict[str, Any] = {"mrt": MRT(), "zf": ZF(), "mmse": MMSE(),
                                         "wmmse": WMMSE()}
            base = []
            for name in ctx.progress(BASELINES, total=len(BASELINES),
                                     desc=f"baselines on {test.batch_size} instances"):
                design, sec = _timed(designers[name].design, test, cfg.warmup_instances)
                base.append({"kind": "method", "plane": "rate_crb", "method": name,
                             "instances": test.batch_size, **_scores(test, design.w),
                             "seconds_per_instance": sec})
            wm = base[BASELINES.index("wmmse")]["sum_rate"]
            ctx.record("baselines", [{**r, "frac_wmmse": r["sum_rate"] / wm} for r in base])
        wmmse_rate = next(r["sum_rate"] for r in ctx.rows("baselines") if r["method"] == "wmmse")

        if not ctx.is_done("dpc_bound"):
            cap, sec = _timed(lambda p: dpc_sum_capacity(p.h, p.power, p.noise_var), test,
                              cfg.warmup_instances)
            ctx.record("dpc_bound", [{"kind": "method", "method": "dpc_bound",
                                      "instances": test.batch_size,
                                      "sum_rate": finite_mean(cap),
                                      "frac_wmmse": finite_mean(cap) / wmmse_rate,
                                      "seconds_per_instance": sec}])

        store = model_store(cfg, ctx)
        todo = [(v, r) for v in cfg.variants for r in cfg.rhos if not ctx.is_done(f"{v}/rho{r:g}")]
        if todo:
            limit = (f"at most {cfg.max_train_time_s:g} s each" if cfg.max_train_time_s > 0
                     else "no time limit")
            ctx.log(f"{len(todo)} network(s) to score (trained on {cfg.num_train} instances, "
                    f"{limit}, {cfg.num_threads} thread(s), unless already in {store.folder})")
        for variant, rho in ctx.progress(todo, total=len(todo), desc="networks"):
            key = f"{variant}/rho{rho:g}"
            designer, info = store.designer(variant, rho, m, cfg.snr_db)
            design, sec = _timed(designer.design, test, cfg.warmup_instances)
            sc = _scores(test, design.w)
            ctx.record(key, [{
                "kind": "method", "plane": "rate_crb", "method": _label(variant, rho),
                "variant": variant, "rho": rho, "instances": test.batch_size, **sc,
                "frac_wmmse": sc["sum_rate"] / wmmse_rate, "seconds_per_instance": sec,
                **{k: info[k] for k in ("train_time_s", "epochs", "stop_reason",
                                        "time_to_95pct_wmmse_s") if k in info}}])

        small = test.subset(slice(0, min(cfg.sdr_instances, test.batch_size)))
        grid = list(cfg.sdr_sinr_db) if cfg.sdr_instances > 0 else []
        if grid and not all(ctx.is_done(f"sdr/{g:g}") for g in grid):
            for row in _sdr_rows(small, grid, wmmse_rate, ctx):
                ctx.record(f"sdr/{row['sinr_min_db']:g}", [row])

        rows = ctx.rows()
        # the DPC bound as a horizontal line across the plotted CRB range
        crbs = [r["sum_crb_db"] for r in rows
                if r.get("plane") == "rate_crb" and math.isfinite(r.get("sum_crb_db", math.nan))]
        dpc = next(r for r in rows if r["method"] == "dpc_bound")
        if crbs and not ctx.is_done("dpc_line"):
            ctx.record("dpc_line", [{"kind": "dpc_line", "plane": "rate_crb",
                                     "method": "dpc_bound", "sum_rate": dpc["sum_rate"],
                                     "sum_crb_db": x} for x in (min(crbs), max(crbs))])
        return _summary(cfg, rows, wmmse_rate, ctx)


def _sdr_rows(small: Any, grid: list[float], wmmse_rate: float,
              ctx: RunContext) -> list[dict[str, Any]]:
    """The SDR boundary over ``grid``, each point the mean over the instances feasible at
    *every* Γ (so that the whole curve describes the same instances; averaging each Γ over its
    own feasible set, as :func:`isaclearn.solvers.sdr_boundary` does, would let the hard
    instances drop out of the high-Γ points only)."""
    from isaclearn.solvers import SdrTradeoff

    per = []
    for gamma_db in grid:
        start = time.perf_counter()
        loop = solver_progress(ctx, f"SDR programs at SINR target {gamma_db:g} dB")
        design = SdrTradeoff(sinr_min_db=gamma_db, progress=loop).design(small)
        sec = (time.perf_counter() - start) / small.batch_size
        ok = torch.as_tensor(design.info["feasible"], dtype=torch.bool)
        w = torch.where(ok[:, None, None], design.w, torch.zeros_like(design.w))
        rate = evaluate(small, Design(w=w))["sum_rate"].double()
        crb = torch.as_tensor(design.info["rank_one_sum_crb"], dtype=torch.float64)
        per.append((gamma_db, ok, rate, crb, sec))
    common = torch.stack([p[1] for p in per]).all(0)
    n = int(common.sum())
    if n < small.batch_size:
        ctx.log(f"SDR boundary: {n} of {small.batch_size} instances feasible at every target "
                f"up to {max(grid):g} dB; its points average over those")
    rows = []
    for gamma_db, ok, rate, crb, sec in per:
        mean_rate = float(rate[common].mean()) if n else math.nan
        rows.append({"kind": "method", "plane": "rate_crb", "method": "sdr_boundary",
                     "sinr_min_db": gamma_db, "instances": n, "sum_rate": mean_rate,
                     "sum_crb_db": db(float(crb[common].mean())) if n else math.nan,
                     "frac_wmmse": mean_rate / wmmse_rate,
                     "fraction_feasible": float(ok.double().mean()),
                     "seconds_per_instance": sec})
    return rows


def _summary(cfg: DemoConfig, rows: list[dict[str, Any]], wmmse_rate: float,
             ctx: RunContext) -> dict[str, Any]:
    methods = {r["method"]: r for r in rows
               if r.get("kind") == "method" and r["method"] != "sdr_boundary"}
    wmmse_sec = methods["wmmse"]["seconds_per_instance"]
    out: dict[str, Any] = {
        "wmmse_reference": WMMSE_REFERENCE,
        "methods": {n: {k: r.get(k) for k in ("sum_rate", "sum_crb_db", "frac_wmmse",
                                               "seconds_per_instance", "train_time_s")}
                    for n, r in methods.items()},
        "sdr_boundary": [{k: r.get(k) for k in ("sinr_min_db", "sum_rate", "sum_crb_db",
                                                 "fraction_feasible")}
                         for r in rows if r["method"] == "sdr_boundary"],
        "training": {"num_train": cfg.num_train, "max_train_time_s": cfg.max_train_time_s,
                     "threads": cfg.num_threads},
    }
    for variant in cfg.variants:
        for rho in cfg.rhos:
            r = methods.get(_label(variant, rho))
            if r is None:
                continue
            speedup = wmmse_sec / r["seconds_per_instance"]
            out["methods"][_label(variant, rho)]["speedup_vs_wmmse"] = speedup
            ctx.log(f"{_label(variant, rho)}: sum rate {r['sum_rate']:.2f} bit/s/Hz "
                    f"({100 * r['sum_rate'] / wmmse_rate:.1f} % of WMMSE), sum CRB "
                    f"{r['sum_crb_db']:.2f} dB, {1e6 * r['seconds_per_instance']:.1f} us per "
                    f"instance ({speedup:.0f}x faster than WMMSE), trained "
                    f"{r.get('train_time_s', 0.0):.0f} s")
    return out


register(ExperimentSpec(
    name="temiz_unsup.demo",
    fn=run_demo,
    config_cls=DemoConfig,
    profiles={
        "quick": {"variants": ("struct",), "num_train": 8000, "max_epochs": 100,
                  "patience": 10, "max_train_time_s": 35.0, "num_test": 1000,
                  "num_beta": 256, "num_gamma": 16, "sdr_instances": 8},
        "paper": {"variants": ("struct",), "num_train": 100_000, "max_epochs": 100,
                  "patience": 10, "max_train_time_s": 240.0, "num_test": 20_000,
                  "num_beta": 1024, "num_gamma": 64, "sdr_instances": 32,
                  "sdr_sinr_db": (-10.0, -5.0, 0.0, 2.5, 5.0, 7.5)},
    },
    description="the front door: a structured network trained in ~90 s (rho = 1 and 0.5) "
                "beside MRT, ZF, MMSE, WMMSE, the SDR boundary and the DPC bound",
    plots=[PlotSpec(filename="rate_crb.png", x="sum_crb_db", y=["sum_rate"],
                    where={"plane": "rate_crb"},
                    title="Every method on the rate-CRB plane",
                    xlabel="sum CRB (dB rad^2), lower is better",
                    ylabels=["sum rate (bit/s/Hz)"])],
    table_columns=["method", "sinr_min_db", "instances", "sum_rate", "sum_crb_db",
                   "frac_wmmse", "seconds_per_instance", "train_time_s"],
    table_where={"kind": "method"},
    table_group=["sinr_min_db"],
))
