"""``isaclearn bench precoders``: time per instance of every downlink precoder of temiz_unsup.

Side by side in one process on one sample of the temiz_unsup scenario: the baseline designers
(MRT, ZF, MMSE, WMMSE; the CVXPY designers on a few instances), the DPC sum-capacity bound and
any trained network given with ``--checkpoint``. Absolute times depend on the machine, so the
table also gives ratios to WMMSE, which are what compare across machines. Benchmarks report
speed; they are never timed tests.
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, IsacError
from isaclearn.systems.base import BenchSuite

Options = argparse.Namespace
Log = Callable[[str], None]


# --------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], *, repeat: int, device: torch.device,
              warmup: Callable[[], Any] | None = None) -> tuple[float, float, Any]:
    """Best and median wall time (s) of ``repeat`` calls of ``fn`` after one warm-up call.

    ``warmup`` (default ``fn``) is called once first, untimed. Returns ``(best, median,
    result of the last call)``. On CUDA the device is synchronized around each call.
    """
    (warmup or fn)()
    _sync(device)
    times = []
    result: Any = None
    for _ in range(max(1, repeat)):
        _sync(device)
        start = time.perf_counter()
        result = fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def _finite_mean(x: torch.Tensor) -> float:
    x = x.detach().double().reshape(-1)
    x = x[torch.isfinite(x)]
    return float(x.mean()) if x.numel() else math.nan


# --------------------------------------------------------------------------- precoders suite

PRECODER_COLUMNS = ["designer", "batch", "valid_instances", "seconds_per_instance",
                    "ratio_to_wmmse", "sum_rate_mean", "sum_crb_db_mean"]


def _add_precoder_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=int, default=4096,
                   help="instances of the temiz_unsup scenario (default 4096)")
    p.add_argument("--antennas", type=int, default=10, help="transmit antennas M (default 10)")
    p.add_argument("--users", type=int, default=10, help="users K (default 10)")
    p.add_argument("--snr-db", type=float, default=20.0, help="P_t / noise, dB (default 20)")
    p.add_argument("--convex-batch", type=int, default=4,
                   help="instances given to the CVXPY designers, which solve one program "
                        "each (default 4; 0 leaves them out)")
    p.add_argument("--repeat", type=int, default=3,
                   help="timed calls per designer after one warm-up; best is reported "
                        "(default 3)")
    p.add_argument("--designers", default=None,
                   help="comma-separated designer names to time (default: all, including "
                        "dpc_bound)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scenario sample")
    p.add_argument("--single-start-wmmse", action="store_true",
                   help="also time wmmse_rzf: WMMSE from the RZF start alone (100 iterations "
                        "or converged), next to the reference wmmse (best of MRT/ZF/RZF starts)")
    p.add_argument("--checkpoint", action="append", default=None, metavar="PATH",
                   help="trained temiz_unsup network (checkpoint stem, .safetensors or .json) to "
                        "time next to the baselines; repeatable")
    p.add_argument("--rho", type=float, default=None,
                   help="trade-off weight fed to a rho-conditioned network (default: the stored "
                        "one)")


def precoder_designers(options: Options) -> dict[str, Any]:
    """Designers timed by ``bench precoders``: the temiz_unsup baselines (convex ones only
    when ``options.convex_batch > 0``) and the trained networks of ``--checkpoint``."""
    from isaclearn.systems.temiz_unsup.designers import baseline_designers
    from isaclearn.systems.temiz_unsup.learned import learned_designers

    out = dict(baseline_designers(include_convex=options.convex_batch > 0))
    if getattr(options, "single_start_wmmse", False):
        from isaclearn.solvers import WMMSE

        out["wmmse_rzf"] = WMMSE(init="rzf")
    out.update(learned_designers(getattr(options, "checkpoint", None) or [],
                                 rho=getattr(options, "rho", None)))
    return out


def _select(names: list[str], wanted: str | None) -> list[str]:
    if wanted is None:
        return names
    chosen = [s.strip() for s in wanted.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in names]
    if unknown:
        raise ConfigError(f"--designers: unknown designer {', '.join(unknown)}; available: "
                          f"{', '.join(names)}")
    if not chosen:
        raise ConfigError("--designers: no designer named")
    return chosen


def run_precoders(options: Options, log: Log) -> list[dict[str, Any]]:
    """Time every downlink precoder on one sample of the temiz_unsup scenario.

    Each designer's ``design(problem)`` is called once to warm up and then ``options.repeat``
    times; ``seconds_per_instance`` is the best time divided by the instances (the median is
    reported too). The CVXPY designers (``temiz_unsup.CONVEX_DESIGNERS``) get only the first
    ``options.convex_batch`` instances and warm up on one. The ``dpc_bound`` row times
    :func:`isaclearn.solvers.dpc_sum_capacity`, whose mean is the sum-rate upper bound.
    ``ratio_to_wmmse`` is the time per instance divided by WMMSE's. The means are over the
    instances with a finite precoder (``valid_instances``; a convex designer marks infeasible
    instances with NaN).
    """
    from isaclearn.core.random import make_generator
    from isaclearn.systems.temiz_unsup.designers import CONVEX_DESIGNERS
    from isaclearn.systems.temiz_unsup.evaluation import evaluate
    from isaclearn.systems.temiz_unsup.scenario import make_scenario

    for name in ("batch", "antennas", "users", "repeat"):
        if getattr(options, name) < 1:
            raise ConfigError(f"--{name} must be >= 1, got {getattr(options, name)}")
    if options.convex_batch < 0:
        raise ConfigError(f"--convex-batch must be >= 0, got {options.convex_batch}")
    device = torch.device(options.device)
    scenario = make_scenario(options.antennas, options.users,
                                         snr_db=options.snr_db)
    problem = scenario.sample(options.batch, generator=make_generator(options.seed, device),
                              device=device)
    convex_n = min(options.convex_batch, options.batch)
    small = problem.subset(slice(0, max(convex_n, 1)))
    one = problem.subset(slice(0, 1))

    designers = precoder_designers(options)
    names = _select([*designers, "dpc_bound"], options.designers)
    convex = set(CONVEX_DESIGNERS)
    rows: list[dict[str, Any]] = []
    for name in names:
        row: dict[str, Any] = {"designer": name, "device": str(device),
                               "repeat": options.repeat}
        try:
            if name == "dpc_bound":
                solvers = importlib.import_module("isaclearn.solvers")
                dpc = getattr(solvers, "dpc_sum_capacity", None)
                if dpc is None:
                    log("dpc_bound skipped: isaclearn.solvers.dpc_sum_capacity is not available")
                    continue
                prob = problem
                log(f"timing dpc_bound on {prob.batch_size} instance(s)")
                best, median, cap = time_call(
                    partial(dpc, prob.h, prob.power, prob.noise_var),
                    repeat=options.repeat, device=device)
                row.update(batch=prob.batch_size, valid_instances=int(torch.isfinite(cap).sum()),
                           sum_rate_mean=_finite_mean(cap))
            else:
                designer = designers[name]
                is_convex = name in convex
                prob = small if is_convex else problem
                log(f"timing {name} on {prob.batch_size} instance(s)")
                best, median, design = time_call(
                    partial(designer.design, prob), repeat=options.repeat, device=device,
                    warmup=partial(designer.design, one) if is_convex else None)
                w = design.w if isinstance(design, Design) else design
                ok = torch.isfinite(torch.view_as_real(w) if w.is_complex() else w)
                ok = ok.reshape(w.shape[0], -1).all(dim=1)
                row.update(batch=prob.batch_size, valid_instances=int(ok.sum()),
                           convex=is_convex)
                if bool(ok.any()):
                    metrics = evaluate(prob.subset(ok), w[ok])
                    row.update(sum_rate_mean=_finite_mean(metrics["sum_rate"]),
                               sum_crb_db_mean=_finite_mean(metrics["sum_crb_db"]))
                else:
                    row.update(sum_rate_mean=None, sum_crb_db_mean=None)
                    log(f"{name} returned no finite precoder (infeasible instances?)")
        except IsacError as exc:
            log(f"{name} failed: {exc}")
            row.update(batch=None, error=str(exc))
            rows.append(row)
            continue
        row["seconds_per_instance"] = best / prob.batch_size
        row["seconds_per_instance_median"] = median / prob.batch_size
        rows.append(row)

    ref = next((r.get("seconds_per_instance") for r in rows if r["designer"] == "wmmse"), None)
    for r in rows:
        t = r.get("seconds_per_instance")
        r["ratio_to_wmmse"] = (t / ref) if (ref and t is not None) else None
    return rows


PRECODERS_SUITE = BenchSuite(
    name="precoders",
    description="time per instance of every downlink precoder (temiz_unsup scenario), "
                "ratios to WMMSE, DPC bound",
    add_arguments=_add_precoder_arguments,
    run=run_precoders,
    columns=PRECODER_COLUMNS,
)
