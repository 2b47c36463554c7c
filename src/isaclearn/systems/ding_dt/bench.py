"""``isaclearn bench ding_dt``: time per slot of the Bi-LSTM, Alg. 3, greedy and distance at
several K, side by side in one process (Sec. VI-C).

Each designer designs the same snapshot problems (one slot of a running twin,
:class:`~isaclearn.systems.ding_dt.scenario.SnapshotScenario`, ``--batch`` instances of K
vehicles) once untimed on one instance, then ``--repeat`` times; ``seconds_per_slot`` is the
best call divided by the instances, ``ratio_to_alg3`` its ratio to Alg. 3's at the same K (the
ratios, not the absolute times, compare across machines). The Bi-LSTM runs with the weights of
``--checkpoint`` (a stem of either network of a pair) or, without it, untrained weights of the
default size (its time does not depend on the weights). FP + PGD use the tolerance
``--fp-tol``. Benchmarks report speed; they are never timed tests.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

from isaclearn.core.errors import ConfigError
from isaclearn.systems.base import BenchSuite, seed_arg

SLOT_COLUMNS = ["designer", "num_vehicles", "batch", "seconds_per_slot", "ratio_to_alg3"]


def _ints(text: str) -> list[int]:
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") \
            from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return out


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vehicles", type=_ints, default=[5, 10, 20],
                   help="comma-separated K values (default 5,10,20)")
    p.add_argument("--antennas", type=int, default=32, help="N_t = N_r (default 32)")
    p.add_argument("--power-db", type=float, default=20.0, help="per-beam power, dB (default 20)")
    p.add_argument("--batch", type=int, default=4, help="instances per call (default 4)")
    p.add_argument("--repeat", type=int, default=1, help="timed calls, best kept (default 1)")
    p.add_argument("--fp-tol", type=float, default=1e-3,
                   help="FP relative tolerance (default 1e-3)")
    p.add_argument("--designers", default="lstm,alg3,greedy,distance",
                   help="comma-separated designers (default lstm,alg3,greedy,distance)")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="trained Bi-LSTM pair (stem of either network); default: untrained "
                        "weights")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the snapshots")


def run_slots(options: argparse.Namespace, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Time every designer at every K (module docstring)."""
    from isaclearn.systems.ding_dt.config import make_settings
    from isaclearn.systems.ding_dt.designers import DESIGNER_NOTES
    from isaclearn.systems.ding_dt.experiments import time_methods
    from isaclearn.systems.ding_dt.learned import LstmSettings

    for name in ("antennas", "batch", "repeat"):
        if getattr(options, name) < 1:
            raise ConfigError(f"--{name} must be >= 1, got {getattr(options, name)}")
    if not options.fp_tol > 0:
        raise ConfigError(f"--fp-tol must be > 0, got {options.fp_tol}")
    names = [s.strip() for s in str(options.designers).split(",") if s.strip()]
    unknown = [n for n in names if n not in DESIGNER_NOTES]
    if unknown or not names:
        raise ConfigError(f"--designers: unknown designer {', '.join(unknown)}; available: "
                          f"{', '.join(DESIGNER_NOTES)}" if unknown else
                          "--designers: no designer named")
    settings = make_settings(num_antennas=options.antennas, power_db=options.power_db,
                             fp_tol=options.fp_tol)
    lstm = None
    if getattr(options, "checkpoint", None):
        from isaclearn.learn.bilstm import load_bilstm
        from isaclearn.systems.ding_dt.designers import LstmDesigner
        from isaclearn.systems.ding_dt.system import partner_stem

        a, b = partner_stem(options.checkpoint)
        expect = {"num_tx": settings.num_tx, "num_rx": settings.num_rx}
        lstm = LstmDesigner(load_bilstm(a, expect={**expect, "head": "assign"}),
                            load_bilstm(b, expect={**expect, "head": "beam"}))
    if torch.device(getattr(options, "device", "cpu")).type != "cpu":
        log("ding_dt designs on the CPU (its twin runs in float64 on the CPU); --device ignored")
    rows = time_methods(settings, options.vehicles, names, LstmSettings(),
                        batch=options.batch, repeat=options.repeat, seed=options.seed,
                        log=log, lstm_designer=lstm)
    for r in rows:
        r["designer"] = r.pop("method")
        r["batch"] = options.batch
    return rows


SLOT_SUITE = BenchSuite(
    name="ding_dt",
    description="time per slot of the Bi-LSTM, Alg. 3, greedy and distance at several K "
                "(ding_dt), ratios to Alg. 3",
    add_arguments=_add_arguments,
    run=run_slots,
    columns=SLOT_COLUMNS,
)
"""The ``isaclearn bench ding_dt`` suite."""

__all__ = ["SLOT_COLUMNS", "SLOT_SUITE", "run_slots"]
