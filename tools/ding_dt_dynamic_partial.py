"""Summary of a (possibly unfinished) ding_dt dynamic run from its ``results.csv``.

A killed ``ding_dt.dynamic_20`` / ``dynamic_50`` run keeps its finished seed chunks; its
``summary.json`` is written only at the end. This prints, over the seeds present: per method the
time-averaged total rate, the gain over ``distance`` (all, early, late), each as mean ± 95 %
CI half-width over seeds (Student t, :func:`isaclearn.systems.ding_dt.experiments.ci95`), the
share of (seed, bin) with a gain ≥ 0 and of (seed, bin) with lstm ≥ greedy, both within the
run's tolerance (``fp_tol`` relative, as the run's own summary computes them).

Usage: PYTHONPATH=src python tools/ding_dt_dynamic_partial.py runs/<run>/results.csv
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import torch

from isaclearn.systems.ding_dt.experiments import _gain_shares, _paired, ci95


def main(path: str) -> None:
    tol = float(json.loads((Path(path).parent / "config.json").read_text())
                .get("config", {}).get("fp_tol", 1e-3))
    with open(path, newline="") as fh:
        raw = list(csv.DictReader(fh))
    rows: list[dict[str, Any]] = []
    for r in raw:
        row: dict[str, Any] = {k: v for k, v in r.items() if v != ""}
        for k in ("sum_rate", "gain_vs_distance", "early_gain", "late_gain", "num_vehicles",
                  "time_s"):
            if k in row:
                row[k] = float(row[k])
        row["seed"] = int(row["seed"])
        rows.append(row)
    runs = [r for r in rows if r["kind"] == "run"]
    bins = [r for r in rows if r["kind"] in ("bin", "plot")]
    seeds = sorted({r["seed"] for r in runs})
    print(f"{len(seeds)} seeds: {seeds} (tolerance {tol:g})")
    shares = _gain_shares(bins, tol)
    for m in dict.fromkeys(r["method"] for r in runs):
        rs = [r for r in runs if r["method"] == m]
        parts = []
        for col in ("sum_rate", "gain_vs_distance", "early_gain", "late_gain", "num_vehicles"):
            vals = [r[col] for r in rs if col in r]
            if vals:
                mean, half = ci95(torch.tensor(vals, dtype=torch.float64))
                parts.append(f"{col} {mean:.3f} ± {half:.3f}")
        sh = [v["share_gain_nonnegative"] for (mm, _), v in shares.items() if mm == m]
        if sh and m != "distance":
            parts.append(f"share of bins with gain >= 0: {sum(sh) / len(sh):.3f}")
        print(f"{m}: " + "; ".join(parts))
    methods = {r["method"] for r in runs}
    if {"lstm", "greedy"} <= methods:
        share = _paired(bins, 'lstm', 'greedy', tol)
        print(f"share of (seed, bin) with lstm >= greedy: {share:.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
