"""Figures (issue 13, defect 6): one figure per value of a split column, error-bar figures
beside the default ones, readable dense curves, and messages that say why a figure is empty."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from matplotlib.container import ErrorbarContainer

from isaclearn.core.errors import ConfigError
from isaclearn.experiments.plotting import expand_plot, plot_figure, plot_rows
from isaclearn.systems.base import PlotSpec, get_experiment

PNG = b"\x89PNG"


def _tradeoff_rows(ms: tuple[int, ...]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for m in ms:
        for method in ("mmse", "dnn"):
            for rho in (0.0, 0.5, 1.0):
                for kind in ("rho_sweep", "boundary"):
                    rows.append({"key": f"M{m}/{method}/rho{rho:g}", "kind": kind, "M": m,
                                 "method": method, "rho": rho, "sum_rate": 10.0 + rho + m,
                                 "sum_crb_db": -50.0 - rho})
    return rows


def test_tradeoff_draws_every_m(tmp_path: Path) -> None:
    # M = 16 and 4 are not the paper's values: they used to draw nothing
    plots = get_experiment("temiz_unsup.tradeoff").plots
    written = plot_rows(_tradeoff_rows((16, 4)), plots, tmp_path)
    assert sorted(p.name for p in written) == ["boundary_M16.png", "boundary_M4.png",
                                               "tradeoff_M16.png", "tradeoff_M4.png"]
    assert all(p.read_bytes()[:4] == PNG for p in written)


def test_split_names_titles_and_rows() -> None:
    spec = PlotSpec(filename="bp_M{M}_rho{rho}.png", x="angle", y=["g"], split=("M", "rho"),
                    where={"kind": "pattern"}, title="M = {M}, rho = {rho}")
    rows = [{"kind": "pattern", "M": m, "rho": r, "angle": 0.0, "g": 1.0}
            for m in (20, 10) for r in (0.9, 0.0)] + [{"kind": "peaks", "M": 30, "rho": 0.1}]
    got = [(s.filename, s.title, s.where) for s in expand_plot(spec, rows)]
    assert got[0] == ("bp_M10_rho0.png", "M = 10, rho = 0",
                      {"kind": "pattern", "M": 10, "rho": 0.0})
    assert [g[0] for g in got] == ["bp_M10_rho0.png", "bp_M10_rho0.9.png", "bp_M20_rho0.png",
                                   "bp_M20_rho0.9.png"]
    with pytest.raises(ConfigError, match="cannot name"):
        expand_plot(PlotSpec(filename="x_{N}.png", x="angle", y=["g"], split="M"), rows)


def test_errorbars_go_beside_the_default_figure(tmp_path: Path) -> None:
    spec = PlotSpec(filename="fig.png", x="x", y=["y"])
    rows = [{"method": m, "x": x, "y": x + s} for m in ("a", "b") for x in (1, 2, 3)
            for s in (0.0, 0.5)]
    assert plot_rows(rows, [spec], tmp_path) == [tmp_path / "fig.png"]
    before = (tmp_path / "fig.png").read_bytes()
    assert plot_rows(rows, [spec], tmp_path, errorbars=True) == [tmp_path / "fig_errorbars.png"]
    assert (tmp_path / "fig.png").read_bytes() == before
    fig = plot_figure(rows, spec, errorbars=True)
    assert any(isinstance(c, ErrorbarContainer) for c in fig.axes[0].containers)


def test_dense_curves_have_no_caps_or_markers_and_the_legend_is_outside() -> None:
    spec = PlotSpec(filename="bp.png", x="angle", y=["gain"])
    rows = [{"method": f"m{k}", "angle": float(a), "gain": math.cos(a / 30) + k + 0.1 * s}
            for k in range(8) for a in range(-90, 91) for s in (0, 1)]
    fig = plot_figure(rows, spec, errorbars=True)
    ax = fig.axes[0]
    assert not ax.containers  # no error-bar caps on 181-point curves
    assert all(line.get_marker() in ("None", "none", None, "") for line in ax.get_lines())
    assert ax.collections  # the standard error as bands
    assert ax.get_legend() is None and fig.legends  # the legend beside the axes
    single = [{"method": "a", "angle": float(a), "gain": 1.0} for a in range(100)]
    fig = plot_figure(single + [{**r, "method": "b"} for r in single], spec, errorbars=True)
    assert not fig.axes[0].collections  # one row per point: no error to draw


def test_empty_figures_say_why(tmp_path: Path) -> None:
    spec = get_experiment("temiz_unsup.baselines").plots
    rows = [{"kind": "designer", "plane": "rate_crb", "method": "mmse", "sum_rate": 20.0,
             "sum_crb_db": -50.0},
            {"kind": "tradeoff", "plane": "rate_crb", "method": "sdr_boundary",
             "sinr_min_db": 0.0, "instances": 0},
            {"kind": "beampattern", "method": "mmse", "angle_deg": 0.0, "gain_db": 1.0}]
    warnings: list[str] = []
    written = plot_rows(rows, spec, tmp_path, warn=warnings.append)
    assert sorted(p.name for p in written) == ["beampatterns.png", "rate_crb.png"]
    text = "\n".join(warnings)
    assert ("tradeoff.png: no SDR instance is feasible at every SINR target" in text), text
    assert "rate_crb.png: not drawn (no finite values): sdr_boundary" in text
    assert "no column" not in text


def test_baselines_say_why_there_is_no_tradeoff_figure(tmp_path: Path) -> None:
    from isaclearn.experiments.runner import run_experiment

    out = tmp_path / "run"
    result = run_experiment("temiz_unsup.baselines", out_dir=out, quiet=True, overrides={
        "batch": "8", "convex_batch": "1", "tradeoff_sinr_db": "30,40", "grid_points": "7",
        "num_antennas": "4", "num_users": "2"})
    log = (out / "run.log").read_text()
    assert "none of the 1 instances is feasible at every SINR target (30, 40 dB)" in log
    assert "plot skipped: tradeoff.png: no SDR instance is feasible at every SINR target" in log
    assert "tradeoff.png" not in [p.name for p in result.plots]
    assert (out / "rate_crb.png").is_file()
