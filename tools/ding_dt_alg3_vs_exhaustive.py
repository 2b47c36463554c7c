"""Alg. 3, greedy and distance against the exhaustive oracle on ding_dt twin snapshots.

For each sensing-constraint mode (paper, none, slack), power (20, 40 dB) and K (2, 4, 6, 8):
8 snapshot instances (one slot of a running twin, N_t = N_r = 32, seed 100 + K), every designer
on the same instances; prints one JSON line per case with the mean sum rates (bit/s/Hz), the
time per instance (s) and alg3 / exhaustive, and writes them all to the file given as the first
argument (default ``runs/alg3_vs_exh.json``).

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 python tools/ding_dt_alg3_vs_exhaustive.py [OUT.json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from isaclearn.core.random import make_generator
from isaclearn.systems.ding_dt import evaluate, make_scenario, make_settings
from isaclearn.systems.ding_dt.designers import make_designer


def main(out: Path) -> None:
    torch.set_num_threads(1)
    rows = []
    for mode in ("paper", "none", "slack"):
        for power_db in (20.0, 40.0):
            s = make_settings(num_antennas=32, power_db=power_db, sensing_constraint=mode)
            for k in (2, 4, 6, 8):
                p = make_scenario(k, warmup_slots=5, num_antennas=32, power_db=power_db,
                                  sensing_constraint=mode).sample(
                    8, generator=make_generator(100 + k))
                r: dict[str, object] = {"mode": mode, "power_db": power_db, "K": k}
                for name in ("alg3", "exhaustive", "distance", "greedy"):
                    t = time.perf_counter()
                    d = make_designer(name, s).design(p)
                    r[f"{name}_s"] = (time.perf_counter() - t) / p.batch_size
                    r[name] = float(evaluate(p, d)["sum_rate"].mean())
                r["alg3_over_exh"] = float(r["alg3"]) / float(r["exhaustive"])  # type: ignore[arg-type]
                print(json.dumps(r), flush=True)
                rows.append(r)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/alg3_vs_exh.json"))
