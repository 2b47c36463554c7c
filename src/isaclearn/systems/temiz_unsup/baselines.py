"""``temiz_unsup.baselines``: every classical designer on the paper's scenario (the demo).

Samples the temiz_unsup scenario (``M = K = 10``, targets at −10° and 25°, ``R = 10``,
``SNR = 20 dB``), runs every baseline designer, and records

* ``kind = "designer"`` rows: mean sum rate, sum CRB (dB), fairness and time per instance of
  each designer, plus the dirty-paper-coding sum capacity (the sum-rate upper bound);
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
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.random import make_generator
from isaclearn.metrics import beampattern
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext, register
from isaclearn.systems.temiz_unsup.designers import CONVEX_DESIGNERS, baseline_designers
from isaclearn.systems.temiz_unsup.evaluation import evaluate
from isaclearn.systems.temiz_unsup.scenario import make_scenario


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


def _timed_design(designer: Any, problem: Any) -> tuple[Design, float]:
    start = time.perf_counter()
    design = designer.design(problem)
    return design, time.perf_counter() - start


def _mean(x: torch.Tensor) -> float:
    x = x[torch.isfinite(x)]
    return float(x.mean()) if x.numel() else math.nan


def run_baselines(cfg: BaselinesConfig, ctx: RunContext) -> dict[str, Any]:
    """Run every baseline designer; see the module docstring."""
    from isaclearn.solvers import dpc_sum_capacity

    scenario = make_scenario(cfg.num_antennas, cfg.num_users, snr_db=cfg.snr_db)
    problem = scenario.sample(cfg.batch, generator=make_generator(cfg.seed))
    small = problem.subset(slice(0, min(cfg.convex_batch, cfg.batch)))
    grid = torch.linspace(-90.0, 90.0, cfg.grid_points, dtype=torch.float64)
    designers = baseline_designers(include_convex=True, sdr_sinr_db=cfg.sdr_sinr_db)
    summary: dict[str, Any] = {"designers": {}}

    for name in ctx.progress(list(designers), desc="designers"):
        key = f"designer/{name}"
        if ctx.is_done(key):
            continue
        prob = small if name in CONVEX_DESIGNERS else problem
        design, seconds = _timed_design(designers[name], prob)
        w = design.w
        ok = torch.isfinite(w).flatten(1).all(dim=1)
        metrics = evaluate(prob, design) if bool(ok.all()) else evaluate(
            prob.subset(ok), Design(w=w[ok])
        )
        pattern = beampattern(w[ok].to(torch.complex128), torch.deg2rad(grid)).mean(0)
        row = {
            "kind": "designer",
            "plane": "rate_crb",
            "method": name,
            "instances": int(ok.sum()),
            "sum_rate": _mean(metrics["sum_rate"]),
            "sum_crb_db": 10.0 * math.log10(_mean(metrics["sum_crb"])),
            "rate_fairness": _mean(metrics["rate_fairness"]),
            "crb_fairness": _mean(metrics["crb_fairness"]),
            "seconds_per_instance": seconds / prob.batch_size,
        }
        pattern_rows = [
            {"kind": "beampattern", "method": name, "angle_deg": float(a),
             "gain_db": 10.0 * math.log10(max(float(p), 1e-300))}
            for a, p in zip(grid, pattern)
        ]
        ctx.record(key, [row, *pattern_rows])
        ctx.log(f"{name}: sum rate {row['sum_rate']:.2f} bit/s/Hz, "
                f"sum CRB {row['sum_crb_db']:.2f} dB")

    if not ctx.is_done("designer/dpc_bound"):
        start = time.perf_counter()
        cap = dpc_sum_capacity(problem.h, problem.power, problem.noise_var)
        seconds = time.perf_counter() - start
        ctx.record("designer/dpc_bound", [{
            "kind": "designer", "method": "dpc_bound", "instances": cfg.batch,
            "sum_rate": _mean(cap), "seconds_per_instance": seconds / cfg.batch,
        }])

    from isaclearn.solvers import SdrTradeoff

    for gamma_db in ctx.progress(list(cfg.tradeoff_sinr_db), desc="SDR trade-off"):
        key = f"tradeoff/{gamma_db:g}"
        if ctx.is_done(key):
            continue
        design = SdrTradeoff(sinr_min_db=gamma_db).design(small)
        feasible = torch.as_tensor(design.info["feasible"], dtype=torch.bool)
        w = torch.where(feasible[:, None, None], design.w, torch.zeros_like(design.w))
        metrics = evaluate(small, Design(w=w))
        bound = torch.as_tensor(design.info["relaxation_sum_crb"], dtype=torch.float64)
        ctx.record(key, [
            {"kind": "tradeoff_instance", "method": "sdr", "sinr_min_db": gamma_db,
             "instance": i, "feasible": bool(feasible[i]),
             "sum_rate": float(metrics["sum_rate"][i]) if feasible[i] else math.nan,
             "sum_crb": float(metrics["sum_crb"][i]) if feasible[i] else math.nan,
             "relaxation_sum_crb": float(bound[i]) if feasible[i] else math.nan}
            for i in range(small.batch_size)
        ])
    ctx.record("tradeoff/boundary", _boundary_rows(ctx.rows(), cfg.tradeoff_sinr_db))

    rows = ctx.rows()
    for r in rows:
        if r.get("kind") == "designer":
            summary["designers"][r["method"]] = {
                k: r[k] for k in ("sum_rate", "sum_crb_db", "seconds_per_instance") if k in r
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
                "SDR rate-CRB boundary (the demo)",
    plots=[
        PlotSpec(filename="beampatterns.png", x="angle_deg", y=["gain_db"],
                 where={"kind": "beampattern"}, title="Mean transmit beampattern",
                 xlabel="angle (deg)", ylabels=["a^H R_X a (dB)"]),
        PlotSpec(filename="rate_crb.png", x="sum_crb_db", y=["sum_rate"],
                 where={"plane": "rate_crb"},
                 title="Sum rate vs sum CRB: designers and the SDR boundary",
                 xlabel="sum CRB (dB rad^2)", ylabels=["sum rate (bit/s/Hz)"]),
        PlotSpec(filename="tradeoff.png", x="sinr_min_db",
                 y=["sum_rate", "sum_crb_db", "relaxation_sum_crb_db"],
                 where={"kind": "tradeoff"},
                 title="SDR trade-off vs per-user SINR target (instances feasible at every target)",
                 xlabel="SINR target (dB)",
                 ylabels=["sum rate (bit/s/Hz)", "sum CRB of W (dB)", "relaxation bound (dB)"]),
    ],
    table_columns=["method", "instances", "sum_rate", "sum_crb_db", "rate_fairness",
                   "crb_fairness", "seconds_per_instance"],
    table_where={"kind": "designer"},
))
