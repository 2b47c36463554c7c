"""Paired per-seed differences of a finished ``ding_dt.vehicles`` run (Fig. 7).

A ``vehicles`` run stores, per (P, K, method), the rate per vehicle averaged over its seeds with
an unpaired 95 % CI. Every method of a point runs on the *same* traffic and noise, so the
differences between methods are better judged seed by seed. This tool re-runs the four methods
of the paper (or ``--methods``) of every point of the run in ``RUN`` exactly as
:func:`isaclearn.systems.ding_dt.experiments.constant_point` does (its ``config.json``: the same
traffic and noise generators, warm-up with ``steer``, the Bi-LSTM pair from ``checkpoint_dir``
-- a run that trained its own pair is refused), checks that the mean rate per vehicle of each
method equals the run's ``results.csv`` (to 1e-9 relative; it prints the largest deviation),
and prints per K:

* each method's rate per vehicle, mean ± 95 % CI half-width over the seeds (Student t);
* the paired differences alg3 − lstm, lstm − distance, greedy − distance, alg3 − greedy
  (mean ± 95 % CI of the per-seed difference, and in how many seeds it is > 0);
* between consecutive K (different traffic: unpaired, Welch's 95 % CI) the change of each
  method's rate per vehicle.

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 python tools/ding_dt_vehicles_paired.py RUN [--methods a,b]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

import torch
from scipy import stats

from isaclearn.channels.highway import constant_traffic
from isaclearn.core.random import make_generator
from isaclearn.systems.ding_dt.designers import SteerDesigner, SwitchDesigner, make_designer
from isaclearn.systems.ding_dt.experiments import VehiclesConfig, ci95
from isaclearn.systems.ding_dt.learned import load_pair
from isaclearn.systems.ding_dt.twin import run_twin

PAIRS = (("alg3", "lstm"), ("lstm", "distance"), ("greedy", "distance"), ("alg3", "greedy"))


def per_seed_rates(cfg: VehiclesConfig, power_db: float, k: int,
                   methods: list[str]) -> dict[str, torch.Tensor]:
    """``[num_seeds]`` time-averaged rate per vehicle of each method at (P, K), as
    ``constant_point`` computes it before averaging over the seeds."""
    settings = cfg.settings(power_db=power_db)
    traffic = constant_traffic(settings.highway, k, cfg.num_seeds,
                               make_generator(cfg.seed + 17 * k))
    w, n = cfg.warmup_slots, cfg.measure_slots
    out: dict[str, torch.Tensor] = {}
    for name in methods:
        if name == "lstm":
            pair = load_pair(cfg.checkpoint_dir, settings)
            if pair is None:
                raise SystemExit(f"no Bi-LSTM pair for {settings} under {cfg.checkpoint_dir}")
            main = pair
        else:
            main = make_designer(name, settings)
        trace = run_twin(settings, traffic, SwitchDesigner(SteerDesigner(), main, w), w + n,
                         generator=make_generator(cfg.seed + 7919 + k))
        out[name] = trace.rate_per_vehicle[w:].mean(0).double()
    return out


def welch(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean of ``b − a`` and its Welch 95 % CI half-width."""
    va, vb = float(a.var(unbiased=True)) / a.numel(), float(b.var(unbiased=True)) / b.numel()
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (a.numel() - 1) + vb ** 2 / (b.numel() - 1))
    return float(b.mean() - a.mean()), float(stats.t.ppf(0.975, dof)) * se


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="folder of a finished ding_dt.vehicles run")
    ap.add_argument("--methods", default="alg3,lstm,greedy,distance")
    args = ap.parse_args()
    torch.set_num_threads(1)
    run = Path(args.run)
    raw: dict[str, Any] = json.loads((run / "config.json").read_text())["config"]
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    cfg = VehiclesConfig(**fields)
    methods = args.methods.split(",")
    if "lstm" in methods and not cfg.checkpoint_dir:
        raise SystemExit("the run trained its own Bi-LSTM pair: give a run with checkpoint_dir "
                         "or leave lstm out of --methods")
    with open(run / "results.csv", newline="") as fh:
        stored = {(float(r["power_db"]), int(r["num_vehicles"]), r["method"]):
                  float(r["rate_per_vehicle"]) for r in csv.DictReader(fh)}
    worst = 0.0
    for p in cfg.power_dbs:
        prev: dict[str, torch.Tensor] = {}
        prev_k = None
        for k in cfg.vehicles:
            rates = per_seed_rates(cfg, p, k, methods)
            print(f"P = {p:g} dB, K = {k} ({cfg.num_seeds} seeds)")
            for m, v in rates.items():
                mean, half = ci95(v)
                ref = stored.get((p, k, m))
                if ref is not None:
                    worst = max(worst, abs(mean - ref) / max(abs(ref), 1e-12))
                shown = "–" if ref is None else f"{ref:.4f}"
                print(f"  {m:9s} {mean:.4f} ± {half:.4f}  (run: {shown})")
            for a, b in PAIRS:
                if a in rates and b in rates:
                    d = rates[a] - rates[b]
                    mean, half = ci95(d)
                    print(f"  {a} − {b}: {mean:+.4f} ± {half:.4f} (paired), > 0 in "
                          f"{int((d > 0).sum())} of {d.numel()} seeds")
            if prev:
                for m in rates:
                    if m in prev:
                        mean, half = welch(prev[m], rates[m])
                        print(f"  {m} K = {prev_k} → {k}: {mean:+.4f} ± {half:.4f} (Welch)")
            prev, prev_k = rates, k
    print(f"largest relative deviation from the run's results.csv: {worst:.2e}")
    if worst > 1e-9:
        raise SystemExit("the re-run does not reproduce the run's means")


if __name__ == "__main__":
    main()
