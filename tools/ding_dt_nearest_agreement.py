"""How often Alg. 3's assignment label is the nearest RSU (the Bi-LSTM accuracy baseline).

The snapshots of ``collect_snapshots`` (constant traffic, 10 slots with ``steer``, then Alg. 3),
64 instances × 4 labelled slots per K, seed ``2000 + K`` (the validation seed of the Bi-LSTM
curves at ``seed = 0``), N_t = N_r = 32, the quick profile's FP controls: prints, per K, the share
of real vehicles whose Alg. 3 RSU equals the nearest RSU (by predicted distance), i.e. the
validation accuracy of a network that only learnt "nearest".

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 python tools/ding_dt_nearest_agreement.py [POWER_DB]
"""

from __future__ import annotations

import sys
from typing import Any

import torch

from isaclearn.channels.highway import constant_traffic
from isaclearn.core.random import make_generator
from isaclearn.solvers.assignment import nearest_rsu
from isaclearn.systems.ding_dt import make_settings, run_twin
from isaclearn.systems.ding_dt.designers import (
    AssignmentDesigner,
    SteerDesigner,
    SwitchDesigner,
)


def main(power_db: float) -> None:
    torch.set_num_threads(1)
    s = make_settings(num_antennas=32, power_db=power_db, sensing_constraint="paper",
                      fp_tol=1e-3, fp_max_iter=30)
    for k in (4, 8):
        gen = make_generator(2000 + k)
        traffic = constant_traffic(s.highway, k, 64, gen)
        agree = [0, 0]

        def keep(n: int, problem: Any, design: Any, metrics: Any,
                 agree: list[int] = agree) -> None:
            if n >= 10:
                m = problem.mask
                near = nearest_rsu(problem.distance_m, m)
                agree[0] += int(((near == metrics.assign) & m).sum())
                agree[1] += int(m.sum())

        run_twin(s, traffic, SwitchDesigner(SteerDesigner(), AssignmentDesigner("alg3", s), 10),
                 14, generator=gen, features=True, on_slot=keep)
        print(f"P = {power_db:g} dB, K = {k}: Alg. 3 label == nearest RSU for "
              f"{agree[0] / agree[1]:.4f} of {agree[1]} vehicles", flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
