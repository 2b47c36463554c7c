"""Speed benchmarks, side by side in one process (``isaclearn bench SUITE``).

Benchmarks report speed; they are never timed tests. Absolute times depend on the machine, so
the tables also give ratios (time relative to WMMSE for ``precoders``), which are what compare
across machines.

Extending
---------
*A new suite* (e.g. ``uplink``): build a :class:`BenchSuite` and call
:func:`register_bench_suite`; ``isaclearn bench NAME`` then parses the suite's own options,
calls its ``run`` and prints ``columns`` of the rows it returns (``--json FILE`` writes them).

*Extra designers in* ``bench precoders`` (e.g. a trained network): call
:func:`register_designer_factory` with a function ``factory(options) -> {name: designer}`` and,
optionally, ``add_arguments(parser)`` declaring the options the factory reads (such as
``--checkpoint PATH``). The factory returns an empty dict when its options are not given. Each
designer must have ``design(problem) -> Design`` for a
:class:`~isaclearn.channels.downlink.DownlinkProblem`::

    from isaclearn.experiments.bench import register_designer_factory

    def _add(parser):
        parser.add_argument("--checkpoint", help="trained temiz_unsup network to time")

    def _factory(options):
        if not options.checkpoint:
            return {}
        return {"dnn": load_designer(options.checkpoint)}

    register_designer_factory("temiz_unsup_dnn", _factory, add_arguments=_add)

Modules that register suites or factories are imported before the command line is parsed when
they are listed in :data:`BENCH_PLUGIN_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, IsacError

Options = argparse.Namespace
Log = Callable[[str], None]
DesignerFactory = Callable[[Options], Mapping[str, Any]]
"""``factory(options) -> {name: designer}``; ``options`` are the parsed ``bench precoders``
options (including those added by the factory's ``add_arguments``)."""


@dataclass
class BenchSuite:
    """A benchmark run by ``isaclearn bench NAME``.

    Attributes
    ----------
    name : str
        Subcommand name.
    description : str
        One line for ``--help`` and ``isaclearn list``.
    add_arguments : callable
        ``add_arguments(parser)`` declares the suite's options (``--json`` and ``--device`` are
        added by the command line for every suite).
    run : callable
        ``run(options, log) -> list of row dicts``; ``log`` reports progress lines.
    columns : list of str
        Row fields printed in the table.
    """

    name: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Options, Log], list[dict[str, Any]]]
    columns: list[str] = field(default_factory=list)


BENCH_SUITES: dict[str, BenchSuite] = {}
"""Registered suites by name."""

BENCH_PLUGIN_MODULES: list[str] = ["isaclearn.systems.temiz_unsup.learned"]
"""Modules imported by :func:`load_bench_plugins` (they register suites or designer
factories at import time). A listed module that does not exist yet is skipped."""


@dataclass
class _FactoryEntry:
    factory: DesignerFactory
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


_DESIGNER_FACTORIES: dict[str, _FactoryEntry] = {}


def register_bench_suite(suite: BenchSuite) -> BenchSuite:
    """Add ``suite`` to :data:`BENCH_SUITES` (replacing one of the same name)."""
    BENCH_SUITES[suite.name] = suite
    return suite


def register_designer_factory(
    name: str,
    factory: DesignerFactory,
    *,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Let ``bench precoders`` time extra designers (e.g. a trained network).

    Parameters
    ----------
    name : str
        Name of the factory (shown by ``isaclearn list``).
    factory : callable
        ``factory(options) -> {designer_name: designer}``. Called once per benchmark with the
        parsed options; returns an empty dict when it has nothing to add (e.g. no
        ``--checkpoint`` given). Designer names must not clash with the baseline designers.
    add_arguments : callable, optional
        ``add_arguments(parser)`` adds the options the factory reads to ``bench precoders``.
    """
    _DESIGNER_FACTORIES[name] = _FactoryEntry(factory, add_arguments)


def unregister_designer_factory(name: str) -> None:
    """Remove a factory added by :func:`register_designer_factory` (no error if absent)."""
    _DESIGNER_FACTORIES.pop(name, None)


def designer_factories() -> list[str]:
    """Names of the registered designer factories."""
    return sorted(_DESIGNER_FACTORIES)


def load_bench_plugins() -> None:
    """Import every module of :data:`BENCH_PLUGIN_MODULES` (missing ones are skipped)."""
    for mod in BENCH_PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


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
    for entry in _DESIGNER_FACTORIES.values():
        if entry.add_arguments is not None:
            entry.add_arguments(p)


def precoder_designers(options: Options) -> dict[str, Any]:
    """Designers timed by ``bench precoders``: the temiz_unsup baselines (convex ones only
    when ``options.convex_batch > 0``) and those of the registered factories."""
    from isaclearn.systems import temiz_unsup

    out = dict(temiz_unsup.baseline_designers(include_convex=options.convex_batch > 0))
    if getattr(options, "single_start_wmmse", False):
        from isaclearn.solvers import WMMSE

        out["wmmse_rzf"] = WMMSE(init="rzf")
    for fname, entry in _DESIGNER_FACTORIES.items():
        extra = entry.factory(options)
        for dname, designer in extra.items():
            if dname in out:
                raise ConfigError(f"designer factory {fname!r} adds {dname!r}, which is "
                                  f"already a designer")
            out[dname] = designer
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
    from isaclearn.systems import temiz_unsup

    for name in ("batch", "antennas", "users", "repeat"):
        if getattr(options, name) < 1:
            raise ConfigError(f"--{name} must be >= 1, got {getattr(options, name)}")
    if options.convex_batch < 0:
        raise ConfigError(f"--convex-batch must be >= 0, got {options.convex_batch}")
    device = torch.device(options.device)
    scenario = temiz_unsup.make_scenario(options.antennas, options.users,
                                         snr_db=options.snr_db)
    problem = scenario.sample(options.batch, generator=make_generator(options.seed, device),
                              device=device)
    convex_n = min(options.convex_batch, options.batch)
    small = problem.subset(slice(0, max(convex_n, 1)))
    one = problem.subset(slice(0, 1))

    designers = precoder_designers(options)
    names = _select([*designers, "dpc_bound"], options.designers)
    convex = set(temiz_unsup.CONVEX_DESIGNERS)
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
                    metrics = temiz_unsup.evaluate(prob.subset(ok), w[ok])
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


register_bench_suite(BenchSuite(
    name="precoders",
    description="time per instance of every downlink precoder (temiz_unsup scenario), "
                "ratios to WMMSE, DPC bound",
    add_arguments=_add_precoder_arguments,
    run=run_precoders,
    columns=PRECODER_COLUMNS,
))


def _register_uplink() -> None:
    from isaclearn.systems.qi_uplink.bench import (
        UPLINK_BENCH_COLUMNS,
        add_uplink_bench_arguments,
        run_uplink_bench,
    )

    register_bench_suite(BenchSuite(
        name="uplink",
        description="qi_uplink: ISACNN vs Average/ZFBF/traditional (KKT, CVXPY)/reference, "
                    "time per instance and WSNR",
        add_arguments=add_uplink_bench_arguments,
        run=run_uplink_bench,
        columns=UPLINK_BENCH_COLUMNS,
    ))


_register_uplink()
