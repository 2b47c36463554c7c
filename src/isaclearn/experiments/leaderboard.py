"""``isaclearn leaderboard``: every designer of a system on the same test instances, ranked.

For a registered system (:class:`~isaclearn.systems.base.SystemSpec`) the leaderboard samples
the system's default test instances once (``leaderboard_scenario``, seeded), runs every
designer it declares, every bound, and the trained networks it is given (``--checkpoint``) or
finds under a folder (``--runs``, default ``runs/``), scores each with the system's
``evaluate`` and ranks the designs by the primary metric (the first of ``metrics``). Each row
has the means of the summary metrics over the instances where the design is finite
(``instances``), the time per instance (best of ``repeat`` timed calls after one untimed
warm-up call on one instance) and the gap to the system's reference (a bound or a reference
designer), in percent of the reference's primary metric on the *same* instances. Designers
that solve one program per instance (``slow``) run on the first ``--slow-batch`` instances only.
New systems appear in the leaderboard by registering.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from isaclearn.core.errors import ConfigError, IsacError
from isaclearn.systems.base import MAX_INSTANCES, Options, SystemSpec
from isaclearn.systems.toolkit import finite_mean, score, time_designer

LEADERBOARD_COLUMNS = ["rank", "method", "kind", "instances", "gap_pct", "seconds_per_instance"]
"""Columns around the system's summary metrics (which come after ``method``)."""


@dataclass
class Leaderboard:
    """The ranked rows, the number of test instances and notes for the reader."""

    rows: list[dict[str, Any]]
    batch: int
    notes: list[str] = field(default_factory=list)


def _reducer(spec: SystemSpec) -> Callable[[Mapping[str, torch.Tensor]], dict[str, float]]:
    """Finite means of the system's per-instance metrics."""
    def reduce(metrics: Mapping[str, torch.Tensor]) -> dict[str, float]:
        return {m: finite_mean(v) for m, v in metrics.items()
                if m in spec.metrics and v.dim() == 1}
    return reduce


def _note(designer: Any) -> str | None:
    info = getattr(designer, "info", None)
    note = info.get("note") if isinstance(info, dict) else None
    return str(note) if note else None


def _fits(designer: Any, problem: Any) -> None:
    """Raise the designer's :class:`IsacError` if it cannot design for ``problem``'s sizes (a
    trial on its first instance)."""
    designer.design(problem.subset(slice(0, 1)))


def _learned(spec: SystemSpec, options: Options, problem: Any, notes: list[str]
             ) -> dict[str, Any]:
    """The trained networks given with ``--checkpoint`` (each must fit the test instances, else
    :class:`ConfigError`) and those found under ``--runs`` (skipped with a note when they do
    not load or fit)."""
    out: dict[str, Any] = {}
    if spec.load_learned is None:
        if getattr(options, "checkpoint", None):
            raise ConfigError(f"--checkpoint: system {spec.name} has no trained networks")
        return out
    for path in getattr(options, "checkpoint", None) or []:
        for name, designer in spec.load_learned([path], options).items():
            try:
                _fits(designer, problem)
            except IsacError as exc:
                raise ConfigError(f"--checkpoint {path} does not fit the {spec.name} "
                                  f"leaderboard instances: {exc}") from None
            out[name] = designer
    runs = getattr(options, "runs", "")
    if runs and spec.find_learned is not None:
        found = spec.find_learned(Path(runs))
        for path in found:
            try:
                loaded = spec.load_learned([str(path)], options)
                for designer in loaded.values():
                    _fits(designer, problem)
            except IsacError as exc:
                notes.append(f"skipped {path}: {exc}")
                continue
            out.update(loaded)
        if found:
            notes.append(f"{len(found)} trained network(s) found under {runs}/")
    for name, designer in out.items():
        note = _note(designer)
        if note:
            notes.append(f"{name}: {note}")
    given = [o.flag for o in spec.cli_options if getattr(options, o.dest, None) is not None]
    if given and not out:
        notes.append(f"{', '.join(given)} ignored: no trained network was given or found")
    return out


def leaderboard(spec: SystemSpec, options: Options, log: Callable[[str], None]) -> Leaderboard:
    """Run, score and rank every designer of ``spec``; see the module docstring.

    ``options`` carries ``batch``, ``slow_batch``, ``seed``, ``designers`` (comma-separated
    names or ``None``), ``checkpoint`` (paths or ``None``), ``runs`` (folder or ``""``),
    ``repeat`` (optional, default 1) and the system's ``cli_options``.

    Raises
    ------
    ConfigError
        A system without test instances, a bad count, an unknown designer name, a
        ``--checkpoint`` network that does not fit the test instances.
    """
    if spec.leaderboard_scenario is None:
        raise ConfigError(f"system {spec.name} declares no leaderboard test instances")
    if not 1 <= options.batch <= MAX_INSTANCES:
        raise ConfigError(f"--batch must be in [1, {MAX_INSTANCES}], got {options.batch}")
    if options.slow_batch < 0:
        raise ConfigError(f"--slow-batch must be >= 0, got {options.slow_batch}")
    repeat = int(getattr(options, "repeat", 1) or 1)
    notes: list[str] = []
    problem = spec.leaderboard_scenario(options)
    small = problem.subset(slice(0, max(1, min(options.slow_batch, problem.batch_size))))
    entries = spec.designer_entries()
    designers: dict[str, tuple[str, bool, Any]] = {
        n: (e.kind, e.slow, e.make) for n, e in entries.items()}
    for name, designer in _learned(spec, options, problem, notes).items():
        designers[name] = ("learned", False, (lambda d=designer: d))
    names = [*designers, *spec.bounds]
    if options.designers:
        wanted = [s.strip() for s in options.designers.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in names]
        if unknown:
            raise ConfigError(f"--designers: unknown designer {', '.join(unknown)}; available: "
                              f"{', '.join(names)}")
        if spec.reference and spec.reference not in wanted:
            wanted.append(spec.reference)
        names = wanted
    rows: list[dict[str, Any]] = []
    primary = spec.primary_metric
    ref_by_batch: dict[int, float] = {}
    for name in names:
        if name in spec.bounds:
            kind, slow = "bound", False
        else:
            kind, slow, _ = designers[name]
        if slow and options.slow_batch == 0:
            continue
        prob = small if slow else problem
        log(f"{name} on {prob.batch_size} instance(s)")
        row: dict[str, Any] = {"method": name, "kind": kind}
        try:
            if name in spec.bounds:
                bound = spec.bounds[name]
                values, sec = time_designer(bound, prob, repeat=repeat, warmup_instances=1)
                means = {m: finite_mean(v) for m, v in values.items()}
                n_ok = int(torch.isfinite(values[next(iter(values))]).sum())
            else:
                designer = designers[name][2]()
                design, sec = time_designer(designer, prob, repeat=repeat, warmup_instances=1)
                scored = score(name, prob, design, spec.evaluate, reduce=_reducer(spec))
                n_ok = scored.pop("instances")
                means = {k: v for k, v in scored.items() if k != "method"}
        except IsacError as exc:
            notes.append(f"{name} failed: {exc}")
            continue
        row.update(instances=n_ok, seconds_per_instance=sec, **means)
        if name == spec.reference:
            ref_by_batch[prob.batch_size] = means.get(primary, math.nan)
        row["_batch"] = prob.batch_size
        rows.append(row)
    if spec.reference is not None:
        for b in {r["_batch"] for r in rows} - set(ref_by_batch):
            ref_prob = problem.subset(slice(0, b))
            if spec.reference in spec.bounds:
                ref_by_batch[b] = finite_mean(spec.bounds[spec.reference](ref_prob)[primary])
            else:
                ref_by_batch[b] = score(spec.reference, ref_prob, designers[spec.reference][2](),
                                        spec.evaluate).get(primary, math.nan)
    higher = spec.higher_is_better.get(primary, True)
    for r in rows:
        ref = ref_by_batch.get(r.pop("_batch"))
        v = r.get(primary)
        if ref is not None and v is not None and math.isfinite(ref) and ref != 0:
            r["gap_pct"] = 100.0 * ((ref - v) if higher else (v - ref)) / abs(ref)
    sign = -1.0 if higher else 1.0
    rows.sort(key=lambda r: (r["kind"] == "bound",
                             sign * r[primary] if math.isfinite(r.get(primary, math.nan))
                             else math.inf))
    rank = 0
    for r in rows:
        if r["kind"] == "bound":
            r["rank"] = "-"
        else:
            rank += 1
            r["rank"] = rank
    if spec.reference:
        notes.append(f"gap_pct: shortfall of {primary} from {spec.reference} on the same "
                     f"instances, in % of {spec.reference}")
    fewer = [r["method"] for r in rows if r["instances"] < problem.batch_size
             and r["kind"] != "bound"]
    if fewer:
        notes.append(f"{', '.join(fewer)}: fewer instances (slow designers run on the first "
                     f"{small.batch_size}, and infeasible instances are left out)")
    return Leaderboard(rows=rows, batch=problem.batch_size, notes=notes)
