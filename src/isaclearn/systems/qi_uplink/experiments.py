"""Experiments of the qi_uplink system: Figs. 6–11 and Table I of the paper.

Each experiment is ``fn(config, ctx) -> summary`` and records one tidy row per method × sweep
point through :func:`isaclearn.systems.toolkit.sweep` (finished sweep points are skipped on
resume). Figs. 7–11 (``schemes``, ``snr``, ``antennas_users``, ``weight_users``,
``imperfect_csi``) are one template, :func:`_sweep`: the scenario for a point → training,
validation and test sets → one ISACNN (and FC-NN) trained per point → every designer scored on
the test set → the WSNR gap to the optimality reference (``gap_pct``) → the point's coordinates
in every row. Rows carry ``instances``, the number of test instances scored, and, where designers
are timed (``schemes``, ``runtime``), ``seconds_per_instance`` measured by
:func:`~isaclearn.systems.toolkit.time_designer` after a warm-up call. Trained networks are
saved under ``ctx.out_dir`` (safetensors + JSON) when it is set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from isaclearn.channels.uplink import UplinkProblem, UplinkScenario
from isaclearn.core.design import Design
from isaclearn.core.random import make_generator
from isaclearn.learn import TrainResult
from isaclearn.learn.isacnn import (
    UPLINK_TRAIN_CONFIG,
    LearnedUplink,
    UplinkNetConfig,
    build_uplink_network,
    save_uplink_net,
    train_uplink,
)
from isaclearn.solvers.uplink import (
    ZFBF,
    Average,
    OptimalityReference,
    Traditional,
)
from isaclearn.systems.base import ExperimentSpec, PlotSpec, RunContext, check_fields, register
from isaclearn.systems.qi_uplink.evaluation import evaluate, mean_scores
from isaclearn.systems.toolkit import EpochLog, score, sweep, time_designer

# Table I of the paper: ISACNN runtime in ms per instance (the paper's unit) versus N_t, N_r, K;
# the runtime rows report it in seconds (``paper_seconds_per_instance``).
PAPER_RUNTIME_MS = {
    "num_tx": dict(zip([4, 6, 8, 10, 12, 14, 16],
                       [0.2330, 0.2360, 0.2404, 0.2418, 0.2422, 0.2447, 0.2457])),
    "num_rx": dict(zip([4, 6, 8, 10, 12, 14, 16],
                       [0.1413, 0.1572, 0.1732, 0.1943, 0.2052, 0.2206, 0.2504])),
    "num_users": dict(zip([2, 3, 4, 5, 6, 7, 8],
                          [0.1653, 0.1897, 0.2169, 0.2504, 0.2687, 0.2812, 0.2934])),
}


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


@dataclass
class UplinkCommon:
    """Settings shared by the qi_uplink experiments (defaults: Table II and section V)."""

    num_tx: int = 16
    """BS transmit antennas ``N_t``."""
    num_rx: int = 16
    """BS receive antennas ``N_r``."""
    num_users: int = 5
    """Users ``K``."""
    num_symbols: int = 20
    """Waveform length ``L``."""
    snr_s_db: float = 10.0
    """Sensing SNR ``P_s ξ_0 / σ²`` in dB."""
    snr_c_db: float = 0.0
    """Communication SNR in dB (per user, see ``comm_snr_mode``)."""
    alpha: float = 0.5
    """Sensing weight α (where it is not swept)."""
    comm_snr_mode: str = "per_user"
    """``per_user`` (every user at SNR_c) or ``cell_edge`` (SNR_c at the cell radius)."""
    ms_mode: str = "interference_free"
    """Definition of M_s: ``interference_free`` (Appendix C) or ``with_interference``."""
    num_train: int = 8000
    """Training instances (10 000 split 80/20 in the paper)."""
    num_val: int = 2000
    """Validation instances."""
    num_test: int = 2000
    """Test instances."""
    max_epochs: int = 500
    """Epoch limit."""
    patience: int = 20
    """Early-stopping patience (epochs)."""
    batch_size: int = 256
    """Mini-batch size."""
    lr: float = 1e-3
    """Initial Adam learning rate."""
    lr_factor: float = 0.33
    """ReduceLROnPlateau factor."""
    lr_patience: int = 10
    """ReduceLROnPlateau patience (epochs)."""
    theta_norm: str = "l1"
    """Lambda-layer normalization (``l1`` feasible; ``l2`` the paper's text)."""
    sort_output: bool = True
    """Lambda-layer descending sort."""
    augment: bool = True
    """Random channel symmetries on every training mini-batch (``false``: the paper's recipe)."""
    seed: int = 0
    """Seed of the data sets, the network initialization and the shuffling."""

    def __post_init__(self) -> None:
        check_fields(self, at_least_1=("num_tx", "num_rx", "num_users", "num_symbols",
                                       "num_train", "num_val", "num_test", "max_epochs",
                                       "batch_size"),
                     at_least_0=("patience", "lr_patience"), unit_interval=("alpha",),
                     positive=("lr", "lr_factor"))


def _scenario(cfg: UplinkCommon, **over: Any) -> UplinkScenario:
    kw: dict[str, Any] = dict(
        num_tx=cfg.num_tx, num_rx=cfg.num_rx, num_users=cfg.num_users,
        num_symbols=cfg.num_symbols, snr_s_db=cfg.snr_s_db, snr_c_db=cfg.snr_c_db,
        alpha=cfg.alpha, comm_snr_mode=cfg.comm_snr_mode, ms_mode=cfg.ms_mode,
    )
    kw.update(over)
    kw["num_symbols"] = max(int(kw["num_symbols"]), int(kw["num_tx"]))
    return UplinkScenario(**kw)


def _data(sc: UplinkScenario, cfg: UplinkCommon) -> tuple[UplinkProblem, UplinkProblem,
                                                          UplinkProblem]:
    """Training, validation and test sets (complex64; the test set is scored in complex128)."""
    base = 1000 * cfg.seed
    tr = sc.sample(cfg.num_train, generator=make_generator(base + 1))
    va = sc.sample(cfg.num_val, generator=make_generator(base + 2))
    te = sc.sample(cfg.num_test, generator=make_generator(base + 3))
    return tr, va, te.to(dtype=torch.complex128)


def _train(cfg: UplinkCommon, ctx: RunContext, tr: UplinkProblem, va: UplinkProblem,
           alpha: float, tag: str, kind: str = "isacnn") -> tuple[Any, TrainResult]:
    spec = UplinkNetConfig(kind=kind, num_tx=tr.num_tx, num_rx=tr.num_rx, num_users=tr.num_users,
                   theta_norm=cfg.theta_norm, sort_output=cfg.sort_output, seed=cfg.seed)
    model = build_uplink_network(spec)
    tcfg = dataclasses.replace(UPLINK_TRAIN_CONFIG, lr=cfg.lr, batch_size=cfg.batch_size,
                               max_epochs=cfg.max_epochs, patience=cfg.patience,
                               lr_factor=cfg.lr_factor, lr_patience=cfg.lr_patience,
                               seed=cfg.seed)
    epoch_log = EpochLog(ctx.log, f"{tag}: {kind}", tcfg.max_epochs,
                         interval_s=ctx.log_interval_s)
    hist = train_uplink(model, tr, va, tcfg, alpha=alpha, augment=cfg.augment, log=epoch_log)
    ctx.log(f"{tag}: {kind} trained {hist.epochs} epochs, best val loss "
            f"{hist.best_val_loss:.5f} at epoch {hist.best_epoch}")
    if ctx.out_dir is not None:
        safe = tag.replace("=", "").replace(",", "_").replace(" ", "")
        save_uplink_net(ctx.out_dir / "checkpoints" / f"{kind}_{safe}", model,
                        metrics={"tag": tag, "alpha": alpha, "epochs": hist.epochs,
                                 "best_epoch": hist.best_epoch,
                                 "best_val_loss": hist.best_val_loss})
    return model, hist


def _diagnostics(design: Design) -> dict[str, Any]:
    """The scalar diagnostics of a design (AO iterations, PGA improvements, CVXPY statuses)."""
    return {k: v for k, v in design.info.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _score(method: str, problem: UplinkProblem, design: Design,
           seconds_per_instance: float | None = None) -> dict[str, Any]:
    """A result row: ``method``, ``instances`` (instances scored), the finite means of
    :func:`evaluate`'s metrics (and ``wsnr_std``), the design's scalar diagnostics and, when
    timed, ``seconds_per_instance``."""
    return score(method, problem, design, evaluate, reduce=mean_scores,
                 seconds_per_instance=seconds_per_instance, extra=_diagnostics(design))


def _with_gap(rows: list[dict[str, Any]], ref: dict[str, Any] | None = None) -> None:
    """Add ``gap_pct``, the WSNR gap to the reference row in %, to every row scored on as many
    instances as the reference (``ref``, or the row of method ``reference``)."""
    ref = ref or next((r for r in rows if r["method"] == "reference"), None)
    if ref is None:
        return
    for r in rows:
        if r.get("instances") == ref["instances"]:
            r["gap_pct"] = 100.0 * (ref["wsnr"] - r["wsnr"]) / ref["wsnr"]


# ---------------------------------------------------------------------------------------------
# the sweep template: scenario for a point -> data -> train -> score designers -> gap -> record
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    """One sweep point of the template :func:`_sweep`."""

    key: str
    """Name of the point in the results (``key`` column, resume)."""
    columns: tuple[tuple[str, Any], ...]
    """Sweep coordinates written into every row of the point, e.g. ``(("alpha", 0.5),)``."""
    scenario: tuple[tuple[str, Any], ...] = ()
    """Overrides of the experiment's scenario (:func:`_scenario`)."""
    alpha: float | None = None
    """Sensing weight set on the sampled problems (``None``: the scenario's ``cfg.alpha``)."""


def _sweep(
    cfg: UplinkCommon,
    ctx: RunContext,
    points: list[_Point],
    designers: Callable[[], list[tuple[str, Any]]],
    *,
    desc: str,
    networks: tuple[str, ...] = ("isacnn",),
    timed: bool = False,
    record_epochs: bool = False,
    extra_rows: Callable[[UplinkProblem], list[dict[str, Any]]] | None = None,
) -> None:
    """The qi_uplink experiment template, run over ``points`` (resumable).

    For each point not finished yet: the scenario with the point's overrides, its training,
    validation and test sets (:func:`_data`; reused by consecutive points with the same
    scenario), one network per kind in ``networks`` trained at the point's α, every designer
    scored on the test set (networks first, then ``designers()``), the gap of each to the
    ``reference`` row, ``extra_rows(test)`` appended, and the point's columns added to
    every row.

    Parameters
    ----------
    designers : callable
        ``designers() -> [(name, designer), ...]``, the non-learned designers of a point.
    networks : tuple of str
        Network kinds trained per point (``isacnn``, ``fcnn``), named after their kind.
    timed : bool
        Time every designer (:func:`~isaclearn.systems.toolkit.time_designer`, with a
        warm-up) into ``seconds_per_instance``.
    record_epochs : bool
        Add the epochs each network trained (``epochs``) to its row.
    extra_rows : callable or None
        Rows scored on their own instances (e.g. a slow designer on a subset), with their own
        gap.
    """
    data: dict[tuple[tuple[str, Any], ...], tuple[UplinkProblem, UplinkProblem,
                                                  UplinkProblem]] = {}

    def run_point(p: _Point) -> list[dict[str, Any]]:
        if p.scenario not in data:  # consecutive points share their data; keep only one set
            data.clear()
            data[p.scenario] = _data(_scenario(cfg, **dict(p.scenario)), cfg)
        tr, va, te = data[p.scenario]
        alpha = cfg.alpha
        if p.alpha is not None:
            alpha = float(p.alpha)
            tr, va, te = (dataclasses.replace(x, alpha=alpha) for x in (tr, va, te))
        learned: list[tuple[str, Any, int]] = []
        for kind in networks:
            model, hist = _train(cfg, ctx, tr, va, alpha, p.key, kind=kind)
            learned.append((kind, LearnedUplink(model, name=kind), len(hist.val_loss)))
        rows = []
        todo = [*learned, *((n, d, None) for n, d in designers())]
        for name, des, epochs in ctx.progress(todo, total=len(todo), desc=f"{p.key}: designers"):
            if timed:
                design, sec = time_designer(des, te)
                row = _score(name, te, design, sec)
            else:
                row = _score(name, te, des.design(te))
            if record_epochs and epochs is not None:
                row["epochs"] = epochs
            rows.append(row)
        _with_gap(rows)
        if extra_rows is not None:
            rows += extra_rows(te)
        for r in rows:
            r.update(p.columns)
        ctx.log(f"{p.key}: " + ", ".join(f"{r['method']} {r['wsnr']:.4f}" for r in rows))
        return rows

    sweep(ctx, points, lambda p: p.key, run_point, desc=desc)


# ---------------------------------------------------------------------------------------------
# schemes (Fig. 7)
# ---------------------------------------------------------------------------------------------


@dataclass
class SchemesConfig(UplinkCommon):
    """Fig. 7: WSNR versus α for ISACNN and the baselines."""

    alphas: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
    """Sensing weights (one ISACNN trained per value)."""
    include_fcnn: bool = False
    """Also train and score FC-NN."""
    num_cvxpy: int = 0
    """Score the CVXPY-backed traditional scheme on this many test instances (0: skip)."""
    reference_pga_starts: int = 0
    """Random starts of the projected-gradient check inside the reference (0: frontier only)."""


def run_schemes(cfg: SchemesConfig, ctx: RunContext) -> dict[str, Any]:
    points = [_Point(key=f"alpha={a:.3f}", columns=(("alpha", float(a)),), alpha=float(a))
              for a in cfg.alphas]

    def designers() -> list[tuple[str, Any]]:
        return [("average", Average()), ("zfbf", ZFBF()),
                ("traditional", Traditional()),
                ("reference", OptimalityReference(pga_starts=cfg.reference_pga_starts))]

    def cvxpy_rows(te: UplinkProblem) -> list[dict[str, Any]]:
        if cfg.num_cvxpy <= 0:
            return []
        # the CVXPY backend is slow: a subset, with its own reference
        sub = te.subset(slice(0, cfg.num_cvxpy))
        d, sec = time_designer(Traditional(backend="cvxpy"), sub)
        row = _score("traditional_cvxpy", sub, d, sec)
        _with_gap([row], ref=_score("reference", sub, OptimalityReference().design(sub)))
        return [row]

    networks = ("isacnn", "fcnn") if cfg.include_fcnn else ("isacnn",)
    _sweep(cfg, ctx, points, designers, desc="alpha", networks=networks, timed=True,
           record_epochs=True, extra_rows=cvxpy_rows)
    summary = _schemes_summary(ctx.rows())
    for line in _schemes_verdict(summary, ctx.rows(), max_epochs=cfg.max_epochs,
                                 augment=cfg.augment):
        ctx.log(line)
    return summary


SCHEMES_TOLERANCE_PCT = 0.2
"""ISACNN counts as at least the best of Average and ZFBF (the paper's Fig. 7 claim) when its
WSNR is at most this many percent below it."""


def _schemes_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    r"""The summary of ``schemes``: ISACNN's WSNR per α, its margins to Average, ZFBF and the
    traditional scheme, its gap to the reference, and the acceptance checks.

    ``isacnn_margin_pct_alpha{α}`` is ISACNN's relative WSNR margin in % to the better of
    Average and ZFBF at that α, :math:`100\,(W_\text{ISACNN}-W_\text{best})/W_\text{best}`;
    ``isacnn_best_baseline_alpha{α}`` names that baseline; ``isacnn_shortfall_alphas`` lists the
    α where the margin is below ``-SCHEMES_TOLERANCE_PCT`` (:data:`SCHEMES_TOLERANCE_PCT`), and
    ``accept_within_0.2pct_of_average_and_zfbf`` is true when there is none.
    """
    by_alpha: dict[float, dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r.get("method") == "traditional_cvxpy":
            continue
        by_alpha.setdefault(float(r["alpha"]), {})[r["method"]] = r
    if not by_alpha:
        return {}
    s: dict[str, Any] = {}
    margins_avg, margins_zf, ratios_trad, gaps = [], [], [], []
    margins_pct: list[float] = []
    shortfall: list[float] = []
    for a, ms in sorted(by_alpha.items()):
        isa = ms["isacnn"]["wsnr"]
        margins_avg.append(isa - ms["average"]["wsnr"])
        margins_zf.append(isa - ms["zfbf"]["wsnr"])
        ratios_trad.append(isa / ms["traditional"]["wsnr"])
        gaps.append(ms["isacnn"].get("gap_pct", float("nan")))
        best = max(("average", "zfbf"), key=lambda m: ms[m]["wsnr"])
        margin = 100.0 * (isa - ms[best]["wsnr"]) / ms[best]["wsnr"]
        margins_pct.append(margin)
        if not margin >= -SCHEMES_TOLERANCE_PCT:
            shortfall.append(a)
        s[f"isacnn_wsnr_alpha{a:.2f}"] = isa
        s[f"isacnn_margin_pct_alpha{a:.2f}"] = margin
        s[f"isacnn_best_baseline_alpha{a:.2f}"] = best
        if abs(a) < 1e-12:
            s["isacnn_wsnr_at_alpha0"] = isa
    s["isacnn_min_margin_vs_average"] = min(margins_avg)
    s["isacnn_min_margin_vs_zfbf"] = min(margins_zf)
    s["isacnn_min_ratio_vs_traditional"] = min(ratios_trad)
    s["isacnn_max_gap_to_reference_pct"] = max(gaps)
    s["traditional_max_gap_to_reference_pct"] = max(
        ms["traditional"].get("gap_pct", float("nan")) for ms in by_alpha.values())
    s["accept_alpha0_within_1e-3"] = (abs(s["isacnn_wsnr_at_alpha0"] - 1.0) <= 1e-3
                                      if "isacnn_wsnr_at_alpha0" in s else None)
    s["accept_beats_average_and_zfbf"] = bool(min(margins_avg) >= 0 and min(margins_zf) >= 0)
    s["accept_within_2pct_of_traditional"] = bool(min(ratios_trad) >= 0.98)
    s["isacnn_min_margin_pct_vs_best_baseline"] = min(margins_pct)
    s["isacnn_shortfall_alphas"] = shortfall
    s["accept_within_0.2pct_of_average_and_zfbf"] = not shortfall
    return s


def _schemes_verdict(summary: dict[str, Any], rows: list[dict[str, Any]], *, max_epochs: int,
                     augment: bool) -> list[str]:
    """The lines logged at the end of ``schemes``: ISACNN's margin to the better of Average and
    ZFBF per α and, for every α where it falls short by more than
    :data:`SCHEMES_TOLERANCE_PCT`, a line saying by how much and why."""
    if "isacnn_shortfall_alphas" not in summary:
        return []
    names = {"average": "Average", "zfbf": "ZFBF"}
    alphas = sorted({float(r["alpha"]) for r in rows if r.get("method") == "isacnn"})
    epochs = {float(r["alpha"]): r.get("epochs") for r in rows if r.get("method") == "isacnn"}
    parts = [f"α = {a:g}: {summary[f'isacnn_margin_pct_alpha{a:.2f}']:+.2f} % "
             f"(vs {names[summary[f'isacnn_best_baseline_alpha{a:.2f}']]})" for a in alphas]
    lines = ["ISACNN's WSNR margin to the better of Average and ZFBF: " + ", ".join(parts)]
    short = summary["isacnn_shortfall_alphas"]
    if not short:
        lines.append(f"ISACNN is at least Average and ZFBF (within {SCHEMES_TOLERANCE_PCT:g} %) "
                     "at every α: the paper's Fig. 7 claim holds")
    for a in short:
        ep = epochs.get(a)
        if not augment:
            why = ("the paper's recipe (augment=false) overfits the channel inputs and stays "
                   "short at high α even at paper size; augment=true closes it "
                   "(docs/qi_uplink.md)")
        elif isinstance(ep, int | float) and ep >= max_epochs:
            why = (f"the network is not converged (it stopped at the epoch limit "
                   f"max_epochs={max_epochs}); --profile paper ties")
        else:
            why = "the network is not converged; --profile paper ties"
        best = names[summary[f"isacnn_best_baseline_alpha{a:.2f}"]]
        lines.append(f"ISACNN below {best} by {-summary[f'isacnn_margin_pct_alpha{a:.2f}']:.2f} % "
                     f"at α = {a:g} (tolerance {SCHEMES_TOLERANCE_PCT:g} %): {why}")
    return lines


# ---------------------------------------------------------------------------------------------
# training curves (Fig. 6)
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainingConfig(UplinkCommon):
    """Fig. 6: training and validation loss versus epoch, ISACNN vs FC-NN, several set sizes."""

    train_sizes: tuple[int, ...] = (1000, 2000, 5000, 8000)
    """Training-set sizes (the first ``n`` of the ``num_train`` instances)."""
    methods: tuple[str, ...] = ("isacnn", "fcnn")
    """Networks to train."""


def run_training(cfg: TrainingConfig, ctx: RunContext) -> dict[str, Any]:
    data: list[tuple[UplinkProblem, UplinkProblem, UplinkProblem]] = []

    def run_point(point: tuple[str, int]) -> list[dict[str, Any]]:
        m, n = point
        if not data:  # one data set for every network, sampled only if one is to be trained
            n_max = max(cfg.train_sizes)
            c2 = dataclasses.replace(cfg, num_train=max(n_max, cfg.num_train), num_test=1)
            data.append(_data(_scenario(cfg), c2))
        tr, va, _ = data[0]
        _, hist = _train(cfg, ctx, tr.subset(slice(0, n)), va, cfg.alpha, f"{m}:n={n}", kind=m)
        return [{"method": m, "train_num": n, "epoch": e + 1, "train_loss": tl, "val_loss": vl,
                 "lr": lr, "best_epoch": hist.best_epoch}
                for e, (tl, vl, lr) in enumerate(zip(hist.train_loss, hist.val_loss, hist.lr))]

    points = [(m, n) for n in cfg.train_sizes for m in cfg.methods]
    sweep(ctx, points, lambda p: f"{p[0]}:n={p[1]}", run_point, desc="networks")
    s: dict[str, Any] = {}
    for r in ctx.rows():
        k = f"{r['method']}_n{r['train_num']}"
        if r["epoch"] == r["best_epoch"]:
            s[f"{k}_best_val_loss"] = r["val_loss"]
            s[f"{k}_best_epoch"] = r["epoch"]
        s[f"{k}_epochs"] = max(s.get(f"{k}_epochs", 0), r["epoch"])
    # oscillation: mean absolute epoch-to-epoch change of the validation loss after epoch 5
    for m in cfg.methods:
        for n in cfg.train_sizes:
            v = [r["val_loss"] for r in ctx.rows(f"{m}:n={n}")]
            if len(v) > 6:
                s[f"{m}_n{n}_val_oscillation"] = sum(abs(a - b) for a, b in zip(v[6:], v[5:-1])
                                                     ) / (len(v) - 6)
    return s


# ---------------------------------------------------------------------------------------------
# SNR (Fig. 8)
# ---------------------------------------------------------------------------------------------


@dataclass
class SnrConfig(UplinkCommon):
    """Fig. 8: sensing and communication rate versus SNR_s for several SNR_c."""

    snr_s_db_list: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0)
    """Sensing SNRs in dB (x axis)."""
    snr_c_db_list: tuple[float, ...] = (-10.0, 0.0, 10.0)
    """Communication SNRs in dB (one curve each)."""


def run_snr(cfg: SnrConfig, ctx: RunContext) -> dict[str, Any]:
    points = [_Point(key=f"snr_c={c:g},snr_s={s_:g}",
                     columns=(("snr_s_db", float(s_)), ("snr_c_db", float(c))),
                     scenario=(("snr_s_db", float(s_)), ("snr_c_db", float(c))))
              for c in cfg.snr_c_db_list for s_ in cfg.snr_s_db_list]
    _sweep(cfg, ctx, points, lambda: [("reference", OptimalityReference())], desc="SNR points")
    s: dict[str, Any] = {}
    for r in ctx.rows():
        if r["method"] == "isacnn":
            tag = f"c{r['snr_c_db']:g}_s{r['snr_s_db']:g}"
            s[f"sr_{tag}"] = r["sensing_rate"]
            s[f"cr_{tag}"] = r["comm_rate"]
    return s


# ---------------------------------------------------------------------------------------------
# antennas and users (Fig. 9)
# ---------------------------------------------------------------------------------------------


@dataclass
class AntennasUsersConfig(UplinkCommon):
    """Fig. 9: SR, CR and sum CR versus K for several array sizes ``N_t = N_r``."""

    users: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    """Numbers of users (x axis)."""
    antennas: tuple[int, ...] = (8, 12, 16)
    """``N_t = N_r`` (one curve each; ``L = max(num_symbols, N_t)``)."""


def run_antennas_users(cfg: AntennasUsersConfig, ctx: RunContext) -> dict[str, Any]:
    points = [_Point(key=f"antennas={n},users={k}",
                     columns=(("num_antennas", int(n)), ("num_users", int(k))),
                     scenario=(("num_tx", int(n)), ("num_rx", int(n)), ("num_users", int(k))))
              for n in cfg.antennas for k in cfg.users]
    _sweep(cfg, ctx, points, lambda: [("reference", OptimalityReference())],
           desc="(N, K) points")
    s: dict[str, Any] = {}
    for r in ctx.rows():
        if r["method"] == "isacnn":
            tag = f"n{r['num_antennas']}_k{r['num_users']}"
            s[f"sr_{tag}"] = r["sensing_rate"]
            s[f"cr_{tag}"] = r["comm_rate"]
            s[f"scr_{tag}"] = r["sum_comm_rate"]
    return s


# ---------------------------------------------------------------------------------------------
# weight and users (Fig. 10)
# ---------------------------------------------------------------------------------------------


@dataclass
class WeightUsersConfig(UplinkCommon):
    """Fig. 10: WSNR, SR and CR versus α for several numbers of users."""

    alphas: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
    """Sensing weights (x axis)."""
    users: tuple[int, ...] = (3, 5, 7)
    """Numbers of users (one curve each)."""


def run_weight_users(cfg: WeightUsersConfig, ctx: RunContext) -> dict[str, Any]:
    points = [_Point(key=f"users={k},alpha={a:.3f}",
                     columns=(("alpha", float(a)), ("num_users", int(k))),
                     scenario=(("num_users", int(k)),), alpha=float(a))
              for k in cfg.users for a in cfg.alphas]
    _sweep(cfg, ctx, points, lambda: [("reference", OptimalityReference())],
           desc="(K, α) points")
    s: dict[str, Any] = {}
    for r in ctx.rows():
        if r["method"] == "isacnn":
            s[f"wsnr_k{r['num_users']}_a{r['alpha']:.2f}"] = r["wsnr"]
    return s


# ---------------------------------------------------------------------------------------------
# imperfect CSI (Fig. 11)
# ---------------------------------------------------------------------------------------------


@dataclass
class ImperfectCsiConfig(UplinkCommon):
    """Fig. 11: WSNR versus N_r under imperfect CSI ``H = √β Ĥ + E``."""

    betas: tuple[float, ...] = (0.3, 0.7, 1.0)
    """CSI accuracies β (1 = perfect)."""
    rx_list: tuple[int, ...] = (8, 10, 12, 14, 16)
    """Receive antennas ``N_r`` (x axis)."""


def run_imperfect_csi(cfg: ImperfectCsiConfig, ctx: RunContext) -> dict[str, Any]:
    points = [_Point(key=f"beta={b:g},num_rx={n}",
                     columns=(("beta", float(b)), ("num_rx", int(n))),
                     scenario=(("num_rx", int(n)), ("csi_beta", float(b))))
              for b in cfg.betas for n in cfg.rx_list]

    def designers() -> list[tuple[str, Any]]:
        return [("traditional", Traditional()), ("average", Average()),
                ("reference", OptimalityReference(use_csi=False))]

    _sweep(cfg, ctx, points, designers, desc="(β, N_r) points")
    s: dict[str, Any] = {}
    rows = ctx.rows()
    perfect = {(r["method"], r["num_rx"]): r for r in rows if r["beta"] == 1.0}
    for r in rows:
        p = perfect.get((r["method"], r["num_rx"]))
        if p is None or r["beta"] == 1.0 or r["method"] == "reference":
            continue
        tag = f"{r['method']}_b{r['beta']:g}_nr{r['num_rx']}"
        s[f"loss_pct_genie_{tag}"] = 100.0 * (p["wsnr_genie"] - r["wsnr_genie"]) / p["wsnr_genie"]
        s[f"loss_pct_{tag}"] = 100.0 * (p["wsnr"] - r["wsnr"]) / p["wsnr"]
    return s


# ---------------------------------------------------------------------------------------------
# runtime (Table I)
# ---------------------------------------------------------------------------------------------


@dataclass
class RuntimeConfig(UplinkCommon):
    """Table I: time per instance versus ``N_t``, ``N_r`` and ``K``; ISACNN (batched inference,
    including the EVD pre-processing and the recovery of S and w) versus the traditional scheme.

    The network is timed with its initial weights: its cost does not depend on their values.
    """

    tx_list: tuple[int, ...] = (4, 6, 8, 10, 12, 14, 16)
    """``N_t`` sweep (others at their defaults)."""
    rx_list: tuple[int, ...] = (4, 6, 8, 10, 12, 14, 16)
    """``N_r`` sweep."""
    users_list: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    """``K`` sweep."""
    repeats: int = 3
    """Timing repetitions (the minimum is reported)."""
    num_cvxpy: int = 3
    """Instances timed with the CVXPY-backed traditional scheme per point (0: skip)."""


def run_runtime(cfg: RuntimeConfig, ctx: RunContext) -> dict[str, Any]:
    def run_point(point: tuple[str, int]) -> list[dict[str, Any]]:
        name, val = point
        sc = _scenario(cfg, **{name: int(val)})
        te = sc.sample(cfg.num_test, generator=make_generator(1000 * cfg.seed + 3))
        spec = UplinkNetConfig(num_tx=te.num_tx, num_rx=te.num_rx, num_users=te.num_users,
                       theta_norm=cfg.theta_norm, sort_output=cfg.sort_output, seed=cfg.seed)
        times = {
            "isacnn": time_designer(LearnedUplink(build_uplink_network(spec)), te,
                                    repeat=cfg.repeats)[1],
            "traditional": time_designer(Traditional(), te)[1],
            "reference": time_designer(OptimalityReference(), te)[1],
        }
        if cfg.num_cvxpy > 0:
            sub = te.subset(slice(0, cfg.num_cvxpy))
            times["traditional_cvxpy"] = time_designer(Traditional(backend="cvxpy"),
                                                       sub)[1]
        rows = []
        for m, t in times.items():
            row: dict[str, Any] = {"method": m, "sweep": name, "value": int(val),
                                   "seconds_per_instance": t,
                                   "ratio_to_isacnn": t / times["isacnn"]}
            if m == "isacnn":
                paper_ms = PAPER_RUNTIME_MS.get(name, {}).get(int(val), float("nan"))
                row["paper_seconds_per_instance"] = 1e-3 * paper_ms
            rows.append(row)
        return rows

    points = [("num_tx", v) for v in cfg.tx_list] + [("num_rx", v) for v in cfg.rx_list] + [
        ("num_users", v) for v in cfg.users_list]
    sweep(ctx, points, lambda p: f"{p[0]}={p[1]}", run_point, desc="runtime points")
    s: dict[str, Any] = {"torch_threads": torch.get_num_threads()}
    for r in ctx.rows():
        if r["method"] == "isacnn":
            s[f"isacnn_seconds_per_instance_{r['sweep']}{r['value']}"] = r["seconds_per_instance"]
        else:
            s[f"{r['method']}_over_isacnn_{r['sweep']}{r['value']}"] = r["ratio_to_isacnn"]
    return s


# ---------------------------------------------------------------------------------------------
# registration
# ---------------------------------------------------------------------------------------------

def _best_epoch(row: Mapping[str, Any]) -> bool:
    """The row of a training curve at its best (selected) epoch: the training table's line."""
    return row.get("epoch") == row.get("best_epoch")


_QUICK_TRAIN = {"num_train": 3000, "num_val": 750, "num_test": 500, "max_epochs": 40,
                "patience": 10, "lr_patience": 5}

register(ExperimentSpec(
    name="qi_uplink.schemes",
    fn=run_schemes,
    config_cls=SchemesConfig,
    profiles={
        # trained to within 0.05 % of the reference at α = 0.8 and 1 (docs/qi_uplink.md):
        # the augmented network needs ~100 epochs, reached faster with lr 3e-3
        "quick": {**_QUICK_TRAIN, "num_train": 4000, "num_val": 1000, "max_epochs": 100,
                  "patience": 20, "lr": 3e-3, "lr_patience": 10,
                  "alphas": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), "num_cvxpy": 3},
        "paper": {"num_cvxpy": 20, "reference_pga_starts": 16},
    },
    description="Fig. 7: WSNR vs α — ISACNN, Average, ZFBF, traditional AO+SCA, optimality "
                "reference",
    plots=[PlotSpec(filename="schemes.png", x="alpha", y=["wsnr"], xlabel="sensing weight α",
                    ylabels=["WSNR"], title="qi_uplink Fig. 7")],
    table_columns=["alpha", "method", "wsnr", "gap_pct", "sensing_rate", "comm_rate",
                   "seconds_per_instance"],
    table_group=["alpha"],
))

register(ExperimentSpec(
    name="qi_uplink.training",
    fn=run_training,
    config_cls=TrainingConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "train_sizes": (500, 2000), "max_epochs": 30},
        "paper": {},
    },
    description="Fig. 6: training/validation loss vs epoch, ISACNN vs FC-NN, several set sizes",
    plots=[PlotSpec(filename="training_isacnn.png", x="epoch", y=["train_loss", "val_loss"],
                    group="train_num", where={"method": "isacnn"}, title="ISACNN"),
           PlotSpec(filename="training_fcnn.png", x="epoch", y=["train_loss", "val_loss"],
                    group="train_num", where={"method": "fcnn"}, title="FC-NN")],
    table_columns=["method", "train_num", "epoch", "train_loss", "val_loss"],
    table_group=["train_num"],
    table_filter=_best_epoch,
))

register(ExperimentSpec(
    name="qi_uplink.snr",
    fn=run_snr,
    config_cls=SnrConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "num_train": 2000, "num_val": 500, "max_epochs": 25,
                  "snr_s_db_list": (0.0, 10.0, 20.0), "snr_c_db_list": (-10.0, 0.0, 10.0)},
        "paper": {},
    },
    description="Fig. 8: sensing and communication rate vs SNR_s for several SNR_c (ISACNN)",
    plots=[PlotSpec(filename="snr.png", x="snr_s_db", y=["sensing_rate", "comm_rate"],
                    group="snr_c_db", where={"method": "isacnn"}, xlabel="SNR_s (dB)",
                    ylabels=["SR (bit/s/Hz)", "CR (bit/s/Hz)"], title="qi_uplink Fig. 8")],
    table_columns=["snr_s_db", "snr_c_db", "method", "sensing_rate", "comm_rate", "wsnr",
                   "gap_pct"],
    table_group=["snr_s_db", "snr_c_db"],
))

register(ExperimentSpec(
    name="qi_uplink.antennas_users",
    fn=run_antennas_users,
    config_cls=AntennasUsersConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "num_train": 2000, "num_val": 500, "max_epochs": 25,
                  "users": (2, 5, 8), "antennas": (8, 16)},
        "paper": {},
    },
    description="Fig. 9: SR, CR and sum CR vs number of users for several array sizes (ISACNN)",
    plots=[PlotSpec(filename="antennas_users.png", x="num_users",
                    y=["sensing_rate", "comm_rate", "sum_comm_rate"], group="num_antennas",
                    where={"method": "isacnn"}, xlabel="K",
                    ylabels=["SR", "CR", "SCR"], title="qi_uplink Fig. 9")],
    table_columns=["num_antennas", "num_users", "method", "sensing_rate", "comm_rate",
                   "sum_comm_rate", "gap_pct"],
    table_group=["num_antennas", "num_users"],
))

register(ExperimentSpec(
    name="qi_uplink.weight_users",
    fn=run_weight_users,
    config_cls=WeightUsersConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "num_train": 2000, "num_val": 500, "max_epochs": 25,
                  "alphas": (0.0, 0.25, 0.5, 0.75, 1.0), "users": (3, 7)},
        "paper": {},
    },
    description="Fig. 10: WSNR, SR and CR vs α for several numbers of users (ISACNN)",
    plots=[PlotSpec(filename="weight_users.png", x="alpha",
                    y=["wsnr", "sensing_rate", "comm_rate"], group="num_users",
                    where={"method": "isacnn"}, xlabel="α", title="qi_uplink Fig. 10")],
    table_columns=["num_users", "alpha", "method", "wsnr", "sensing_rate", "comm_rate",
                   "gap_pct"],
    table_group=["num_users", "alpha"],
))

register(ExperimentSpec(
    name="qi_uplink.imperfect_csi",
    fn=run_imperfect_csi,
    config_cls=ImperfectCsiConfig,
    profiles={
        "quick": {**_QUICK_TRAIN, "num_train": 2000, "num_val": 500, "max_epochs": 25,
                  "rx_list": (8, 16)},
        "paper": {},
    },
    description="Fig. 11: WSNR vs N_r under imperfect CSI (ISACNN, traditional, genie "
                "reference)",
    plots=[PlotSpec(filename="imperfect_csi.png", x="num_rx", y=["wsnr_genie", "wsnr"],
                    group="beta", where={"method": "isacnn"}, xlabel="N_r",
                    ylabels=["WSNR (beams on true H, paper)", "WSNR (beams from estimate)"],
                    title="qi_uplink Fig. 11 (ISACNN)")],
    table_columns=["beta", "num_rx", "method", "wsnr_genie", "wsnr", "gap_pct"],
    table_group=["beta", "num_rx"],
))

register(ExperimentSpec(
    name="qi_uplink.runtime",
    fn=run_runtime,
    config_cls=RuntimeConfig,
    profiles={
        "quick": {"num_test": 500, "tx_list": (4, 10, 16), "rx_list": (4, 10, 16),
                  "users_list": (2, 5, 8), "num_cvxpy": 2, "repeats": 3},
        "paper": {},
    },
    description="Table I: time per instance vs N_t, N_r, K; ISACNN vs traditional (ratio)",
    plots=[PlotSpec(filename=f"runtime_{sw}.png", x="value", y=["seconds_per_instance"],
                    where={"sweep": sw}, logy=True, xlabel=lab, ylabels=["s per instance"],
                    title=f"qi_uplink Table I: time vs {lab}")
           for sw, lab in (("num_tx", "N_t"), ("num_rx", "N_r"), ("num_users", "K"))],
    table_columns=["sweep", "value", "method", "seconds_per_instance", "ratio_to_isacnn",
                   "paper_seconds_per_instance"],
    table_group=["value"],
))
