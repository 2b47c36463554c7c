"""Running a registered experiment into a run folder (``isaclearn run``).

:func:`run_experiment` resolves the experiment's config (profile, then ``--set`` overrides, then
``seed`` / ``device``), prepares the folder, runs the experiment function with a
:class:`~isaclearn.experiments.results.FolderContext` and writes

=====================  =====================================================================
``config.json``        resolved config, experiment, profile, overrides, seed, device, package
                       version, git commit, torch and Python versions, start time
``progress.jsonl``     one line per finished sweep point (``--resume`` skips those)
``results.csv``        tidy rows: ``key`` (the sweep point), then the rows' columns
``summary.json``       the dict the experiment returns (JSON-safe), plus ``table``: the columns
                       and lines of the printed summary table (:func:`table_of`)
``*.png``              the experiment's figures, drawn from ``results.csv``
``run.log``            the messages of the run
=====================  =====================================================================

and prints the summary table to standard output. The printed table and ``summary["table"]``
are the same lines, computed once from the rows read back from ``results.csv``
(:func:`table_from_summary` prints it again).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

import isaclearn
from isaclearn.core.errors import ConfigError, InputFileError, IsacError
from isaclearn.core.random import seed_everything
from isaclearn.experiments.plotting import plot_rows
from isaclearn.experiments.results import (
    PROGRESS_FILE,
    RESULTS_FILE,
    FolderContext,
    format_table,
    read_progress,
    read_results_csv,
    summary_table,
    table_cells,
    to_jsonable,
    write_json,
)
from isaclearn.systems.base import ExperimentSpec, get_experiment, set_field

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
TABLE_KEY = "table"
"""Entry of ``summary.json`` holding the printed table: ``{"columns": [...], "rows": [...]}``."""


@dataclass
class RunResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    out_dir : Path
        The run folder.
    config : Any
        The resolved config dataclass.
    summary : dict
        The dict the experiment returned.
    rows : list of dict
        Every result row (with its ``key`` column), as in ``results.csv``.
    plots : list of Path
        Figures written.
    table : str
        The printed summary table.
    resumed_keys : list of str
        Sweep points taken from the earlier run (``resume=True``).
    new_keys : list of str
        Sweep points computed by this run.
    """

    out_dir: Path
    config: Any
    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    plots: list[Path] = field(default_factory=list)
    table: str = ""
    resumed_keys: list[str] = field(default_factory=list)
    new_keys: list[str] = field(default_factory=list)


def git_commit() -> str | None:
    """The commit of the git checkout holding the package source, or ``None``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(isaclearn.__file__).resolve().parent,
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def resolve_config(
    spec: ExperimentSpec,
    profile: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
    device: str | None = None,
) -> Any:
    """The experiment's config: the profile's values, then ``overrides``, then ``seed`` and
    ``device`` (set on the config fields of those names when it has them).

    Override values may be strings (parsed by field type, as ``--set key=value``) or Python
    values.

    Raises
    ------
    ConfigError
        For an unknown profile or key, a value of the wrong type, or a ``device`` other than
        ``"cpu"`` for an experiment without a ``device`` field.
    """
    strs = {k: _as_text(v) for k, v in (overrides or {}).items()}
    cfg = spec.make_config(profile, strs)
    names = {f.name for f in dataclasses.fields(cfg)}
    if seed is not None:
        if "seed" in names:
            cfg = set_field(cfg, "seed", str(int(seed)))
    if device is not None:
        if "device" in names:
            cfg = dataclasses.replace(cfg, device=device)
        elif device != "cpu":
            raise ConfigError(f"experiment {spec.name} runs on the CPU only (its config has no "
                              f"device field); drop --device {device}")
    return cfg


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def check_device(device: str) -> None:
    """Raise :class:`ConfigError` unless ``device`` names an available torch device."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; use cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda requested but no CUDA GPU is available")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported device {device!r}; use cpu or cuda")


def _config_record(spec: ExperimentSpec, profile: str, cfg: Any,
                   overrides: Mapping[str, Any] | None, seed: int | None,
                   device: str) -> dict[str, Any]:
    eff_seed = getattr(cfg, "seed", seed)
    return {
        "experiment": spec.name,
        "profile": profile,
        "config": to_jsonable(cfg),
        "overrides": {k: _as_text(v) for k, v in (overrides or {}).items()},
        "seed": eff_seed,
        "device": device,
        "isaclearn_version": isaclearn.__version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _config_differences(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    diffs = []
    if saved.get("experiment") != now["experiment"]:
        diffs.append(f"experiment (saved {saved.get('experiment')!r}, now {now['experiment']!r})")
    old_cfg = saved.get("config")
    new_cfg = json.loads(json.dumps(now["config"]))
    if not isinstance(old_cfg, dict):
        diffs.append("config (missing from the saved file)")
    else:
        for k in sorted(set(old_cfg) | set(new_cfg)):
            if old_cfg.get(k) != new_cfg.get(k):
                diffs.append(f"{k} (saved {old_cfg.get(k)!r}, now {new_cfg.get(k)!r})")
    if "seed" not in (new_cfg or {}) and saved.get("seed") != now["seed"]:
        diffs.append(f"seed (saved {saved.get('seed')!r}, now {now['seed']!r})")
    return diffs


@dataclass
class _Folder:
    """What :func:`_prepare_folder` found and made: the finished sweep points of an earlier run,
    warnings, and what to remove if a fresh run is rejected before finishing a point."""

    done: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    fresh: bool = True
    created: Path | None = None
    """The topmost folder this run created (``None``: ``out_dir`` existed, empty)."""


def _first_missing(path: Path) -> Path | None:
    """The topmost ancestor of ``path`` (or ``path`` itself) that does not exist."""
    missing = None
    for p in (path, *path.parents):
        if p.exists():
            break
        missing = p
    return missing


def _cannot(out_dir: Path, what: str, exc: OSError) -> ConfigError:
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out_dir) else ""
    return ConfigError(f"--out {out_dir}: cannot {what} ({exc.strerror or exc}{where}); choose "
                       f"another folder with --out")


def _prepare_folder(out_dir: Path, record: dict[str, Any], resume: bool) -> _Folder:
    """Create or check the run folder; the finished sweep points of an earlier run.

    Raises
    ------
    ConfigError
        The path is a file or cannot be created or written (an ``OSError``: permission,
        read-only or virtual file system, a file in the path); a non-empty folder without
        ``resume``; ``resume`` on a missing or empty folder (nothing to resume), on a folder
        that is not a run folder, or with a different config.
    InputFileError
        The saved ``config.json`` is unreadable.
    """
    cfg_path = out_dir / CONFIG_FILE
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"--out {out_dir} exists and is not a folder")
        non_empty = out_dir.is_dir() and any(out_dir.iterdir())
    except OSError as exc:
        raise _cannot(out_dir, "read the folder", exc) from None
    if resume and not non_empty:
        state = "is empty" if out_dir.is_dir() else "does not exist"
        raise ConfigError(f"cannot resume {out_dir}: the folder {state}, so there is nothing to "
                          f"resume; drop --resume to start a new run there")
    if not resume:
        if non_empty:
            raise ConfigError(
                f"output folder {out_dir} already exists and is not empty; pass --resume to "
                f"continue that run, or choose a new folder with --out"
            )
        created = _first_missing(out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot(out_dir, "create the run folder", exc) from None
        try:
            write_json(cfg_path, record)
        except OSError as exc:
            _remove_created(out_dir, created)
            raise _cannot(out_dir, f"write {CONFIG_FILE}", exc) from None
        return _Folder(created=created)
    if not cfg_path.is_file():
        raise ConfigError(f"cannot resume {out_dir}: it has no {CONFIG_FILE}, so it is not a "
                          f"run folder; choose a new folder with --out")
    try:
        saved = json.loads(cfg_path.read_text(encoding="utf-8"))
        if not isinstance(saved, dict):
            raise TypeError("not a JSON object")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise InputFileError(f"cannot resume: {cfg_path} is unreadable ({exc})") from None
    diffs = _config_differences(saved, record)
    if diffs:
        used = f"--profile {saved.get('profile')}"
        sets = saved.get("overrides") or {}
        if isinstance(sets, dict) and sets:
            used += " --set " + " ".join(f"{k}={v}" for k, v in sets.items())
        if saved.get("seed") is not None:
            used += f" --seed {saved.get('seed')}"
        raise ConfigError(
            f"cannot resume {out_dir}: the config differs from its {CONFIG_FILE} in "
            f"{'; '.join(diffs)}; the saved run used {used}; repeat those options, or "
            f"choose a new --out"
        )
    progress = out_dir / PROGRESS_FILE
    if not progress.exists() and (out_dir / RESULTS_FILE).exists():
        raise ConfigError(f"cannot resume {out_dir}: {PROGRESS_FILE} is missing, so the "
                          f"finished sweep points are unknown; choose a new folder with --out")
    done, warnings = read_progress(progress)
    saved.setdefault("resumed", []).append(record["started"])
    try:
        write_json(cfg_path, saved)
    except OSError as exc:
        raise _cannot(out_dir, f"write {CONFIG_FILE}", exc) from None
    return _Folder(done=done, warnings=warnings, fresh=False)


def _remove_created(out_dir: Path, created: Path | None) -> None:
    """Remove what a rejected fresh run made: the folders it created, or (when ``out_dir``
    existed, and was therefore empty) everything inside ``out_dir``."""
    import shutil

    try:
        if created is not None:
            shutil.rmtree(created)
        elif out_dir.is_dir():
            for child in out_dir.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    except OSError:
        pass  # best effort: the error being reported matters more


def _log_resume_hint(ctx: FolderContext, spec: ExperimentSpec, profile: str, folder: Path
                     ) -> None:
    n = len(ctx.resumed_keys | set(ctx.recorded))
    ctx.log(f"run stopped; {n} finished sweep point(s) are saved in {folder / RESULTS_FILE}; "
            f"continue with: isaclearn run {spec.name} --profile {profile} --out {folder} "
            f"--resume")


def run_experiment(
    name: str,
    profile: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    out_dir: Path | str | None = None,
    resume: bool = False,
    device: str = "cpu",
    seed: int | None = None,
    *,
    quiet: bool = False,
) -> RunResult:
    """Run the registered experiment ``name`` into a folder.

    Parameters
    ----------
    name : str
        ``"<system>.<experiment>"`` (see ``isaclearn list``).
    profile : {"quick", "paper"}
        Field values to start from.
    overrides : dict, optional
        Config fields to set, ``{"snr_db": "10"}`` (strings parsed by field type) or Python
        values.
    out_dir : path, optional
        The run folder; default ``runs/<experiment>-<profile>``. An existing non-empty folder
        is refused unless ``resume``.
    resume : bool
        Continue the run in ``out_dir``: sweep points in its ``progress.jsonl`` count as done
        and keep their rows. The resolved config must equal the saved one.
    device : str
        ``"cpu"`` or ``"cuda"``; set on the config's ``device`` field (an experiment without one
        runs on the CPU only).
    seed : int, optional
        Set on the config's ``seed`` field (if any); the effective seed also seeds Python's,
        NumPy's and torch's global generators.
    quiet : bool
        Do not print the summary table.

    Returns
    -------
    RunResult

    Raises
    ------
    ConfigError
        Unknown experiment, profile or key; bad value; existing folder without ``resume``;
        ``resume`` on a missing or empty folder (nothing to resume) or with a different config;
        a folder that cannot be created or written (``OSError``: permission, read-only or
        virtual file system, a file in the path).

    Notes
    -----
    Rows are persisted as each sweep point is recorded, so an exception inside the experiment
    leaves ``results.csv`` and ``progress.jsonl`` with every finished point; the exception is
    re-raised after a message saying how to resume. The exception: a fresh run (not
    ``resume``) rejected with an :class:`~isaclearn.core.errors.IsacError` before it recorded
    any sweep point removes what it made (the folder, and the parents it created; or the
    contents of the empty folder it was given) and prints no resume hint, so that the
    corrected command can use the same ``out_dir``.
    """
    spec = get_experiment(name)
    check_device(device)
    cfg = resolve_config(spec, profile, overrides, seed=seed, device=device)
    folder = Path(out_dir) if out_dir is not None else Path("runs") / f"{spec.name}-{profile}"
    record = _config_record(spec, profile, cfg, overrides, seed, device)
    prepared = _prepare_folder(folder, record, resume)
    done = prepared.done

    try:
        ctx = FolderContext(folder, done=done)
    except OSError as exc:
        raise _cannot(folder, "write the results", exc) from None
    for w in prepared.warnings:
        ctx.log(f"warning: {w}")
    if done:
        ctx.log(f"resuming {folder}: {len(done)} finished sweep point(s) kept")
    eff_seed = record["seed"]
    if isinstance(eff_seed, int):
        seed_everything(eff_seed)

    ctx.log(f"running {spec.name} (profile {profile}) into {folder}")
    try:
        summary = spec.fn(cfg, ctx)
    except IsacError:
        if prepared.fresh and not ctx.recorded:
            # rejected before finishing a sweep point: leave nothing behind, so that the
            # corrected command can use the same --out
            _remove_created(folder, prepared.created)
            raise
        _log_resume_hint(ctx, spec, profile, folder)
        raise
    except BaseException:
        _log_resume_hint(ctx, spec, profile, folder)
        raise
    if summary is None:
        summary = {}
    if not isinstance(summary, Mapping):
        raise ConfigError(f"experiment {spec.name} returned {type(summary).__name__}, "
                          f"expected a dict")
    rows = ctx.table_rows()
    saved_rows = read_results_csv(folder / RESULTS_FILE) if rows else []
    columns, lines = table_of(spec, saved_rows)
    table = format_table(lines, columns) if lines else ""
    summary = dict(summary)
    if TABLE_KEY in summary:
        ctx.log(f"warning: the summary's {TABLE_KEY!r} entry is replaced by the printed table")
    summary[TABLE_KEY] = {"columns": columns if lines else [], "rows": table_cells(lines)}
    write_json(folder / SUMMARY_FILE, summary)
    if table and not quiet:
        print(table, file=sys.stdout, flush=True)
    plots = plot_rows(saved_rows, spec.plots, folder, warn=ctx.log) if saved_rows else []
    ctx.log(f"results in {folder}")
    return RunResult(
        out_dir=folder,
        config=cfg,
        summary=dict(summary),
        rows=rows,
        plots=plots,
        table=table,
        resumed_keys=sorted(ctx.resumed_keys),
        new_keys=list(ctx.recorded),
    )


def table_of(spec: ExperimentSpec, rows: list[dict[str, Any]]
             ) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and lines of a run's summary table, computed from its result rows.

    One line per sweep point × method (× the experiment's ``table_group`` columns and its
    non-numeric ``table_columns``) of the rows matching ``table_where`` and ``table_filter``;
    see :func:`~isaclearn.experiments.results.summary_table`.
    """
    exclude = [p.x for p in spec.plots]
    return summary_table(rows, columns=spec.table_columns, where=spec.table_where,
                         exclude=exclude, group=spec.table_group, keep=spec.table_filter)


def render_table(spec: ExperimentSpec, rows: list[dict[str, Any]]) -> str:
    """The printed summary table of a run (``""`` when no row enters it): :func:`table_of`
    formatted by :func:`~isaclearn.experiments.results.format_table`."""
    columns, lines = table_of(spec, rows)
    return format_table(lines, columns) if lines else ""


def table_from_summary(summary: Mapping[str, Any]) -> str:
    """The printed table of a run, rebuilt from its ``summary.json`` (``summary["table"]``)."""
    entry = summary.get(TABLE_KEY) or {}
    lines = entry.get("rows") or []
    return format_table(lines, entry.get("columns") or []) if lines else ""
