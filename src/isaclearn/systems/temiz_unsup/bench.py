r"""``isaclearn bench precoders``: time per instance of every downlink precoder of temiz_unsup.

Side by side in one process on one sample of the temiz_unsup scenario: the baseline designers
(MRT, ZF, MMSE, WMMSE; the CVXPY designers on a few instances), the DPC sum-capacity bound,
the trained networks given with ``--checkpoint`` (or, without it, a few found under
``--runs``), and two *floor* rows measured in the same process:

``mlp_4x128``
    a bare forward pass of a 4 × 128 SiLU MLP with random weights on inputs of the paper's
    size (``2MK + T`` features from the channel and the angles → ``2MK`` outputs), i.e. the
    cheapest network a learned precoder could be;
``mlp_4x128+rzf``
    the same forward pass followed by the RZF precoder
    :math:`\mathbf W \propto \mathbf H^H\mathbf G^{-1}`, :math:`\mathbf G = \mathbf H\mathbf
    H^H + (K\sigma^2/P_t)\mathbf I_K`, on the same instances, in one call: what a network that
    only has to emit a well-formed precoder must at least cost (its design and scores are
    RZF's, those of :func:`isaclearn.solvers.mmse` up to rounding). ``G`` is Hermitian positive
    definite, so the floor inverts it the cheapest way measured for small batched matrices, by
    its Cholesky factor (``cholesky_ex`` then ``cholesky_inverse``, LU only where a
    factorization fails), as the structured network's pipeline does with its own positive
    definite matrices: the floor is not handicapped by a general solver;
``mlp_4x128+rzf_lu``
    the same with :func:`isaclearn.solvers.mmse` as it is (an LU solve), for comparison with
    earlier runs, whose floor this was.

Columns: ``designer``; ``batch`` (instances timed at once); ``valid_instances`` (with a finite
precoder); ``seconds_per_instance`` (best of ``--repeat`` timed calls after one warm-up,
divided by ``batch``); ``ratio_to_wmmse`` and
``ratio_to_floor`` (time per instance divided by WMMSE's and by ``mlp_4x128+rzf``'s; the
ratios, not the absolute times, are what compare across machines); ``sum_rate_mean`` and
``sum_crb_db_mean`` (mean sum rate in bit/s/Hz and mean exact sum CRB in dB over the valid
instances; for ``dpc_bound`` the sum capacity, an upper bound of every precoder's sum rate).

By default it runs in well under a minute: the fast designers on ``--batch`` (4096) instances,
the iterative ones (WMMSE, the DPC bound) on the first ``--slow-batch`` (256) of them and the
CVXPY ones on the first ``--convex-batch`` (2); ``--full`` times WMMSE and the DPC bound on the
whole batch and the CVXPY designers on 4 instances (several minutes). Benchmarks report speed;
they are never timed tests.
"""

from __future__ import annotations

import argparse
import importlib
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, IsacError
from isaclearn.systems.base import MAX_INSTANCES, BenchSuite, seed_arg
from isaclearn.systems.toolkit import finite_instances, finite_mean, time_designer

Options = argparse.Namespace
Log = Callable[[str], None]


# --------------------------------------------------------------------------- timing


def _dpc_of(dpc: Callable[..., torch.Tensor], problem: Any) -> torch.Tensor:
    return dpc(problem.h, problem.power, problem.noise_var)


# --------------------------------------------------------------------------- precoders suite

PRECODER_COLUMNS = ["designer", "batch", "valid_instances", "seconds_per_instance",
                    "ratio_to_wmmse", "ratio_to_floor", "sum_rate_mean", "sum_crb_db_mean"]

FLOOR = "mlp_4x128+rzf"
"""The floor row the learned rows are compared with (``ratio_to_floor``)."""
FLOOR_LU = "mlp_4x128+rzf_lu"
"""The floor with RZF by :func:`isaclearn.solvers.mmse` (LU), the floor of earlier runs."""
FLOOR_ROWS = ("mlp_4x128", FLOOR, FLOOR_LU)
SLOW_DESIGNERS = frozenset({"wmmse", "wmmse_rzf", "dpc_bound"})
"""Iterative designers timed on ``--slow-batch`` instances by default."""

_DEFAULTS = {"batch": 4096, "slow_batch": 256, "convex_batch": 2, "repeat": 3}
_FULL = {"batch": 4096, "slow_batch": None, "convex_batch": 4, "repeat": 3}  # None = batch


def _add_precoder_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=int, default=None,
                   help="instances of the temiz_unsup scenario (default 4096)")
    p.add_argument("--antennas", type=int, default=10, help="transmit antennas M (default 10)")
    p.add_argument("--users", type=int, default=10, help="users K (default 10)")
    p.add_argument("--snr-db", type=float, default=20.0, help="P_t / noise, dB (default 20)")
    p.add_argument("--slow-batch", type=int, default=None,
                   help="instances (the first ones) given to the iterative designers WMMSE and "
                        "the DPC bound (default 256; --full: all)")
    p.add_argument("--convex-batch", type=int, default=None,
                   help="instances given to the CVXPY designers, which solve one program "
                        "each (default 2, --full 4; 0 leaves them out)")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed calls per designer after one warm-up; best is reported "
                        "(default 3)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: wall-clock time (default); cpu: CPU time of the timing thread, "
                        "robust on a loaded machine (use with OMP_NUM_THREADS=1, CPU only)")
    p.add_argument("--full", action="store_true",
                   help="the long version (several minutes): WMMSE and the DPC bound on the "
                        "whole batch, the CVXPY designers on 4 instances")
    p.add_argument("--runs", default="runs", metavar="DIR",
                   help="without --checkpoint, time up to --max-networks trained temiz_unsup "
                        "networks found under DIR (default runs; '' for none)")
    p.add_argument("--max-networks", type=int, default=3,
                   help="networks taken from --runs (default 3; structured ones first)")
    p.add_argument("--designers", default=None,
                   help="comma-separated designer names to time (default: all, including "
                        "dpc_bound and the floor rows mlp_4x128 and mlp_4x128+rzf)")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of the scenario sample, in [0, 2**32 - 1]")
    p.add_argument("--single-start-wmmse", action="store_true",
                   help="also time wmmse_rzf: WMMSE from the RZF start alone (100 iterations "
                        "or converged), next to the reference wmmse (best of MRT/ZF/RZF starts)")
    p.add_argument("--checkpoint", action="append", default=None, metavar="PATH",
                   help="trained temiz_unsup network (checkpoint stem, .safetensors or .json) to "
                        "time next to the baselines, instead of those found under --runs; "
                        "repeatable")
    p.add_argument("--rho", type=float, default=None,
                   help="trade-off weight fed to a rho-conditioned network (default: the stored "
                        "one)")


def resolve_options(options: Options) -> Options:
    """Fill the sizes left unset (``None``) from the default or, with ``--full``, the long
    profile; explicit values win. Returns a new namespace."""
    out = argparse.Namespace(**vars(options))
    profile = _FULL if getattr(options, "full", False) else _DEFAULTS
    for name, value in profile.items():
        if getattr(out, name, None) is None:
            setattr(out, name, value)
    if out.slow_batch is None:
        out.slow_batch = out.batch
    return out


def _sidecar_net(stem: Path) -> tuple[dict[str, Any], Any]:
    """The network config dict and stored ``rho`` of a checkpoint's JSON sidecar."""
    import json

    side = json.loads(stem.with_name(stem.name + ".json").read_text())
    config = side.get("config", {})
    return dict(config.get("net", {})), config.get("rho")


def found_networks(options: Options, log: Log) -> list[tuple[Path, float | None]]:
    """Up to ``options.max_networks`` finished temiz_unsup networks under ``options.runs`` that
    fit ``--antennas``/``--users``, structured ones first, then the newest; with the ``ρ``
    each is run at (``--rho``, else the stored one, else 1 for a ρ-conditioned network)."""
    from isaclearn.systems.temiz_unsup.learned import find_networks

    folder = getattr(options, "runs", "") or ""
    limit = int(getattr(options, "max_networks", 3))
    if not folder or limit <= 0:
        return []
    fits = []
    other: list[str] = []
    for stem in find_networks(folder):
        try:
            net, stored = _sidecar_net(stem)
        except (OSError, ValueError):
            continue
        if (net.get("num_antennas"), net.get("num_users")) != (options.antennas, options.users):
            other.append(f"{stem} (M = {net.get('num_antennas')}, K = {net.get('num_users')})")
            continue
        rho = getattr(options, "rho", None)
        if rho is None:
            rho = stored if stored is not None else (1.0 if net.get("rho_conditioned") else None)
        mtime = stem.with_name(stem.name + ".json").stat().st_mtime
        fits.append((net.get("kind") != "structured", -mtime, str(stem), rho))
    if other:
        shown = ", ".join(other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        log(f"skipped {len(other)} network(s) under {folder}/ built for other sizes than M = "
            f"{options.antennas}, K = {options.users}: {shown}")
    chosen = [(Path(stem), rho) for _, _, stem, rho in sorted(fits)[:limit]]
    if chosen:
        log(f"networks found under {folder}/ (M = {options.antennas}, K = {options.users}; "
            f"{len(fits)} fit, {len(chosen)} timed): "
            + ", ".join(f"{p}" + ("" if r is None else f" (rho {r:g})") for p, r in chosen))
    elif Path(folder).is_dir():
        log(f"no trained network for M = {options.antennas}, K = {options.users} under "
            f"{folder}/ (give one with --checkpoint)")
    return chosen


def precoder_designers(options: Options, log: Log | None = None) -> dict[str, Any]:
    """Designers timed by ``bench precoders``: the temiz_unsup baselines (convex ones only
    when ``options.convex_batch > 0``) and the trained networks of ``--checkpoint`` or, without
    it, those found under ``--runs`` (:func:`found_networks`)."""
    from isaclearn.systems.temiz_unsup.designers import baseline_designers
    from isaclearn.systems.temiz_unsup.learned import learned_designers

    out = dict(baseline_designers(include_convex=options.convex_batch > 0))
    if getattr(options, "single_start_wmmse", False):
        from isaclearn.solvers import WMMSE

        out["wmmse_rzf"] = WMMSE(init="rzf")
    given = getattr(options, "checkpoint", None) or []
    say = log or (lambda _: None)
    loaded: dict[str, Any] = {}
    if given:
        for path in given:
            for name, designer in learned_designers([path],
                                                    rho=getattr(options, "rho", None)).items():
                cfg = designer.net.config
                if (cfg.num_antennas, cfg.num_users) != (options.antennas, options.users):
                    raise ConfigError(
                        f"--checkpoint {path}: the network is for M = {cfg.num_antennas} "
                        f"antennas, K = {cfg.num_users} users; the benchmark uses M = "
                        f"{options.antennas}, K = {options.users} (set --antennas and --users)")
                loaded[name] = designer
    else:
        for path, rho in found_networks(options, say):
            loaded.update(learned_designers([path], rho=rho))
    for name, designer in loaded.items():
        if designer.info.get("note"):
            say(f"{name}: {designer.info['note']}")
    out.update(loaded)
    return out


def rzf_cholesky(h: torch.Tensor, power: float, noise_var: float) -> torch.Tensor:
    r"""RZF precoder :math:`\mathbf W = c\,\mathbf H^H\mathbf G^{-1}`, :math:`\mathbf G =
    \mathbf H\mathbf H^H + (K\sigma^2/P_t)\mathbf I_K`, scaled to :math:`\|\mathbf W\|_F^2 =
    P_t`: :func:`isaclearn.solvers.mmse` computed through the Cholesky factor of ``G``.

    Parameters
    ----------
    h : torch.Tensor
        ``[B, K, M]`` complex channels.
    power, noise_var : float
        :math:`P_t` and :math:`\sigma^2`, watts.

    Returns
    -------
    torch.Tensor
        ``[B, M, K]``, equal to ``mmse(h, power, noise_var)`` up to rounding. Should the
        factorization fail numerically for an instance of the batch (``info > 0``), the whole
        batch is computed by ``mmse`` (LU).
    """
    from isaclearn.core.linalg import scale_to_power
    from isaclearn.solvers import mmse

    gram = h @ h.mH
    gram.diagonal(dim1=-2, dim2=-1).add_(h.shape[-2] * noise_var / power)
    chol, info = torch.linalg.cholesky_ex(gram)
    if bool(info.any()):
        return mmse(h, power, noise_var)
    return scale_to_power(h.mH @ torch.cholesky_inverse(chol), power)


class _Floor:
    """``mlp_4x128`` / ``mlp_4x128+rzf`` / ``mlp_4x128+rzf_lu``: the paper-size input features
    (``2MK + T``) through a 4 × 128 SiLU MLP with random weights (``2MK`` outputs), optionally
    followed by RZF (``rzf``: ``"cholesky"`` (:func:`rzf_cholesky`), ``"lu"``
    (:func:`isaclearn.solvers.mmse`) or ``None``)."""

    def __init__(self, num_antennas: int, num_users: int, num_targets: int, *,
                 rzf: str | None) -> None:
        from isaclearn.learn.precoder_nets import build_mlp

        mk = num_antennas * num_users
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.mlp = build_mlp([2 * mk + num_targets, 128, 128, 128, 128, 2 * mk], 0.0).eval()
        self.rzf = rzf

    def design(self, problem: Any) -> Design:
        from isaclearn.learn.precoder_nets import paper_features
        from isaclearn.solvers import mmse

        h = problem.csi
        with torch.no_grad():
            z = self.mlp(paper_features(h, problem.theta.to(h.real.dtype)))
            if self.rzf == "cholesky":
                w = rzf_cholesky(h, problem.power, problem.noise_var)
            elif self.rzf == "lu":
                w = mmse(h, problem.power, problem.noise_var)
            else:
                w = z
        return Design(w=w)


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
    times; ``seconds_per_instance`` is the best time divided by the instances (
    reported too). The CVXPY designers (``temiz_unsup.CONVEX_DESIGNERS``) get only the first
    ``options.convex_batch`` instances and warm up on one. The ``dpc_bound`` row times
    :func:`isaclearn.solvers.dpc_sum_capacity`, whose mean is the sum-rate upper bound.
    ``ratio_to_wmmse`` is the time per instance divided by WMMSE's, ``ratio_to_floor`` by that of
    the ``mlp_4x128+rzf`` floor row (see the module docstring). The iterative designers (WMMSE,
    the DPC bound) get the first ``options.slow_batch`` instances and warm up on one. The means
    are over the instances with a finite precoder (``valid_instances``; a convex designer marks
    infeasible instances with NaN). Unset sizes are filled by :func:`resolve_options`.
    """
    from isaclearn.core.random import make_generator
    from isaclearn.systems.temiz_unsup.designers import CONVEX_DESIGNERS
    from isaclearn.systems.temiz_unsup.evaluation import evaluate
    from isaclearn.systems.temiz_unsup.scenario import make_scenario

    options = resolve_options(options)
    for name in ("batch", "slow_batch", "antennas", "users", "repeat"):
        if getattr(options, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got "
                              f"{getattr(options, name)}")
    if options.batch > MAX_INSTANCES:
        raise ConfigError(f"--batch must be at most {MAX_INSTANCES}, got {options.batch}")
    if options.convex_batch < 0:
        raise ConfigError(f"--convex-batch must be >= 0, got {options.convex_batch}")
    if getattr(options, "max_networks", 0) < 0:
        raise ConfigError(f"--max-networks must be >= 0, got {options.max_networks}")
    if not math.isfinite(options.snr_db):
        raise ConfigError(f"--snr-db must be a finite number, got {options.snr_db}")
    rho = getattr(options, "rho", None)
    if rho is not None and not 0.0 <= rho <= 1.0:
        raise ConfigError(f"--rho must be in [0, 1], got {rho:g}")
    device = torch.device(options.device)
    clock = getattr(options, "clock", "wall")
    if clock == "cpu" and device.type != "cpu":
        raise ConfigError(f"--clock cpu times CPU work only; use --clock wall on {device}")
    scenario = make_scenario(options.antennas, options.users,
                                         snr_db=options.snr_db)
    problem = scenario.sample(options.batch, generator=make_generator(options.seed, device),
                              device=device)
    convex_n = min(options.convex_batch, options.batch)
    small = problem.subset(slice(0, max(convex_n, 1)))
    slow = problem.subset(slice(0, min(options.slow_batch, options.batch)))

    designers = precoder_designers(options, log)
    t = problem.num_targets
    floors = {name: _Floor(options.antennas, options.users, t, rzf=rzf)
              for name, rzf in zip(FLOOR_ROWS, (None, "cholesky", "lu"), strict=True)}
    learned = [n for n in designers if n.startswith("learned:")]
    order = [*(n for n in designers if n not in learned), "dpc_bound", *floors, *learned]
    names = _select(order, options.designers)
    designers.update(floors)
    convex = set(CONVEX_DESIGNERS)
    rows: list[dict[str, Any]] = []
    for name in names:
        row: dict[str, Any] = {"designer": name, "device": str(device),
                               "repeat": options.repeat, "clock": clock}
        try:
            if name == "dpc_bound":
                solvers = importlib.import_module("isaclearn.solvers")
                dpc = getattr(solvers, "dpc_sum_capacity", None)
                if dpc is None:
                    log("dpc_bound skipped: isaclearn.solvers.dpc_sum_capacity is not available")
                    continue
                prob = slow
                log(f"timing dpc_bound on {prob.batch_size} instance(s)")
                cap, sec = time_designer(partial(_dpc_of, dpc), prob,
                                         repeat=options.repeat, warmup_instances=1,
                                         clock=clock)
                row.update(batch=prob.batch_size, valid_instances=int(torch.isfinite(cap).sum()),
                           sum_rate_mean=finite_mean(cap))
            else:
                designer = designers[name]
                is_convex = name in convex
                is_slow = name in SLOW_DESIGNERS
                prob = small if is_convex else slow if is_slow else problem
                log(f"timing {name} on {prob.batch_size} instance(s)")
                design, sec = time_designer(
                    designer, prob, repeat=options.repeat, clock=clock,
                    warmup_instances=1 if is_convex or is_slow else None)
                w = design.w
                ok = finite_instances(design)
                row.update(batch=prob.batch_size, valid_instances=int(ok.sum()),
                           convex=is_convex)
                if name == FLOOR_ROWS[0]:  # a random network's output is not a precoder
                    row.update(sum_rate_mean=None, sum_crb_db_mean=None)
                elif bool(ok.any()):
                    metrics = evaluate(prob.subset(ok), w[ok])
                    row.update(sum_rate_mean=finite_mean(metrics["sum_rate"]),
                               sum_crb_db_mean=finite_mean(metrics["sum_crb_db"]))
                else:
                    row.update(sum_rate_mean=None, sum_crb_db_mean=None)
                    log(f"{name} returned no finite precoder (infeasible instances?)")
        except IsacError as exc:
            log(f"{name} failed: {exc}")
            row.update(batch=None, error=str(exc))
            rows.append(row)
            continue
        row["seconds_per_instance"] = sec
        rows.append(row)

    ref = next((r.get("seconds_per_instance") for r in rows if r["designer"] == "wmmse"), None)
    floor = next((r.get("seconds_per_instance") for r in rows if r["designer"] == FLOOR), None)
    for r in rows:
        t_sec = r.get("seconds_per_instance")
        r["ratio_to_wmmse"] = (t_sec / ref) if (ref and t_sec is not None) else None
        r["ratio_to_floor"] = (t_sec / floor) if (floor and t_sec is not None) else None
        if str(r["designer"]).startswith("learned:") and t_sec is not None and floor:
            log(f"{r['designer']}: {1e6 * t_sec:.1f} us per instance, "
                f"{r['ratio_to_floor']:.2f} x the {FLOOR} floor ({1e6 * floor:.1f} us)")
    return rows


PRECODERS_SUITE = BenchSuite(
    name="precoders",
    description="time per instance of every downlink precoder (temiz_unsup scenario), "
                "trained networks, ratios to WMMSE and to an MLP+RZF floor, DPC bound",
    add_arguments=_add_precoder_arguments,
    run=run_precoders,
    columns=PRECODER_COLUMNS,
)
