"""``temiz_unsup.baselines``: every classical designer on the paper's scenario (no training).

Samples the temiz_unsup scenario (``M = K = 10``, targets at −10° and 25°, ``R = 10``,
``SNR = 20 dB``), runs every baseline designer, and records

* ``kind = "designer"`` rows: mean sum rate, sum CRB (dB), fairness and time per instance
  (``seconds_per_instance``, measured after an untimed warm-up call by
  :func:`~isaclearn.systems.toolkit.time_designer`) of each designer, plus the
  dirty-paper-coding sum capacity (the sum-rate upper bound);
* ``kind = "beampattern"`` rows: the mean transmit beampattern of each designer;
* ``kind = "tradeoff_instance"`` rows: per instance and SINR target Γ, the SDR trade-off
  reference (minimum sum CRB subject to every user's SINR ≥ Γ): feasibility, the sum rate and
  sum CRB of the extracted rank-one precoder and the relaxation's bound;
* ``kind = "tradeoff"`` rows: the rate–CRB boundary, the mean of those over the instances that
  are feasible at every Γ of the grid.

The convex designers solve one program per instance and run on the first ``convex_batch``
instances only; their rows say so in the ``instances`` column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.random import make_generator
from isaclearn.metrics import beampattern
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext, check_fields, register
from isaclearn.systems.temiz_unsup.designers import CONVEX_DESIGNERS, baseline_designers
from isaclearn.systems.temiz_unsup.evaluation import evaluate, row_metrics
from isaclearn.systems.temiz_unsup.scenario import make_scenario
from isaclearn.systems.toolkit import (
    finite_instances,
    finite_mean,
    record_once,
    score,
    solver_progress,
    summarize,
    sweep,
    time_designer,
)


@dataclass
class BaselinesConfig:
    """Configuration of ``temiz_unsup.baselines``."""

    num_antennas: int = 10
    """Transmit antennas ``M``."""
    num_users: int = 10
    """Users ``K``."""
    snr_db: float = 20.0
    """``P_t / σ²`` in dB."""
    batch: int = 512
    """Instances for the closed-form and iterative designers."""
    convex_batch: int = 8
    """Instances (the first ones of the batch) for the CVXPY designers."""
    sdr_sinr_db: float = 0.0
    """SINR target Γ of the ``sdr`` designer row."""
    tradeoff_sinr_db: tuple[float, ...] = field(
        default_factory=lambda: (-10.0, -5.0, 0.0, 2.5, 5.0)
    )
    """Γ grid of the SDR trade-off boundary, dB."""
    grid_points: int = 361
    """Angles of the beampattern grid over [−90°, 90°]."""
    seed: int = 0
    """Seed of the scenario sample."""

    def __post_init__(self) -> None:
        check_fields(self, at_least_1=("num_antennas", "num_users", "batch", "grid_points"),
                     at_least_0=("convex_batch",))


_CONVEX_WARMUP = 1
"""Instances of the untimed warm-up call of a convex designer (one program per instance)."""
_WARMUP_CAP = 1000
"""At most this many instances in the warm-up call of the other designers."""


def _warmup_instances(name: str, batch: int) -> int:
    return _CONVEX_WARMUP if name in CONVEX_DESIGNERS else min(batch, _WARMUP_CAP)


_ROW_COLUMNS = ("sum_rate", "sum_crb_db", "rate_fairness", "crb_fairness")


def _reduce(metrics: Mapping[str, torch.Tensor]) -> dict[str, float]:
    # Means in the metrics' own precision (float32 for the default complex64 problems): the
    # numbers this table has always reported; the learned-precoder experiments average in
    # float64.
    return row_metrics(metrics, _ROW_COLUMNS, dtype=None)


def run_baselines(cfg: BaselinesConfig, ctx: RunContext) -> dict[str, Any]:
    """Run every baseline designer; see the module docstring."""
    from isaclearn.solvers import SdrTradeoff, dpc_sum_capacity

    scenario = make_scenario(cfg.num_antennas, cfg.num_users, snr_db=cfg.snr_db)
    problem = scenario.sample(cfg.batch, generator=make_generator(cfg.seed))
    small = problem.subset(slice(0, min(cfg.convex_batch, cfg.batch)))
    grid = torch.linspace(-90.0, 90.0, cfg.grid_points, dtype=torch.float64)
    designers = baseline_designers(include_convex=True, sdr_sinr_db=cfg.sdr_sinr_db)
    for name in CONVEX_DESIGNERS:  # show the per-instance programs of the convex designers
        designers[name].progress = solver_progress(ctx, f"{name}: convex programs")

    def designer_rows(name: str) -> list[dict[str, Any]]:
        prob = small if name in CONVEX_DESIGNERS else problem
        design, seconds = time_designer(
            designers[name], prob, warmup_instances=_warmup_instances(name, prob.batch_size))
        row = {"kind": "designer", "plane": "rate_crb",
               **score(name, prob, design, evaluate, reduce=_reduce,
                       seconds_per_instance=seconds)}
        w = design.w[finite_instances(design)]
        pattern = beampattern(w.to(torch.complex128), torch.deg2rad(grid)).mean(0)
        pattern_rows = [
            {"kind": "beampattern", "method": name, "angle_deg": float(a),
             "gain_db": 10.0 * math.log10(max(float(p), 1e-300))}
            for a, p in zip(grid, pattern)
        ]
        ctx.log(f"{name}: sum rate {row['sum_rate']:.2f} bit/s/Hz, "
                f"sum CRB {row['sum_crb_db']:.2f} dB")
        return [row, *pattern_rows]

    sweep(ctx, list(designers), lambda name: f"designer/{name}", designer_rows,
          desc="designers")

    def dpc_rows() -> list[dict[str, Any]]:
        cap, seconds = time_designer(
            lambda p: dpc_sum_capacity(p.h, p.power, p.noise_var), problem,
            warmup_instances=min(cfg.batch, _WARMUP_CAP))
        return [{"kind": "designer", "method": "dpc_bound", "instances": cfg.batch,
                 "sum_rate": finite_mean(cap, dtype=None), "seconds_per_instance": seconds}]

    record_once(ctx, "designer/dpc_bound", dpc_rows)

    def tradeoff_rows(gamma_db: float) -> list[dict[str, Any]]:
        loop = solver_progress(ctx, f"SDR programs at SINR target {gamma_db:g} dB")
        design = SdrTradeoff(sinr_min_db=gamma_db, progress=loop).design(small)
        feasible = torch.as_tensor(design.info["feasible"], dtype=torch.bool)
        w = torch.where(feasible[:, None, None], design.w, torch.zeros_like(design.w))
        metrics = evaluate(small, Design(w=w))
        bound = torch.as_tensor(design.info["relaxation_sum_crb"], dtype=torch.float64)
        return [
            {"kind": "tradeoff_instance", "method": "sdr", "sinr_min_db": gamma_db,
             "instance": i, "feasible": bool(feasible[i]),
             "sum_rate": float(metrics["sum_rate"][i]) if feasible[i] else math.nan,
             "sum_crb": float(metrics["sum_crb"][i]) if feasible[i] else math.nan,
             "relaxation_sum_crb": float(bound[i]) if feasible[i] else math.nan}
            for i in range(small.batch_size)
        ]

    sweep(ctx, list(cfg.tradeoff_sinr_db), lambda g: f"tradeoff/{g:g}", tradeoff_rows,
          desc="SDR trade-off")
    boundary = _boundary_rows(ctx.rows(), cfg.tradeoff_sinr_db)
    ctx.record("tradeoff/boundary", boundary)
    if not any(r["instances"] for r in boundary):
        targets = ", ".join(f"{g:g}" for g in cfg.tradeoff_sinr_db)
        ctx.log(f"SDR trade-off: none of the {small.batch_size} instances is feasible at every "
                f"SINR target ({targets} dB), so there is no boundary to draw (tradeoff.png is "
                f"skipped); lower the targets (--set tradeoff_sinr_db=...) or use more "
                f"instances (--set convex_batch=...)")

    summary: dict[str, Any] = {
        "designers": summarize(ctx.rows(), ("sum_rate", "sum_crb_db", "seconds_per_instance"),
                               where={"kind": "designer"}),
    }
    summary["scenario"] = {
        "num_antennas": cfg.num_antennas, "num_users": cfg.num_users, "snr_db": cfg.snr_db,
        "target_angles_deg": list(scenario.target_angles_deg or ()),
        "num_rx": scenario.num_rx, "noise_var": scenario.noise_var,
        "radar_snr": scenario.radar_snr, "gain_normalization":
        scenario.channel.gain_normalization,
    }
    summary["wmmse"] = "best of MRT and RZF initializations, 100 iterations or converged"
    return summary


def _boundary_rows(rows: list[dict[str, Any]], grid: tuple[float, ...]) -> list[dict[str, Any]]:
    """Mean SDR trade-off over the instances feasible at *every* Γ of the grid.

    Averaging each Γ over its own feasible subset would mix different instances along the
    curve (harder instances drop out as Γ grows) and can bend it the wrong way.
    """
    inst = [r for r in rows if r.get("kind") == "tradeoff_instance"]
    ids = sorted({int(r["instance"]) for r in inst})
    ok = [i for i in ids if all(r["feasible"] for r in inst if int(r["instance"]) == i)]
    out: list[dict[str, Any]] = []
    for gamma_db in grid:
        sel = [r for r in inst if r["sinr_min_db"] == gamma_db and int(r["instance"]) in ok]
        row: dict[str, Any] = {"kind": "tradeoff", "plane": "rate_crb", "method": "sdr_boundary",
                               "sinr_min_db": gamma_db, "instances": len(sel)}
        if sel:
            n = len(sel)
            row["sum_rate"] = sum(r["sum_rate"] for r in sel) / n
            row["sum_crb_db"] = 10.0 * math.log10(sum(r["sum_crb"] for r in sel) / n)
            row["relaxation_sum_crb_db"] = 10.0 * math.log10(
                sum(r["relaxation_sum_crb"] for r in sel) / n
            )
        out.append(row)
    return out


SPEC = register(ExperimentSpec(
    name="temiz_unsup.baselines",
    fn=run_baselines,
    config_cls=BaselinesConfig,
    profiles={
        "quick": {"batch": 512, "convex_batch": 8},
        "paper": {"batch": 100_000, "convex_batch": 100},
    },
    description="every classical designer on the paper's scenario: table, beampatterns, "
                "SDR rate-CRB boundary (no training)",
    plots=[
        PlotSpec(filename="beampatterns.png", x="angle_deg", y=["gain_db"],
                 where={"kind": "beampattern"}, title="Mean transmit beampattern",
                 xlabel="angle (deg)", ylabels=["a^H R_X a (dB)"]),
        PlotSpec(filename="rate_crb.png", x="sum_crb_db", y=["sum_rate"],
                 where={"plane": "rate_crb"},
                 title="Sum rate vs sum CRB",
                 xlabel="sum CRB (dB rad^2)", ylabels=["sum rate (bit/s/Hz)"]),
        PlotSpec(filename="tradeoff.png", x="sinr_min_db",
                 y=["sum_rate", "sum_crb_db", "relaxation_sum_crb_db"],
                 where={"kind": "tradeoff"},
                 title="SDR trade-off vs per-user SINR target (instances feasible at every target)",
                 empty_reason="no SDR instance is feasible at every SINR target",
                 xlabel="SINR target (dB)",
                 ylabels=["sum rate (bit/s/Hz)", "sum CRB of W (dB)", "relaxation bound (dB)"]),
    ],
    table_columns=["method", "instances", "sum_rate", "sum_crb_db", "rate_fairness",
                   "crb_fairness", "seconds_per_instance"],
    table_where={"kind": "designer"},
))
