"""Experiments of temiz_unsup's learned precoders (paper section V, Figs. 3–11, Table 3).

=====================  ============================================================================
``tradeoff``           sum rate and sum CRB (dB) versus ``ρ`` for ``M = 10, 20`` with MMSE, ZF and
                       WMMSE sum rates and the SDR trade-off boundary on the same test set
                       (Figs. 3–4); the ``ρ = 1`` sum rate of every variant as a fraction of WMMSE
                       and of RZF (MMSE)
``compression``        sum rate (``ρ = 0.5``) and sum CRB (``ρ = 0.2``) on the (Q, J) grid with the
                       complexity of Table 3 (Figs. 5–6); inference time of the networks against
                       WMMSE, ONNX export and onnxruntime latency
``snr``                sum rate and sum CRB versus SNR for the full and compressed networks (Fig. 8)
``csi_error``          sum rate versus the CSI error ``μ`` of eq. (11) at ``ρ = 1``, ``M = 10, 20``
                       (Fig. 9)
``beampattern``        mean beampatterns for ``ρ ∈ {0, 0.5, 0.9}``, full and compressed
                       (Figs. 10–11), with the peak directions at ``ρ = 0``
``snr_definition``     which SNR / channel normalization reproduces the paper's sum-rate level:
                       MRT, ZF, RZF and WMMSE sum rates under several readings
=====================  ============================================================================

The WMMSE reference everywhere is :class:`isaclearn.solvers.WMMSE` with its defaults: the best
per instance of the runs started from MRT, ZF (when ``K ≤ M``) and RZF, 100 iterations or
converged (relative improvement below 1e-6). Networks are trained as described in
:mod:`isaclearn.systems.temiz_unsup.learned` and reused between experiments through
``model_dir``. Sum CRBs are reported as ``10 log10`` of the mean over the test instances of the
exact sum CRB (eq. 5) in rad², as the paper plots them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.learn import compress
from isaclearn.metrics import beampattern
from isaclearn.systems.base import (
    ExperimentSpec,
    PlotSpec,
    RunContext,
    check_fields,
    register,
)
from isaclearn.systems.temiz_unsup.evaluation import db, evaluate, row_metrics
from isaclearn.systems.temiz_unsup.learned import (
    VARIANTS,
    LearnedPrecoder,
    LearnSettings,
    ModelStore,
    check_variants,
    design_in_chunks,
)
from isaclearn.systems.temiz_unsup.scenario import make_scenario
from isaclearn.systems.toolkit import (
    finite_mean,
    record_once,
    score,
    solver_progress,
    sweep,
    threads,
    time_designer,
)

WMMSE_REFERENCE = ("WMMSE: best of MRT/ZF/RZF initializations per instance, 100 iterations or "
                   "converged (relative improvement < 1e-6)")

PAPER = {
    "sum_rate_rho05_M10": 36.1,
    "claim": "the DNN beats WMMSE for rho >= 0.5 (M = 10) and rho >= 0.6 (M = 20)",
    "table3": {
        "32/0": 36.1, "7/0.1": 35.3, "7/0.2": 33.5, "6/0.1": 34.7, "6/0.2": 32.5,
        "5/0.1": 32.7, "5/0.2": 30.75, "5/0.3": 27.44, "4/0.2": 27.66,
    },
}
"""Numbers stated in the paper's text and Table 3 (its figures are not available as data)."""


@dataclass
class LearnedCommon:
    """Fields shared by the learned-precoder experiments."""

    num_users: int = 10
    """Users ``K``."""
    snr_db: float = 20.0
    """``P_t/σ²`` in dB of training and (unless swept) testing."""
    variants: tuple[str, ...] = ("dnn", "dnn_scaled", "dnn_rho", "struct", "struct_rho")
    """Network variants (see :mod:`isaclearn.systems.temiz_unsup.learned`; ``struct_cont`` and
    ``struct_cont_up`` on request: they gave no gain over ``struct``)."""
    num_test: int = 2000
    """Test instances (targets fixed at −10° and 25°; paper: 10⁵)."""
    test_seed: int = 12345
    """Seed of the test set."""
    model_dir: str = ""
    """Folder of the trained networks ("" = ``<run>/models``); share it between experiments."""
    num_threads: int = 1
    """torch threads while the experiment runs (1 avoids oversubscribing a shared CPU)."""
    num_train: int = 20_000
    """Training instances incl. 5 % validation (paper: 10⁶)."""
    batch_size: int = 500
    """Mini-batch size (paper: 500)."""
    lr: float = 1e-3
    """Adam learning rate (paper: 0.001)."""
    max_epochs: int = 100
    """Epoch limit of each network."""
    patience: int = 10
    """Early-stopping patience (epochs)."""
    max_train_time_s: float = 0.0
    """Training-time limit per network in seconds (0 = none); stated in the rows."""
    hidden: tuple[int, ...] = (128, 128, 128, 128)
    """Hidden widths of the entry-wise network (paper: 4 × 128)."""
    dropout: float = 0.1
    """Dropout (paper: 10 %)."""
    d_model: int = 32
    """Token width of the structured network."""
    num_layers: int = 2
    """Encoder layers of the structured network."""
    num_beta: int = 512
    """Training channels for β (WMMSE mean sum rate)."""
    num_gamma: int = 32
    """Training angle draws for γ (minimum approximate sum CRB)."""
    alpha: float = 7.5
    """α of eq. (20)."""
    delta: float = 0.1
    """δ of eq. (25)."""
    seed: int = 0
    """Seed of the training data, initialization and dropout."""
    train_workers: int = 1
    """Per-ρ networks trained at once (Ray tasks, one torch thread each) when Ray is installed;
    1 = one after another (the right choice on a 2-core machine)."""

    def __post_init__(self) -> None:
        check_variants(self.variants)
        check_fields(self, at_least_1=("num_users", "num_test", "num_train", "batch_size",
                                       "max_epochs", "num_threads", "train_workers",
                                       "num_beta", "num_gamma"),
                     at_least_0=("patience", "max_train_time_s"), positive=("lr",))
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"config field dropout: value must be in [0, 1), got "
                              f"{self.dropout!r}")


def _sizes(cfg: LearnedCommon) -> dict[str, Any]:
    """The data sizes and training budget used, next to the paper's (stated in every output)."""
    limit = cfg.max_train_time_s if cfg.max_train_time_s > 0 else None
    return {
        "paper": {"training_instances": 1_000_000, "test_instances": 100_000,
                  "training": "until training and validation loss converge (V100 GPUs)"},
        "used": {"training_instances": cfg.num_train, "train_validation_split": "95/5",
                 "test_instances": cfg.num_test, "max_epochs": cfg.max_epochs,
                 "patience": cfg.patience, "max_train_time_s_per_network": limit},
    }


def _log_sizes(cfg: LearnedCommon, ctx: RunContext) -> None:
    limit = (f"at most {cfg.max_train_time_s:g} s per network" if cfg.max_train_time_s > 0
             else "no time limit")
    ctx.log(f"data: {cfg.num_train} training instances (paper 10^6), {cfg.num_test} test "
            f"instances (paper 10^5); at most {cfg.max_epochs} epochs, early stopping after "
            f"{cfg.patience}, {limit}")


def model_store(cfg: LearnedCommon, ctx: RunContext) -> ModelStore:
    """The :class:`ModelStore` of a learned-precoder experiment: checks the variants, logs the
    data sizes, keeps networks in ``model_dir`` or ``<run>/models`` (a temporary folder when
    the run has no folder)."""
    check_variants(cfg.variants)
    _log_sizes(cfg, ctx)
    folder: Path | None
    if cfg.model_dir:
        folder = Path(cfg.model_dir)
    elif ctx.out_dir is not None:
        folder = Path(ctx.out_dir) / "models"
    else:
        folder = None
    return ModelStore(folder, LearnSettings.from_config(cfg), ctx.log, progress=ctx.progress,
                      log_interval_s=ctx.log_interval_s)


_WARMUP_CAP = 1000
"""At most this many instances in the untimed warm-up call before a designer is timed."""


def _score(name: str, problem: Any, design: Any, **kw: Any) -> dict[str, Any]:
    """A result row (``method``, ``instances``, :data:`ROW_COLUMNS`, ...) of ``design``."""
    return score(name, problem, design, evaluate, reduce=row_metrics, **kw)


def _timed_network(designer: LearnedPrecoder, problem: Any) -> tuple[Design, float]:
    """A network's design over :func:`design_in_chunks`, timed (warm-up on ≤ 1000 instances)."""
    return time_designer(lambda p: Design(w=design_in_chunks(designer, p)), problem,
                         warmup_instances=_WARMUP_CAP)


def _test_set(cfg: LearnedCommon, num_antennas: int, *, snr_db: float | None = None,
              mu: float = 0.0) -> Any:
    sc = make_scenario(num_antennas, cfg.num_users,
                       snr_db=cfg.snr_db if snr_db is None else snr_db, csi_error_mu=mu)
    return sc.sample(cfg.num_test, generator=make_generator(cfg.test_seed))


def _baseline_rows(problem: Any, names: tuple[str, ...] = ("mmse", "zf", "wmmse"),
                   ctx: RunContext | None = None, desc: str = "baselines"
                   ) -> list[dict[str, Any]]:
    """Timed and scored rows of the classical designers ``names`` on ``problem`` (shown as
    ``ctx.progress`` when ``ctx`` is given)."""
    from isaclearn.solvers import MMSE, WMMSE, ZF

    makers: dict[str, Any] = {"mmse": MMSE, "zf": ZF, "wmmse": WMMSE}
    rows = []
    for name in (ctx.progress(names, total=len(names), desc=desc) if ctx is not None
                 else names):
        design, sec = time_designer(makers[name](), problem, warmup_instances=_WARMUP_CAP)
        rows.append(_score(name, problem, design, seconds_per_instance=sec))
    return rows


def _train_info(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info[k] for k in ("train_time_s", "epochs", "stop_reason", "num_train",
                                 "time_to_95pct_wmmse_s", "init_from") if k in info}


# ------------------------------------------------------------------------------ tradeoff


@dataclass
class TradeoffConfig(LearnedCommon):
    """Configuration of ``temiz_unsup.tradeoff`` (Figs. 3–4)."""

    antennas: tuple[int, ...] = (10, 20)
    """Values of ``M``."""
    rhos: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    """Trade-off weights ``ρ``."""
    sdr_instances: int = 8
    """Test instances (the first ones) for the SDR boundary and the sensing-only bound."""
    sdr_sinr_db: tuple[float, ...] = (-10.0, 0.0, 5.0, 10.0, 15.0)
    """SINR targets Γ of the SDR boundary, dB."""
    per_rho_subset: tuple[float, ...] = ()
    """ρ values at which the one-network-per-ρ variants are trained and evaluated (empty: all
    of ``rhos``); the ρ-conditioned variants always cover ``rhos``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, at_least_1=("antennas",), at_least_0=("sdr_instances",),
                     unit_interval=("rhos", "per_rho_subset"))


def run_tradeoff(cfg: TradeoffConfig, ctx: RunContext) -> dict[str, Any]:
    """Sum rate and sum CRB versus ρ for each variant; baselines and the SDR boundary."""
    with threads(cfg.num_threads):
        store = model_store(cfg, ctx)
        for m in cfg.antennas:
            test = _test_set(cfg, m)
            small = test.subset(slice(0, cfg.sdr_instances))
            record_once(ctx, f"M{m}/baselines",
                        partial(_tradeoff_baselines, cfg, ctx, m, test, small),
                        desc=f"M={m}: baselines")
            record_once(ctx, f"M{m}/sdr", partial(_tradeoff_boundary, cfg, ctx, m, small),
                        desc=f"M={m}: SDR boundary")
            base = {r["method"]: r["sum_rate"] for r in ctx.rows(f"M{m}/baselines")}
            for variant in cfg.variants:
                per_rho = not VARIANTS[variant]["rho_conditioned"]
                rhos = [r for r in cfg.rhos if not (per_rho and cfg.per_rho_subset)
                        or any(abs(r - q) < 1e-9 for q in cfg.per_rho_subset)]
                key = partial(_rho_key, m, variant)
                if per_rho:
                    store.prepare(variant, [r for r in rhos if not ctx.is_done(key(r))], m,
                                  cfg.snr_db)
                sweep(ctx, rhos, key,
                      partial(_tradeoff_point, cfg, ctx, store, m, variant, test, base),
                      desc=f"M={m} {variant}")
        return _tradeoff_summary(cfg, ctx)


def _rho_key(m: int, variant: str, rho: float) -> str:
    return f"M{m}/{variant}/rho{rho:g}"


def _tradeoff_baselines(cfg: TradeoffConfig, ctx: RunContext, m: int, test: Any, small: Any
                        ) -> list[dict[str, Any]]:
    """MMSE, ZF, WMMSE (timed) and the sensing-only bound (on ``small``), repeated per ρ."""
    from isaclearn.solvers import SensingOnly

    sensing = SensingOnly(progress=solver_progress(ctx, f"M={m}: sensing-only programs"))
    scored = [*_baseline_rows(test, ctx=ctx, desc=f"M={m}: MMSE, ZF, WMMSE on "
                                                  f"{test.batch_size} instances"),
              _score("sensing_only", small, sensing)]
    return [{"kind": "rho_sweep", "M": m, "method": r["method"], "rho": rho, **r}
            for r in scored for rho in cfg.rhos]


def _tradeoff_boundary(cfg: TradeoffConfig, ctx: RunContext, m: int, small: Any
                       ) -> list[dict[str, Any]]:
    """The SDR rate–CRB boundary on the first ``sdr_instances`` test instances."""
    from isaclearn.solvers import sdr_boundary

    def loop(sinr_db: float) -> Any:
        return solver_progress(ctx, f"M={m}: SDR programs at SINR target {sinr_db:g} dB")

    return [{"kind": "boundary", "M": m, "method": "sdr", "sinr_min_db": r["sinr_min_db"],
             "sum_rate": r["sum_rate"], "sum_crb_db": db(r["rank_one_sum_crb"]),
             "relaxation_sum_crb_db": db(r["relaxation_sum_crb"]),
             "fraction_feasible": r["fraction_feasible"], "instances": small.batch_size}
            for r in sdr_boundary(small, list(cfg.sdr_sinr_db), progress=loop)]


def _tradeoff_point(cfg: TradeoffConfig, ctx: RunContext, store: ModelStore, m: int,
                    variant: str, test: Any, base: dict[str, float], rho: float
                    ) -> list[dict[str, Any]]:
    """One network at one ρ: scored, timed, as a fraction of WMMSE and of RZF (MMSE)."""
    designer, info = store.designer(variant, rho, m, cfg.snr_db)
    design, sec = _timed_network(designer, test)
    sc = _score(variant, test, design)
    row = {"kind": "rho_sweep", "M": m, "method": variant, "rho": rho, **sc,
           "frac_wmmse": sc["sum_rate"] / base["wmmse"], "frac_rzf": sc["sum_rate"] / base["mmse"],
           "seconds_per_instance": sec, **_train_info(info)}
    ctx.log(f"M={m} {variant} rho={rho:g}: sum rate {sc['sum_rate']:.2f} "
            f"({100 * row['frac_wmmse']:.1f} % of WMMSE), sum CRB {sc['sum_crb_db']:.2f} dB")
    return [row, {**row, "kind": "boundary"}]


def _tradeoff_summary(cfg: TradeoffConfig, ctx: RunContext) -> dict[str, Any]:
    rows = [r for r in ctx.rows() if r.get("kind") == "rho_sweep"]
    out: dict[str, Any] = {"wmmse_reference": WMMSE_REFERENCE, "paper": PAPER, "by_M": {}}
    for m in cfg.antennas:
        mrows = [r for r in rows if r["M"] == m]
        base = {r["method"]: r["sum_rate"] for r in mrows if r["method"] in ("mmse", "zf",
                                                                            "wmmse")}
        per: dict[str, Any] = {"baselines_sum_rate": base}
        for variant in cfg.variants:
            vr = sorted((r for r in mrows if r["method"] == variant), key=lambda r: r["rho"])
            if not vr:
                continue
            rates = [r["sum_rate"] for r in vr]
            crbs = [r["sum_crb_db"] for r in vr]
            drops = [a - b for a, b in zip(rates, rates[1:]) if a > b]
            crb_drops = [a - b for a, b in zip(crbs, crbs[1:]) if a > b]
            entry: dict[str, Any] = {
                "rho": [r["rho"] for r in vr], "sum_rate": rates, "sum_crb_db": crbs,
                "rate_monotone_in_rho": not drops,
                "largest_rate_decrease": max(drops) if drops else 0.0,
                "crb_monotone_in_rho": not crb_drops,
                "largest_crb_decrease_db": max(crb_drops) if crb_drops else 0.0,
                "train_time_s_total": sum(r.get("train_time_s", 0.0) for r in vr)
                if not VARIANTS[variant]["rho_conditioned"] else vr[0].get("train_time_s", 0.0),
            }
            at1 = [r for r in vr if r["rho"] == 1.0]
            if at1:
                entry["rho1_sum_rate"] = at1[0]["sum_rate"]
                entry["rho1_frac_wmmse"] = at1[0]["frac_wmmse"]
                entry["rho1_frac_rzf"] = at1[0]["frac_rzf"]
            at05 = [r for r in vr if r["rho"] == 0.5]
            if at05:
                entry["rho05_sum_rate"] = at05[0]["sum_rate"]
            per[variant] = entry
        out["by_M"][str(m)] = per
    out["sizes"] = _sizes(cfg)
    return out


TRADEOFF_PLOTS = [
    PlotSpec(filename="tradeoff_M{M}.png", x="rho", y=["sum_rate", "sum_crb_db"],
             where={"kind": "rho_sweep"}, split="M", title="Rate and sum CRB vs rho, M = {M}",
             xlabel="rho", ylabels=["sum rate (bit/s/Hz)", "sum CRB (dB rad^2)"]),
    PlotSpec(filename="boundary_M{M}.png", x="sum_crb_db", y=["sum_rate"],
             where={"kind": "boundary"}, split="M", title="Rate-CRB trade-off, M = {M}",
             xlabel="sum CRB (dB rad^2)", ylabels=["sum rate (bit/s/Hz)"]),
]
"""Figures of ``temiz_unsup.tradeoff``: one of each per value of ``M`` in the results."""

_QUICK_TRAIN = {"num_train": 10_000, "max_epochs": 15, "patience": 4, "num_test": 1000,
                "num_beta": 256, "num_gamma": 16}
_PAPER_TRAIN = {"num_train": 1_000_000, "max_epochs": 100, "patience": 10, "num_test": 100_000,
                "num_beta": 1024, "num_gamma": 64}

register(ExperimentSpec(
    name="temiz_unsup.tradeoff",
    fn=run_tradeoff,
    config_cls=TradeoffConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "rhos": (0.0, 0.5, 1.0),
                  "variants": ("dnn", "dnn_scaled", "dnn_rho", "struct_rho"),
                  "sdr_instances": 4, "sdr_sinr_db": (-10.0, 0.0, 5.0)},
        "paper": {**_PAPER_TRAIN, "sdr_instances": 100},
    },
    description="learned ISAC precoders: sum rate and sum CRB vs rho, M = 10, 20, with MMSE, "
                "WMMSE and the SDR boundary (Figs. 3-4)",
    plots=TRADEOFF_PLOTS,
    table_columns=["M", "method", "rho", "sum_rate", "sum_crb_db", "frac_wmmse", "frac_rzf",
                   "train_time_s", "epochs"],
    table_where={"kind": "rho_sweep"},
    table_group=["M", "rho"],
))


# --------------------------------------------------------------------------- compression


@dataclass
class CompressionConfig(LearnedCommon):
    """Configuration of ``temiz_unsup.compression`` (Table 3, Figs. 5–6)."""

    num_antennas: int = 10
    """``M``."""
    rho_rate: float = 0.5
    """ρ of the sum-rate panel (Table 3, Fig. 5)."""
    rho_crb: float = 0.2
    """ρ of the sum-CRB panel (Fig. 6)."""
    bits: tuple[int, ...] = (32, 8, 7, 6, 5, 4)
    """Quantization bits ``Q`` (32 = unquantized)."""
    prune: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    """Pruning fractions ``J``."""
    timing_batch: int = 1000
    """Batch for the inference-time comparison."""
    onnx: bool = True
    """Export the full and the Q = 7 / J = 10 % entry-wise networks and time them under
    onnxruntime (skipped with a note when the ``onnx`` extra is missing)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, at_least_1=("num_antennas", "bits"), unit_interval=(
            "rho_rate", "rho_crb", "prune"))


def run_compression(cfg: CompressionConfig, ctx: RunContext) -> dict[str, Any]:
    """Quantization/pruning grid, complexity, inference timing and ONNX latency."""
    with threads(cfg.num_threads):
        store = model_store(cfg, ctx)
        test = _test_set(cfg, cfg.num_antennas)
        points = [(v, rho) for v in cfg.variants for rho in (cfg.rho_rate, cfg.rho_crb)]
        sweep(ctx, points, lambda p: f"{p[0]}/rho{p[1]:g}",
              partial(_compression_grid, cfg, ctx, store, test), desc="compression grid")
        record_once(ctx, "timing", partial(_timing_rows, cfg, store, test))
        if cfg.onnx:
            record_once(ctx, "onnx", partial(_onnx_rows, cfg, store, ctx))
        return _compression_summary(cfg, ctx)


def _compression_grid(cfg: CompressionConfig, ctx: RunContext, store: ModelStore, test: Any,
                      point: tuple[str, float]) -> list[dict[str, Any]]:
    """Every (Q, J) of the grid for one network (variant, ρ)."""
    variant, rho = point
    designer, info = store.designer(variant, rho, cfg.num_antennas, cfg.snr_db)
    full = _score(variant, test, Design(w=design_in_chunks(designer, test)))
    rows = []
    for q in cfg.bits:
        for j in cfg.prune:
            net, rep = compress(designer.net, q, j)
            d = LearnedPrecoder(net, rho=rho, name=variant)
            sc = _score(variant, test, Design(w=design_in_chunks(d, test)))
            rows.append({
                "kind": "grid", "method": variant, "rho": rho,
                "rate_point": int(rho == cfg.rho_rate),
                "crb_point": int(rho == cfg.rho_crb), "bits": q,
                "prune": j, "label": f"Q={q} J={j:g}", **sc,
                "rel_sum_rate": sc["sum_rate"] / full["sum_rate"],
                "complexity_paper": rep.complexity_paper,
                "complexity_measured": rep.complexity_measured,
                "weight_sparsity": rep.weight_sparsity,
                "hidden": "x".join(str(h) for h in rep.hidden), **_train_info(info),
            })
    q7 = [r for r in rows if r["bits"] == 7 and r["prune"] == 0.1]
    if q7:
        ctx.log(f"{variant} rho={rho:g}: Q=7 J=10% keeps "
                f"{100 * q7[0]['rel_sum_rate']:.1f} % of the sum rate")
    return rows


def _timing_rows(cfg: CompressionConfig, store: ModelStore, test: Any) -> list[dict[str, Any]]:
    from isaclearn.solvers import WMMSE

    prob = test.subset(slice(0, cfg.timing_batch))
    b = prob.batch_size
    rows = []
    ref: dict[str, Any] = {
        "wmmse_best_init": WMMSE(),
        "wmmse_rzf_100it": WMMSE(init="rzf", max_iter=100, tol=0.0),
    }
    t_ref = {}
    for name, d in ref.items():
        _, t_ref[name] = time_designer(d, prob)
        rows.append({"kind": "timing", "method": name, "seconds_per_instance": t_ref[name],
                     "batch": b, "threads": torch.get_num_threads()})
    for variant in cfg.variants:
        designer, _ = store.designer(variant, cfg.rho_rate, cfg.num_antennas, cfg.snr_db)
        for label, net in [("full", designer.net), ("Q7_J0.1", compress(designer.net, 7, 0.1)[0])]:
            d = LearnedPrecoder(net, rho=cfg.rho_rate, name=variant)
            _, sec = time_designer(d, prob, repeat=3)
            rows.append({"kind": "timing", "method": f"{variant} ({label})",
                         "seconds_per_instance": sec, "batch": b,
                         "threads": torch.get_num_threads(),
                         "speedup_vs_wmmse_best_init": t_ref["wmmse_best_init"] / sec,
                         "speedup_vs_wmmse_rzf_100it": t_ref["wmmse_rzf_100it"] / sec})
    return rows


def _onnx_rows(cfg: CompressionConfig, store: ModelStore, ctx: RunContext
               ) -> list[dict[str, Any]]:
    try:
        import onnxruntime  # noqa: F401

        from isaclearn.learn.export import export_onnx, onnx_latency
    except ImportError:
        ctx.log("onnx extra not installed: ONNX export skipped")
        return [{"kind": "onnx", "method": "skipped (onnx extra missing)"}]
    folder = store.folder / "onnx"
    rows = []
    for variant in cfg.variants:
        designer, _ = store.designer(variant, cfg.rho_rate, cfg.num_antennas, cfg.snr_db)
        if designer.net.config.kind != "entrywise":
            continue
        for label, net in [("full", designer.net), ("Q7_J0.1", compress(designer.net, 7, 0.1)[0])]:
            if net.config.rho_conditioned:
                continue  # the exported graph takes the features of a fixed-rho network
            path = export_onnx(net, folder / f"{variant}_{label}.onnx")
            lat = onnx_latency(path, batch_size=cfg.timing_batch, threads=1)
            size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))
            rows.append({"kind": "onnx", "method": f"{variant} ({label})",
                         "seconds_per_instance": lat["per_instance_us"] * 1e-6,
                         "batch": cfg.timing_batch, "file_bytes": size})
    return rows


def _compression_summary(cfg: CompressionConfig, ctx: RunContext) -> dict[str, Any]:
    rows = ctx.rows()
    out: dict[str, Any] = {"paper_table3": PAPER["table3"], "wmmse_reference": WMMSE_REFERENCE,
                           "complexity": "complexity_paper = Q(1-J)/32 (Table 3); "
                           "complexity_measured = bits of remaining non-zero parameters / "
                           "(32 x parameters of the full network)"}
    for variant in cfg.variants:
        g = [r for r in rows if r.get("kind") == "grid" and r["method"] == variant
             and r["rho"] == cfg.rho_rate]
        table = {f"{r['bits']}/{r['prune']:g}": {
            "sum_rate": r["sum_rate"], "rel_sum_rate": r["rel_sum_rate"],
            "complexity_paper": r["complexity_paper"],
            "complexity_measured": r["complexity_measured"]} for r in g}
        out[variant] = table
    out["timing"] = [r for r in rows if r.get("kind") in ("timing", "onnx")]
    out["sizes"] = _sizes(cfg)
    return out


register(ExperimentSpec(
    name="temiz_unsup.compression",
    fn=run_compression,
    config_cls=CompressionConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "variants": ("dnn", "struct_rho"), "bits": (32, 7, 6, 5, 4),
                  "prune": (0.0, 0.1, 0.2), "timing_batch": 500},
        "paper": {**_PAPER_TRAIN},
    },
    description="quantization and pruning of the networks: sum rate, sum CRB, complexity "
                "(Table 3, Figs. 5-6), inference time vs WMMSE, ONNX latency",
    plots=[
        PlotSpec(filename="compression_rate_{method}.png", x="bits", y=["sum_rate"],
                 group="prune", where={"kind": "grid", "rate_point": 1}, split="method",
                 title="{method} compressed: sum rate at rho_rate (lines: J)",
                 xlabel="Q (bits; 32 = float32)", ylabels=["sum rate (bit/s/Hz)"]),
        PlotSpec(filename="compression_crb_{method}.png", x="bits", y=["sum_crb_db"],
                 group="prune", where={"kind": "grid", "crb_point": 1}, split="method",
                 title="{method} compressed: sum CRB at rho_crb (lines: J)",
                 xlabel="Q (bits; 32 = float32)", ylabels=["sum CRB (dB rad^2)"]),
    ],
    table_columns=["method", "label", "rho", "sum_rate", "rel_sum_rate", "sum_crb_db",
                   "complexity_paper", "complexity_measured"],
    table_where={"kind": "grid"},
    table_group=["rho"],
))


# ----------------------------------------------------------------------------------- snr


@dataclass
class SnrConfig(LearnedCommon):
    """Configuration of ``temiz_unsup.snr`` (Fig. 8)."""

    num_antennas: int = 10
    """``M``."""
    rho: float = 0.5
    """Trade-off weight."""
    snrs_db: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
    """SNR grid, dB."""
    compressions: tuple[str, ...] = ("32/0", "7/0.1", "6/0.1", "5/0.2", "4/0.2")
    """(Q, J) pairs as "Q/J"."""
    retrain_per_snr: bool = False
    """Train a network at every SNR (True) or use the networks trained at ``snr_db`` (False;
    the entry-wise network does not see σ², the structured one does)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, at_least_1=("num_antennas",), unit_interval=("rho",))


def _parse_compressions(items: tuple[str, ...]) -> list[tuple[int, float]]:
    out = []
    for s in items:
        q, _, j = str(s).partition("/")
        out.append((int(q), float(j or 0.0)))
    return out


def run_snr(cfg: SnrConfig, ctx: RunContext) -> dict[str, Any]:
    """Sum rate and sum CRB versus SNR for full and compressed networks."""
    with threads(cfg.num_threads):
        store = model_store(cfg, ctx)
        test_at = lru_cache(maxsize=1)(partial(_snr_test_set, cfg))
        points = [(snr, part) for snr in cfg.snrs_db for part in ("baselines", *cfg.variants)]
        sweep(ctx, points, lambda p: f"snr{p[0]:g}/{p[1]}",
              partial(_snr_point, cfg, store, test_at), desc="SNR")
        return {"wmmse_reference": WMMSE_REFERENCE, "rho": cfg.rho, "sizes": _sizes(cfg),
                "retrain_per_snr": cfg.retrain_per_snr,
                "rows": [{k: r.get(k) for k in ("method", "snr_db", "sum_rate", "sum_crb_db")}
                         for r in ctx.rows()]}


def _snr_test_set(cfg: SnrConfig, snr_db: float) -> Any:
    return _test_set(cfg, cfg.num_antennas, snr_db=snr_db)


def _snr_point(cfg: SnrConfig, store: ModelStore, test_at: Callable[[float], Any],
               point: tuple[float, str]) -> list[dict[str, Any]]:
    """At one SNR: the baselines, or one variant's full and compressed networks."""
    snr, part = point
    test = test_at(snr)
    if part == "baselines":
        return [{"kind": "snr", "method": r["method"], "snr_db": snr, **r}
                for r in _baseline_rows(test, ("mmse", "wmmse"))]
    train_snr = snr if cfg.retrain_per_snr else cfg.snr_db
    designer, info = store.designer(part, cfg.rho, cfg.num_antennas, train_snr)
    rows = []
    for q, j in _parse_compressions(cfg.compressions):
        net = designer.net if (q, j) == (32, 0.0) else compress(designer.net, q, j)[0]
        d = LearnedPrecoder(net, rho=cfg.rho, name=part)
        method = f"{part} Q={q} J={j:g}"
        rows.append({"kind": "snr", "method": method, "variant": part, "bits": q, "prune": j,
                     "snr_db": snr, "train_snr_db": train_snr,
                     **_score(method, test, Design(w=design_in_chunks(d, test))),
                     **_train_info(info)})
    return rows


register(ExperimentSpec(
    name="temiz_unsup.snr",
    fn=run_snr,
    config_cls=SnrConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "variants": ("dnn", "struct_rho"),
                  "snrs_db": (0.0, 10.0, 20.0, 30.0), "compressions": ("32/0", "7/0.1", "5/0.2")},
        "paper": {**_PAPER_TRAIN, "retrain_per_snr": True},
    },
    description="sum rate and sum CRB vs SNR for the full and compressed networks (Fig. 8)",
    plots=[PlotSpec(filename="snr.png", x="snr_db", y=["sum_rate", "sum_crb_db"],
                    where={"kind": "snr"}, title="Sum rate and sum CRB vs SNR",
                    xlabel="SNR (dB)", ylabels=["sum rate (bit/s/Hz)", "sum CRB (dB rad^2)"])],
    table_columns=["method", "snr_db", "sum_rate", "sum_crb_db"],
    table_where={"kind": "snr"},
    table_group=["snr_db"],
))


# ----------------------------------------------------------------------------- csi_error


@dataclass
class CsiErrorConfig(LearnedCommon):
    """Configuration of ``temiz_unsup.csi_error`` (Fig. 9)."""

    antennas: tuple[int, ...] = (10, 20)
    """Values of ``M``."""
    mus: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2)
    """CSI error ratios μ of eq. (11)."""
    rho: float = 1.0
    """Trade-off weight (the paper: 1)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, at_least_1=("antennas",), at_least_0=("mus",),
                     unit_interval=("rho",))


def run_csi_error(cfg: CsiErrorConfig, ctx: RunContext) -> dict[str, Any]:
    """Sum rate versus CSI error; networks trained with perfect CSI (as in the paper)."""
    with threads(cfg.num_threads):
        store = model_store(cfg, ctx)
        test_at = lru_cache(maxsize=1)(partial(_csi_test_set, cfg))
        points = [(m, mu, part) for m in cfg.antennas for mu in cfg.mus
                  for part in ("baselines", *cfg.variants)]
        sweep(ctx, points, lambda p: f"M{p[0]}/mu{p[1]:g}/{p[2]}",
              partial(_csi_point, cfg, store, test_at), desc="CSI error points")
        return {"wmmse_reference": WMMSE_REFERENCE, "rho": cfg.rho, "sizes": _sizes(cfg),
                "rows": [{k: r.get(k) for k in ("M", "method", "mu", "sum_rate")}
                         for r in ctx.rows()]}


def _csi_test_set(cfg: CsiErrorConfig, m: int, mu: float) -> Any:
    return _test_set(cfg, m, mu=mu)


def _csi_point(cfg: CsiErrorConfig, store: ModelStore, test_at: Callable[[int, float], Any],
               point: tuple[int, float, str]) -> list[dict[str, Any]]:
    """At one (M, μ): the baselines, or one variant."""
    m, mu, part = point
    test = test_at(m, mu)
    if part == "baselines":
        return [{"kind": "csi", "M": m, "method": r["method"], "mu": mu, **r}
                for r in _baseline_rows(test, ("mmse", "wmmse"))]
    designer, info = store.designer(part, cfg.rho, m, cfg.snr_db)
    return [{"kind": "csi", "M": m, "method": part, "mu": mu,
             **_score(part, test, Design(w=design_in_chunks(designer, test))),
             **_train_info(info)}]


register(ExperimentSpec(
    name="temiz_unsup.csi_error",
    fn=run_csi_error,
    config_cls=CsiErrorConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "variants": ("dnn", "struct_rho"), "mus": (0.0, 0.1, 0.2)},
        "paper": {**_PAPER_TRAIN},
    },
    description="sum rate vs CSI error mu at rho = 1 for M = 10, 20 (Fig. 9)",
    plots=[PlotSpec(filename="csi_error_M{M}.png", x="mu", y=["sum_rate"],
                    where={"kind": "csi"}, split="M", title="Sum rate vs CSI error, M = {M}",
                    xlabel="mu", ylabels=["sum rate (bit/s/Hz)"])],
    table_columns=["M", "method", "mu", "sum_rate"],
    table_where={"kind": "csi"},
    table_group=["M", "mu"],
))


# --------------------------------------------------------------------------- beampattern


@dataclass
class BeampatternConfig(LearnedCommon):
    """Configuration of ``temiz_unsup.beampattern`` (Figs. 10–11)."""

    antennas: tuple[int, ...] = (10, 20)
    """Values of ``M``."""
    rhos: tuple[float, ...] = (0.0, 0.5, 0.9)
    """Trade-off weights."""
    compressions: tuple[str, ...] = ("32/0", "5/0.2")
    """(Q, J) pairs as "Q/J" (the paper's figures: full and Q = 5, J = 20 %)."""
    grid_points: int = 721
    """Angles of the grid over [−90°, 90°] (0.25° steps by default)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, at_least_1=("antennas", "grid_points"), unit_interval=("rhos",))


def _peaks(angles_deg: torch.Tensor, pattern: torch.Tensor, count: int) -> list[float]:
    """Angles of the ``count`` highest local maxima of a sampled pattern."""
    p = pattern
    interior = (p[1:-1] > p[:-2]) & (p[1:-1] >= p[2:])
    idx = interior.nonzero().squeeze(-1) + 1
    if idx.numel() == 0:
        return []
    top = idx[torch.argsort(p[idx], descending=True)[:count]]
    return sorted(float(angles_deg[i]) for i in top)


_TARGETS_DEG = (-10.0, 25.0)
"""The fixed target angles of the test sets (:func:`make_scenario`'s default)."""


def run_beampattern(cfg: BeampatternConfig, ctx: RunContext) -> dict[str, Any]:
    """Mean transmit beampatterns of the networks and their peak directions."""
    with threads(cfg.num_threads):
        store = model_store(cfg, ctx)
        test_at = lru_cache(maxsize=1)(partial(_test_set, cfg))
        points = [(m, v, rho) for m in cfg.antennas for v in cfg.variants for rho in cfg.rhos]
        sweep(ctx, points, lambda p: _rho_key(*p),
              partial(_beampattern_point, cfg, store, test_at), desc="beampatterns")
        peaks = [r for r in ctx.rows() if r.get("kind") == "peaks"]
        at0 = [r for r in peaks if r["rho"] == 0.0]
        return {"targets_deg": list(_TARGETS_DEG), "peaks": peaks, "sizes": _sizes(cfg),
                "rho0_max_peak_error_deg": {f"M{r['M']} {r['method']}": r["max_peak_error_deg"]
                                            for r in at0}}


def _beampattern_point(cfg: BeampatternConfig, store: ModelStore,
                       test_at: Callable[[int], Any], point: tuple[int, str, float]
                       ) -> list[dict[str, Any]]:
    """Pattern and peaks of one network (M, variant, ρ), full and compressed."""
    m, variant, rho = point
    test = test_at(m)
    grid = torch.linspace(-90.0, 90.0, cfg.grid_points, dtype=torch.float64)
    designer, info = store.designer(variant, rho, m, cfg.snr_db)
    rows: list[dict[str, Any]] = []
    for q, j in _parse_compressions(cfg.compressions):
        net = designer.net if (q, j) == (32, 0.0) else compress(designer.net, q, j)[0]
        d = LearnedPrecoder(net, rho=rho, name=variant)
        w = design_in_chunks(d, test).to(torch.complex128)
        pat = beampattern(w, torch.deg2rad(grid)).mean(0)
        label = f"{variant} rho={rho:g} Q={q} J={j:g}"
        rows += [{"kind": "pattern", "M": m, "method": label, "variant": variant,
                  "rho": rho, "bits": q, "prune": j, "angle_deg": float(a),
                  "gain_db": db(float(g))} for a, g in zip(grid, pat)]
        pk = _peaks(grid, pat, len(_TARGETS_DEG))
        err = (max(min(abs(p - t) for p in pk) for t in _TARGETS_DEG)
               if len(pk) == len(_TARGETS_DEG) else math.nan)
        rows.append({"kind": "peaks", "M": m, "method": label, "variant": variant, "rho": rho,
                     "bits": q, "prune": j, "peaks_deg": " ".join(f"{p:.2f}" for p in pk),
                     "max_peak_error_deg": err, **_train_info(info)})
    return rows


register(ExperimentSpec(
    name="temiz_unsup.beampattern",
    fn=run_beampattern,
    config_cls=BeampatternConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "variants": ("dnn", "struct_rho"), "num_test": 500},
        "paper": {**_PAPER_TRAIN, "num_test": 10_000},
    },
    description="mean beampatterns of the networks for rho in {0, 0.5, 0.9} and their peak "
                "directions (Figs. 10-11)",
    plots=[PlotSpec(filename="beampattern_M{M}_rho{rho}.png", x="angle_deg", y=["gain_db"],
                    where={"kind": "pattern"}, split=("M", "rho"),
                    title="Mean beampattern, M = {M}, rho = {rho}", xlabel="angle (deg)",
                    ylabels=["a^H R_X a (dB)"])],
    table_columns=["M", "method", "peaks_deg", "max_peak_error_deg"],
    table_where={"kind": "peaks"},
    table_group=["M"],
))


# ------------------------------------------------------------------------ snr_definition


@dataclass
class SnrDefinitionConfig:
    """Configuration of ``temiz_unsup.snr_definition``."""

    num_antennas: int = 10
    """``M``."""
    num_users: int = 10
    """``K``."""
    num_test: int = 2000
    """Instances per reading."""
    test_seed: int = 12345
    """Seed of the instances."""
    num_threads: int = 1
    """torch threads."""
    readings: tuple[str, ...] = field(default_factory=lambda: (
        "instance_mean:20", "instance_mean:30", "cell_mean:20", "cell_mean:30",
        "per_user_unit:20", "per_user_unit:30", "absolute:30",
    ))
    """``normalization:snr_db`` pairs; see :func:`run_snr_definition`."""
    dpc_instances: int = 300
    """Instances (the first ones) for the dirty-paper-coding sum capacity (the sum-rate upper
    bound of any precoder); 0 leaves it out."""


def run_snr_definition(cfg: SnrDefinitionConfig, ctx: RunContext) -> dict[str, Any]:
    """Sum rates of MRT, ZF, RZF (MMSE) and WMMSE under several readings of "SNR = 20 dB".

    Readings (``P_t = 1 W`` throughout, ``σ² = P_t / 10^(snr/10)``):

    * ``instance_mean`` — the library default: large-scale gains divided by their mean over the
      instance's users (spread between users kept, mean per-user SNR = snr);
    * ``cell_mean`` — gains divided by the cell-average gain (instance-to-instance variation
      kept too);
    * ``per_user_unit`` — every user's channel rescaled to ``||h_k||² = M`` (unit-variance
      entries, no path-loss spread: the "channel matrix is normalized" reading of eq. 11);
    * ``absolute`` — the paper's absolute path loss with ``P_t = 1 W`` and ``σ² = 1e-3 W``
      (``snr`` must be 30), i.e. no normalization at all.
    """
    def key(reading: str) -> str:
        norm, _, snr_s = str(reading).partition(":")
        return f"{norm}:{float(snr_s or 20.0):g}"

    with threads(cfg.num_threads):
        sweep(ctx, cfg.readings, key, partial(_reading_rows, cfg), desc="readings")
    allrows = ctx.rows()
    closest = min((r for r in allrows
                   if math.isfinite(r["sum_rate"]) and r["method"] != "dpc_bound"),
                  key=lambda r: abs(r["sum_rate"] - 36.1), default=None)
    return {"paper_sum_rate_rho05": 36.1, "wmmse_reference": WMMSE_REFERENCE,
            "closest_to_36.1": closest,
            "sum_rate_by_reading": {f"{r['reading']}/{r['method']}": r["sum_rate"]
                                    for r in allrows}}


def _reading_rows(cfg: SnrDefinitionConfig, reading: str) -> list[dict[str, Any]]:
    """Sum rates of MRT, ZF, RZF, WMMSE (and the DPC bound) under one reading."""
    from isaclearn.solvers import MMSE, MRT, WMMSE, ZF, dpc_sum_capacity

    norm, _, snr_s = str(reading).partition(":")
    snr = float(snr_s or 20.0)
    key = f"{norm}:{snr:g}"
    gain_norm = {"instance_mean": "instance_mean", "cell_mean": "cell_mean",
                 "per_user_unit": "instance_mean", "absolute": "none"}.get(norm)
    if gain_norm is None:
        raise ConfigError(f"unknown normalization {norm!r} in readings")
    sc = make_scenario(cfg.num_antennas, cfg.num_users, snr_db=snr,
                       gain_normalization=gain_norm)  # type: ignore[arg-type]
    prob = sc.sample(cfg.num_test, generator=make_generator(cfg.test_seed))
    if norm == "per_user_unit":
        h = prob.h
        h = h * torch.rsqrt((h.abs().square().sum(-1, keepdim=True)) / h.shape[-1])
        prob = replace(prob, h=h)
    gains = prob.h.abs().square().sum(-1) / prob.h.shape[-1]  # per-antenna gain
    rx_snr_db = db(float(gains.mean()) * prob.power / prob.noise_var)
    common = {"kind": "reading", "reading": key, "normalization": norm, "snr_db": snr}
    rows = []
    designers: list[tuple[str, Any]] = [("mrt", MRT()), ("zf", ZF()), ("mmse", MMSE()),
                                        ("wmmse", WMMSE())]
    for name, d in designers:
        sum_rate = score(name, prob, d, evaluate,
                         reduce=partial(row_metrics, columns=("sum_rate",)))["sum_rate"]
        rows.append({**common, "method": name, "sum_rate": sum_rate,
                     "mean_rx_snr_db": rx_snr_db, "noise_var": prob.noise_var,
                     "instances": prob.batch_size})
    if cfg.dpc_instances > 0:
        sub = prob.subset(slice(0, cfg.dpc_instances))
        cap = dpc_sum_capacity(sub.h, sub.power, sub.noise_var)
        rows.append({**common, "method": "dpc_bound", "sum_rate": finite_mean(cap),
                     "mean_rx_snr_db": rx_snr_db, "noise_var": prob.noise_var,
                     "instances": sub.batch_size})
    return rows


register(ExperimentSpec(
    name="temiz_unsup.snr_definition",
    fn=run_snr_definition,
    config_cls=SnrDefinitionConfig,
    profiles={"quick": {"num_test": 500, "dpc_instances": 100},
              "paper": {"num_test": 20_000, "dpc_instances": 1000}},
    description="which SNR / channel-normalization reading reproduces the paper's sum-rate "
                "level (MRT, ZF, RZF, WMMSE and the DPC bound under each)",
    plots=[PlotSpec(filename="snr_definition.png", x="reading", y=["sum_rate"],
                    where={"kind": "reading"}, title="Sum rate under each SNR reading",
                    xlabel="normalization:SNR", ylabels=["sum rate (bit/s/Hz)"])],
    table_columns=["reading", "method", "sum_rate", "mean_rx_snr_db"],
    table_where={"kind": "reading"},
))
