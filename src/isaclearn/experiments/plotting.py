"""Figures drawn from a run's saved tidy results (``results.csv``), never from live objects.

:func:`draw_plot` draws one :class:`~isaclearn.systems.base.PlotSpec`; :func:`plot_run` redraws
every figure of a run folder (``isaclearn plot DIR``). Matplotlib is used through its
object-oriented API with the Agg canvas, so no display and no global backend switch is needed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from isaclearn.core.errors import ConfigError, InputFileError, IsacError
from isaclearn.experiments.results import (
    KEY_COLUMN,
    RESULTS_FILE,
    is_number,
    matches,
    read_results_csv,
    union_columns,
)
from isaclearn.systems.base import PlotSpec

GENERIC_PLOT = "results.png"
"""File name of the figure drawn for an experiment that declares no :class:`PlotSpec`."""


def _aggregate(
    rows: Sequence[Mapping[str, Any]], x: str, y: str, group: str | None
) -> tuple[list[Any], dict[Any, dict[Any, list[float]]]]:
    """x values in plotting order and the y values per group and x."""
    data: dict[Any, dict[Any, list[float]]] = {}
    xs: dict[Any, None] = {}
    for r in rows:
        xv, yv = r.get(x), r.get(y)
        if xv is None or not is_number(yv) or not math.isfinite(yv):
            continue
        g = r.get(group) if group else None
        xs.setdefault(xv, None)
        data.setdefault(g, {}).setdefault(xv, []).append(float(yv))
    order = list(xs)
    if all(is_number(v) for v in order):
        order.sort()
    return order, data


def draw_plot(
    rows: Sequence[Mapping[str, Any]],
    spec: PlotSpec,
    path: Path,
    *,
    errorbars: bool = False,
) -> Path:
    """Draw ``spec`` from the tidy ``rows`` into the PNG file ``path``.

    Rows with the same group and x value are averaged; with ``errorbars`` the standard error of
    that mean is drawn as well. A non-numeric x column is drawn as categories.

    Raises
    ------
    ConfigError
        If a column of the spec is missing or no row matches ``spec.where``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sel = [r for r in rows if matches(r, spec.where)]
    if not sel:
        raise ConfigError(f"{spec.filename}: no result rows match {spec.where}")
    cols = set(union_columns(sel))
    needed = [spec.x, *spec.y] + ([spec.group] if spec.group else [])
    missing = [c for c in needed if c not in cols]
    if missing:
        raise ConfigError(f"{spec.filename}: results have no column {', '.join(missing)}")
    if not spec.y:
        raise ConfigError(f"{spec.filename}: the plot names no y column")

    n = len(spec.y)
    fig = Figure(figsize=(5.0 * n, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for i, (ax, ycol) in enumerate(zip(axes, spec.y)):
        order, data = _aggregate(sel, spec.x, ycol, spec.group)
        categorical = not all(is_number(v) for v in order)
        pos = {v: (j if categorical else float(v)) for j, v in enumerate(order)}
        for g, per_x in data.items():
            xs = [v for v in order if v in per_x]
            px = [pos[v] for v in xs]
            means = [sum(per_x[v]) / len(per_x[v]) for v in xs]
            style: dict[str, Any] = {"marker": "o", "markersize": 4 if len(xs) < 50 else 0}
            if spec.kind == "scatter":
                style.update(linestyle="none", markersize=5)
            label = str(g) if spec.group else None
            if errorbars:
                err = [_stderr(per_x[v]) for v in xs]
                ax.errorbar(px, means, yerr=err, capsize=3, label=label, **style)
            else:
                ax.plot(px, means, label=label, **style)
        if categorical:
            ax.set_xticks(range(len(order)), [str(v) for v in order], rotation=30, ha="right")
        if spec.logy:
            ax.set_yscale("log")
        ax.set_xlabel(spec.xlabel or spec.x)
        ax.set_ylabel(spec.ylabels[i] if i < len(spec.ylabels) else ycol)
        ax.grid(True, alpha=0.3)
        if spec.group and len(data) > 1:
            ax.legend(fontsize="small")
    if spec.title:
        fig.suptitle(spec.title)
    fig.savefig(path, dpi=110)
    return path


def _stderr(values: Sequence[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    m = sum(values) / n
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return math.sqrt(var / n)


def generic_plot_specs(rows: Sequence[Mapping[str, Any]]) -> list[PlotSpec]:
    """A figure for results whose experiment declares none.

    The x axis is the first numeric column that is constant within each sweep point (``key``)
    and takes several values across them (a swept parameter); the panels are up to four other
    numeric columns. Without such a column, the means per ``method`` (or per key) are drawn as
    categories.
    """
    if not rows:
        return []
    cols = union_columns(rows)
    numeric = [c for c in cols if c != KEY_COLUMN
               and all(r.get(c) is None or is_number(r.get(c)) for r in rows)
               and any(is_number(r.get(c)) for r in rows)]
    by_key: dict[Any, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_key.setdefault(r.get(KEY_COLUMN), []).append(r)
    x = None
    for c in numeric:
        per_key = [{r.get(c) for r in rs} for rs in by_key.values()]
        if all(len(s) == 1 for s in per_key) and len({next(iter(s)) for s in per_key}) > 1:
            x = c
            break
    group: str | None = "method" if "method" in cols else None
    if x is None:
        x = "method" if "method" in cols else KEY_COLUMN
        group = None
    ys = [c for c in numeric if c != x][:4]
    if not ys or x not in cols:
        return []
    return [PlotSpec(filename=GENERIC_PLOT, x=x, y=ys, group=group, title="results")]


def plot_rows(
    rows: Sequence[Mapping[str, Any]],
    specs: Sequence[PlotSpec],
    out_dir: Path,
    *,
    errorbars: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Draw every spec (or the generic figure when ``specs`` is empty) into ``out_dir``.

    A spec that cannot be drawn (missing column, no matching rows, or a failure inside
    matplotlib) is skipped and reported through ``warn``; the others are still drawn.
    """
    specs = list(specs) or generic_plot_specs(rows)
    written = []
    for spec in specs:
        try:
            written.append(draw_plot(rows, spec, out_dir / spec.filename, errorbars=errorbars))
        except IsacError as exc:
            if warn is not None:
                warn(f"plot skipped: {exc}")
        except Exception as exc:  # a drawing failure must not lose a finished run
            if warn is not None:
                warn(f"plot {spec.filename} failed: {type(exc).__name__}: {exc}")
    return written


def plot_run(
    run_dir: Path | str,
    *,
    errorbars: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Redraw every figure of the run folder ``run_dir`` from its ``results.csv`` alone.

    The figures are those of the experiment named in ``config.json`` (or the generic figure when
    it declares none or is no longer registered).

    Raises
    ------
    InputFileError
        If the folder is not a run folder or its results cannot be read.
    ConfigError
        If no figure could be drawn.
    """
    from isaclearn.systems.base import get_experiment

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(f"{run_dir}: no such run folder")
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise InputFileError(f"{run_dir} is not a run folder: config.json is missing")
    try:
        saved = json.loads(cfg_path.read_text(encoding="utf-8"))
        name = str(saved["experiment"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputFileError(f"{cfg_path}: cannot read run configuration ({exc})") from None
    rows = read_results_csv(run_dir / RESULTS_FILE)
    if not rows:
        raise InputFileError(f"{run_dir / RESULTS_FILE}: no result rows to plot")
    specs: list[PlotSpec] = []
    try:
        specs = list(get_experiment(name).plots)
    except ConfigError:
        if warn is not None:
            warn(f"experiment {name!r} is not registered; drawing the generic figure")
    written = plot_rows(rows, specs, run_dir, errorbars=errorbars, warn=warn)
    if not written:
        raise ConfigError(f"{run_dir}: no figure could be drawn from {RESULTS_FILE}")
    return written
