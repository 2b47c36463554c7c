"""Figures drawn from a run's saved tidy results (``results.csv``), never from live objects.

:func:`draw_plot` draws one :class:`~isaclearn.systems.base.PlotSpec`; :func:`plot_run` redraws
every figure of a run folder (``isaclearn plot DIR``). Matplotlib is used through its
object-oriented API with the Agg canvas, so no display and no global backend switch is needed.

* A spec with ``split`` (e.g. ``split="M"``, file name ``"tradeoff_M{M}.png"``) becomes one
  figure per value found in the results (:func:`expand_plot`), so no figure name hard-codes a
  sweep value.
* With error bars (``isaclearn plot DIR --errorbars``) every figure goes to
  ``<name>_errorbars.png`` beside the default one; dense curves (≥ :data:`DENSE` points, e.g.
  beampatterns) get a shaded band instead of caps and markers, and their legend goes beside the
  axes.
* A figure that cannot be drawn is skipped with a message saying why (``empty_reason`` of the
  spec when set); a curve that has rows but no finite value is named in a note on the figure.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


DENSE = 50
"""Curves with at least this many points are drawn without markers or error-bar caps (the
standard error, where there is one, as a shaded band)."""

ERRORBARS_SUFFIX = "_errorbars"
"""Added to a figure's file stem when it is drawn with error bars (the default figure is kept)."""


def _format_field(value: Any) -> str:
    """A split value in a file name or title: floats as ``:g`` (``0.5``, ``0``), others as
    ``str``."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def expand_plot(spec: PlotSpec, rows: Sequence[Mapping[str, Any]]) -> list[PlotSpec]:
    """The concrete figures of ``spec``: itself, or with :attr:`PlotSpec.split` one figure per
    distinct value (combination) of the split columns among the rows matching ``spec.where``,
    each restricted to those rows and named by formatting ``filename`` and ``title`` with the
    values (integers as ``10``, other numbers as ``:g``).

    Raises
    ------
    ConfigError
        ``filename`` or ``title`` names a field that is not a split column.

    Examples
    --------
    >>> spec = PlotSpec(filename="t_M{M}.png", x="rho", y=["r"], split="M", title="M = {M}")
    >>> rows = [{"M": 10, "rho": 0.0, "r": 1.0}, {"M": 16, "rho": 0.0, "r": 2.0}]
    >>> [(s.filename, s.title, s.where) for s in expand_plot(spec, rows)]
    [('t_M10.png', 'M = 10', {'M': 10}), ('t_M16.png', 'M = 16', {'M': 16})]
    """
    cols = spec.split_columns
    if not cols:
        return [spec]
    combos: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in rows:
        if not matches(r, spec.where) or any(r.get(c) is None for c in cols):
            continue
        combos.setdefault(tuple(str(r.get(c)) for c in cols), {c: r.get(c) for c in cols})
    values = list(combos.values())
    if all(all(is_number(v[c]) for c in cols) for v in values):
        values.sort(key=lambda v: tuple(float(v[c]) for c in cols))
    out = []
    for v in values:
        fields = {c: _format_field(v[c]) for c in cols}
        try:
            filename = spec.filename.format(**fields)
            title = spec.title.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"{spec.filename}: cannot name the figure per {', '.join(cols)} "
                              f"({type(exc).__name__}: {exc})") from None
        out.append(dataclasses.replace(spec, filename=filename, title=title,
                                       where={**spec.where, **v}, split=None))
    return out


def errorbars_path(path: Path) -> Path:
    """Where the error-bar version of the figure ``path`` goes: ``<stem>_errorbars.png``."""
    return path.with_name(f"{path.stem}{ERRORBARS_SUFFIX}{path.suffix}")


def draw_plot(
    rows: Sequence[Mapping[str, Any]],
    spec: PlotSpec,
    path: Path,
    *,
    errorbars: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Draw ``spec`` (one figure, :attr:`PlotSpec.split` not expanded) from the tidy ``rows``
    into the PNG file ``path`` (:func:`plot_figure`, saved at 110 dpi).

    Raises
    ------
    ConfigError
        As :func:`plot_figure`.
    """
    fig = plot_figure(rows, spec, errorbars=errorbars,
                      warn=(lambda m: warn(f"{path.name}: {m}")) if warn is not None else None)
    fig.savefig(path, dpi=110)
    return path


def plot_figure(
    rows: Sequence[Mapping[str, Any]],
    spec: PlotSpec,
    *,
    errorbars: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Figure:
    """The matplotlib figure of ``spec`` (one figure, :attr:`PlotSpec.split` not expanded)
    drawn from the tidy ``rows``.

    Rows with the same group and x value are averaged; with ``errorbars`` the standard error of
    that mean is drawn as well (caps on sparse curves, a shaded band on curves of
    :data:`DENSE` points or more; nothing where every point is a single row). A non-numeric x
    column is drawn as categories. Groups with rows but no finite value to draw are named in a
    note under the axes (and through ``warn``), so that the figure never silently lacks a
    curve its title may lead one to expect.

    Raises
    ------
    ConfigError
        If a column of the spec is missing, no row matches ``spec.where``, or no finite value
        can be drawn (the message gives ``spec.empty_reason`` when set).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as _Figure

    sel = [r for r in rows if matches(r, spec.where)]
    if not sel:
        raise ConfigError(f"{spec.filename}: no result rows match {spec.where}")
    if not spec.y:
        raise ConfigError(f"{spec.filename}: the plot names no y column")
    cols = set(union_columns(sel))
    needed = [spec.x] + ([spec.group] if spec.group else [])
    missing = [c for c in needed if c not in cols]
    if missing:
        raise ConfigError(f"{spec.filename}: results have no column {', '.join(missing)}")
    panels = [_aggregate(sel, spec.x, ycol, spec.group) for ycol in spec.y]
    if not any(data for _, data in panels):
        why = f"{spec.empty_reason} " if spec.empty_reason else ""
        raise ConfigError(f"{spec.filename}: {why}(no finite value of {', '.join(spec.y)} in "
                          f"the rows matching {spec.where})")

    n = len(spec.y)
    fig = _Figure(figsize=(5.0 * n, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    all_groups = list(dict.fromkeys(r.get(spec.group) for r in sel)) if spec.group else [None]
    not_drawn: dict[str, None] = {}
    for i, (ax, ycol, (order, data)) in enumerate(zip(axes, spec.y, panels)):
        categorical = not all(is_number(v) for v in order)
        pos = {v: (j if categorical else float(v)) for j, v in enumerate(order)}
        for g in all_groups:
            if g not in data:
                if spec.group:
                    not_drawn.setdefault(str(g), None)
                continue
            per_x = data[g]
            xs = [v for v in order if v in per_x]
            px = [pos[v] for v in xs]
            means = [sum(per_x[v]) / len(per_x[v]) for v in xs]
            dense = len(xs) >= DENSE
            style: dict[str, Any] = {"marker": "none" if dense else "o", "markersize": 4}
            if spec.kind == "scatter":
                style.update(marker="o", linestyle="none", markersize=5)
            label = str(g) if spec.group else None
            (line,) = ax.plot(px, means, label=label, **style)
            err = [_stderr(per_x[v]) for v in xs]
            if errorbars and any(e > 0 for e in err):
                if dense:
                    lo = [m - e for m, e in zip(means, err)]
                    hi = [m + e for m, e in zip(means, err)]
                    ax.fill_between(px, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
                else:
                    ax.errorbar(px, means, yerr=err, fmt="none", ecolor=line.get_color(),
                                capsize=3)
        if categorical:
            ax.set_xticks(range(len(order)), [str(v) for v in order], rotation=30, ha="right")
        if spec.logy:
            ax.set_yscale("log")
        ax.set_xlabel(spec.xlabel or spec.x)
        ax.set_ylabel(spec.ylabels[i] if i < len(spec.ylabels) else ycol)
        ax.grid(True, alpha=0.3)
    drawn = [g for g in all_groups if any(g in data for _, data in panels)]
    if spec.group and len(drawn) > 1:
        dense_fig = any(len(order) >= DENSE for order, _ in panels)
        if dense_fig or len(drawn) > 6:
            # dense curves fill the axes: the legend goes to the right of the figure
            handles, labels = axes[0].get_legend_handles_labels()
            for ax in axes[1:]:
                h, lab = ax.get_legend_handles_labels()
                for hh, ll in zip(h, lab):
                    if ll not in labels:
                        handles.append(hh)
                        labels.append(ll)
            fig.legend(handles, labels, loc="outside right upper", fontsize="small")
        else:
            for ax in axes:
                ax.legend(fontsize="small", loc="best")
    if not_drawn:
        note = f"not drawn (no finite values): {', '.join(not_drawn)}"
        fig.text(0.01, 0.005, note, fontsize="x-small", ha="left", va="bottom")
        if warn is not None:
            warn(note)
    if spec.title:
        fig.suptitle(spec.title)
    return fig


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

    A spec with :attr:`PlotSpec.split` gives one figure per value (:func:`expand_plot`). With
    ``errorbars`` each figure goes to ``<stem>_errorbars.png`` (:func:`errorbars_path`), next to
    the default one, which is left as it is. A spec that cannot be drawn (missing column, no
    matching rows or finite values, or a failure inside matplotlib) is skipped and reported
    through ``warn``; the others are still drawn.
    """
    specs = list(specs) or generic_plot_specs(rows)
    written = []
    for base_spec in specs:
        try:
            concrete = expand_plot(base_spec, rows)
        except IsacError as exc:
            if warn is not None:
                warn(f"plot skipped: {exc}")
            continue
        if not concrete and warn is not None:
            warn(f"plot skipped: {base_spec.filename}: no result rows match {base_spec.where}")
        for spec in concrete:
            path = out_dir / spec.filename
            if errorbars:
                path = errorbars_path(path)
            try:
                written.append(draw_plot(rows, spec, path, errorbars=errorbars, warn=warn))
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
    """Redraw every figure of the run folder ``run_dir`` from its ``results.csv`` alone
    (with ``errorbars``: into ``<name>_errorbars.png``, next to the default figures).

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
