"""The ``isaclearn`` command-line tool.

Subcommands::

    isaclearn list [EXPERIMENT | SYSTEM] [--system NAME]
    isaclearn run EXPERIMENT [--profile quick|paper] [--set key=value ...] [--out DIR]
                             [--resume] [--seed N] [--device cpu|cuda]
    isaclearn plot DIR [--errorbars]
    isaclearn evaluate FILE [--system NAME] [--designer NAMES] [--checkpoint PATH]
                       [system options] [--json OUT] [--out DESIGNS.npz|.mat]
    isaclearn bench SUITE [suite options] [--json FILE] [--device cpu|cuda]
    isaclearn leaderboard [--system NAME] [--batch N] [--checkpoint PATH] [--json F] [--csv F]

Every command dispatches on the system registry (:mod:`isaclearn.systems.base`): no system's
name or designer appears here.

Every error a user can cause (an :class:`~isaclearn.core.errors.IsacError` or a bad command
line) is reported as one line ``isaclearn: error: <message>`` on standard error with exit code
2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from isaclearn.core.errors import ConfigError, IsacError

PROG = "isaclearn"


class _UsageError(Exception):
    """A command-line error found by argparse."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become one-line messages (handled in :func:`main`)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _err(message: str) -> None:
    text = " ".join(str(message).split())  # one line
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- list


def _cmd_list(args: argparse.Namespace) -> int:
    from isaclearn.systems.base import experiments, systems

    if args.system:
        return _list_system(_system(args.system))
    exps = experiments()
    if args.name:
        if args.name in exps:
            return _list_experiment(exps[args.name])
        if args.name in systems():
            return _list_system(systems()[args.name])
        raise ConfigError(f"list: unknown experiment or system {args.name!r}; experiments: "
                          f"{', '.join(exps)}; systems: {', '.join(systems())}")
    out = sys.stdout
    known = systems()
    print("systems:", file=out)
    for name, spec in known.items():
        n = len(spec.experiments())
        print(f"  {name:<16} {spec.description} ({n} experiment(s); paper {spec.paper})",
              file=out)
    print("\nexperiments:", file=out)
    if not exps:
        print("  (none registered)", file=out)
    for name, exp in exps.items():
        profiles = ",".join(exp.profiles)
        print(f"  {name:<28} [{profiles}]  {exp.description}", file=out)
    for name, spec in known.items():
        print(f"\ndesigners ({name}):", file=out)
        _print_designers(spec)
    print("\nbench suites:", file=out)
    for sname, (spec, suite) in _bench_suites().items():
        if sname == suite.name:
            print(f"  {sname:<16} {suite.description}", file=out)
        else:
            print(f"  {sname:<16} (the {suite.name} suite of {spec.name})", file=out)
    print("\n`isaclearn list SYSTEM` shows a system's metrics and file layout; "
          "`isaclearn list EXPERIMENT` an experiment's config fields (the keys of --set).",
          file=out)
    return 0


def _set_text(value: Any) -> str:
    """A config value as ``--set KEY=VALUE`` takes it (lists as ``a,b,c``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return ",".join(_set_text(v) for v in value) if value else "()"
    if isinstance(value, str):
        return value if value else '""'
    return str(value)


def _list_experiment(exp: Any) -> int:
    """An experiment's description, profiles and config fields with type, default, the
    profiles' values where they differ and the field's docstring."""
    from isaclearn.systems.base import config_fields

    out = sys.stdout
    print(f"{exp.name}: {exp.description}", file=out)
    print(f"profiles: {', '.join(exp.profiles)} (isaclearn run uses quick unless --profile "
          f"says otherwise)", file=out)
    print(f"\nconfig fields (isaclearn run {exp.name} --set KEY=VALUE ...; lists as a,b,c):",
          file=out)
    for f in config_fields(exp.config_cls):
        line = f"  {f.name}: {f.type} = {_set_text(f.default)}"
        differ = [f"{p}: {_set_text(v[f.name])}" for p, v in exp.profiles.items()
                  if f.name in v and v[f.name] != f.default]
        if differ:
            line += f"  ({'; '.join(differ)})"
        print(line, file=out)
        for doc_line in (f.doc or "(no description)").splitlines():
            print(f"      {doc_line}", file=out)
    return 0


def _print_designers(spec: Any) -> None:
    for d in spec.designer_entries().values():
        notes = [d.kind] + (["slow: one program per instance"] if d.slow else [])
        print(f"  {d.name:<18} {d.description} ({'; '.join(notes)})", file=sys.stdout)
    for bname in spec.bounds:
        print(f"  {bname:<18} (bound)", file=sys.stdout)


def _list_system(spec: Any) -> int:
    out = sys.stdout
    print(f"{spec.name}: {spec.description}\npaper: {spec.paper}", file=out)
    print("\nmetrics (the first ranks the leaderboard):", file=out)
    for m, unit in spec.metrics.items():
        print(f"  {m:<18} {unit}", file=out)
    print("\ndesigners:", file=out)
    _print_designers(spec)
    if spec.cli_options:
        print("\noptions of its trained networks (evaluate, leaderboard):", file=out)
        for o in spec.cli_options:
            print(f"  {o.flag:<18} {o.help}", file=out)
    print("\nexperiments:", file=out)
    for name, exp in spec.experiments().items():
        print(f"  {name:<28} {exp.description}", file=out)
    print("\nbench suites:", file=out)
    for suite in spec.bench_suites:
        print(f"  {suite.name:<16} {suite.description}", file=out)
    fmt = spec.file_format
    if fmt is not None:
        print(f"\nevaluate file (isaclearn evaluate FILE --system {spec.name}; .npz or .mat):",
              file=out)
        for role, fields in (("problem", fmt.problem_fields), ("design", fmt.design_fields)):
            for f in fields:
                opt = "" if f.required else (" optional" + (f", default {f.default}"
                                                            if f.default is not None else ""))
                print(f"  {f.name:<12} {role:<8} {f.layout:<12} {f.kind:<10} {f.doc}{opt}",
                      file=out)
    return 0


def _bench_suites() -> dict[str, Any]:
    from isaclearn.systems.base import bench_suites

    return bench_suites()


# --------------------------------------------------------------------------- run / plot


def _parse_sets(items: Sequence[Sequence[str]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for group in items or []:
        for item in group:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--set expects key=value, got {item!r}")
            out[key.strip()] = value
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from isaclearn.experiments.runner import run_experiment

    result = run_experiment(
        args.experiment,
        profile=args.profile,
        overrides=_parse_sets(args.set),
        out_dir=args.out,
        resume=args.resume,
        device=args.device,
        seed=args.seed,
    )
    files = ["config.json", "results.csv", "summary.json", *(p.name for p in result.plots)]
    print(f"\nwrote {result.out_dir}/ ({', '.join(files)})", file=sys.stdout)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from isaclearn.experiments.plotting import plot_run

    def warn(msg: str) -> None:
        print(f"{PROG}: warning: {msg}", file=sys.stderr)

    written = plot_run(args.dir, errorbars=args.errorbars, warn=warn)
    for p in written:
        print(f"wrote {p}", file=sys.stdout)
    return 0


# --------------------------------------------------------------------------- evaluate


def _check_system_options(spec: Any, args: argparse.Namespace) -> None:
    """Refuse an option of another system's networks (e.g. ``--rho`` with ``--system
    qi_uplink``), which would otherwise be ignored without a word."""
    from isaclearn.systems.base import systems

    own = {o.flag for o in spec.cli_options}
    for other in systems().values():
        for o in other.cli_options:
            if o.flag not in own and getattr(args, o.dest, None) is not None:
                raise ConfigError(f"{o.flag} does not apply to system {spec.name} (it is an "
                                  f"option of {other.name} networks)")


def _selected_designers(spec: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The designers named by ``--designer`` and ``--checkpoint`` (in that order)."""
    _check_system_options(spec, args)
    out: dict[str, Any] = {}
    wanted = [n.strip() for group in (args.designer or []) for n in group.split(",")
              if n.strip()]
    if wanted:
        entries = spec.designer_entries()
        unknown = [n for n in wanted if n not in entries]
        if unknown:
            raise ConfigError(f"--designer: unknown designer {', '.join(unknown)} for "
                              f"{spec.name}; available: {', '.join(entries)}")
        out.update({n: entries[n].make() for n in wanted})
    if args.checkpoint:
        if spec.load_learned is None:
            raise ConfigError(f"--checkpoint: system {spec.name} has no trained networks")
        out.update(spec.load_learned(args.checkpoint, args))
    given = [o for o in spec.cli_options if getattr(args, o.dest, None) is not None]
    if given and not args.checkpoint:
        raise ConfigError(f"{given[0].flag} applies to trained networks; give --checkpoint too")
    return out


def _metric_table(spec: Any, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    table = []
    for m, unit in spec.metrics.items():
        v = metrics.get(m)
        if v is None or v.dim() != 1:
            continue
        v = v.double()
        table.append({"metric": m, "mean": float(v.mean()), "min": float(v.min()),
                      "max": float(v.max()), "unit": unit})
    return table


def _system(name: str) -> Any:
    from isaclearn.systems.base import get_system

    try:
        return get_system(name)
    except ConfigError as exc:
        raise ConfigError(f"--system: {exc}") from None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from isaclearn.experiments.io import load_problem_file
    from isaclearn.experiments.results import format_table, to_jsonable, write_json

    spec = _system(args.system)
    _check_out_file(args.json, "--json")
    _check_out_file(args.out, "--out", (".npz", ".mat"))
    designers = _selected_designers(spec, args)
    problem, design_file = load_problem_file(args.file, spec, require_design=not designers)
    heading = f"{args.file}: {_describe(problem)} ({spec.name})"
    if designers:
        return _evaluate_compare(args, spec, problem, design_file, designers, heading)
    print(heading)
    assert design_file is not None  # required above when no designer is named
    metrics = spec.evaluate(problem, design_file)
    table = _metric_table(spec, metrics)
    print(format_table(table, ["metric", "mean", "min", "max", "unit"]))
    if args.json:
        report = {
            "file": str(args.file),
            "system": spec.name,
            "batch": problem.batch_size,
            "per_instance": {m: to_jsonable(v.double()) for m, v in metrics.items()},
            "mean": {r["metric"]: r["mean"] for r in table},
            "units": {m: spec.metrics.get(m, "") for m in metrics},
        }
        _write_json_file(Path(args.json), report, write_json)
        print(f"wrote {args.json}")
    if args.out:
        _write_designs(args.out, spec, {"file": design_file})
    return 0


def _describe(problem: Any) -> str:
    """``B = 3 instance(s), K = 4 users, ...`` from the problem's ``num_*`` properties."""
    parts = [f"B = {problem.batch_size} instance(s)"]
    for name in sorted(dir(type(problem))):
        if name.startswith("num_") and isinstance(getattr(type(problem), name), property):
            parts.append(f"{name} = {getattr(problem, name)}")
    return ", ".join(parts)


def _evaluate_compare(args: argparse.Namespace, spec: Any, problem: Any, design_file: Any,
                      designers: dict[str, Any], heading: str) -> int:
    """Score the file's design (if any) and each designer's design on the file's problem
    (designed before anything is printed, so that a designer that does not fit the file is
    a one-line error)."""
    from isaclearn.experiments.results import format_table, to_jsonable, write_json

    designs: dict[str, Any] = {}
    if design_file is not None:
        designs["file"] = design_file
    for name, designer in designers.items():
        designs[name] = designer.design(problem)
    print(heading)
    from isaclearn.systems.toolkit import finite_instances, subset_design

    shown = spec.shown_metrics()
    notes = {name: _designer_note(d) for name, d in designers.items()}
    for name, note in notes.items():
        if note:
            print(f"{name}: {note}")
    rows, report = [], {}
    for name, design in designs.items():
        ok = finite_instances(design)
        metrics: dict[str, Any] = {}
        if bool(ok.all()):
            metrics = spec.evaluate(problem, design)
        elif bool(ok.any()):
            metrics = spec.evaluate(problem.subset(ok), subset_design(design, ok))
        mean = {m: float(metrics[m].double().mean()) for m in spec.metrics
                if m in metrics and metrics[m].dim() == 1}
        rows.append({"design": name, "valid": int(ok.sum()), **mean})
        report[name] = {"valid_instances": int(ok.sum()), "mean": mean,
                        "per_instance": {m: to_jsonable(v.double()) for m, v in metrics.items()}}
        if notes.get(name):
            report[name]["note"] = notes[name]
    cols = ["design", "valid", *shown]
    print(format_table(rows, cols))
    print("means over the instances with a finite design (valid); units: "
          + ", ".join(f"{c} {spec.metrics.get(c, '')}".strip() for c in shown))
    if args.json:
        _write_json_file(Path(args.json), {"file": str(args.file), "system": spec.name,
                                           "batch": problem.batch_size, "designs": report,
                                           "units": dict(spec.metrics)}, write_json)
        print(f"wrote {args.json}")
    if args.out:
        _write_designs(args.out, spec, designs)
    return 0


def _designer_note(designer: Any) -> str | None:
    """The one-line ``info["note"]`` a system's loaded network may carry (e.g. which trade-off
    weight it runs at)."""
    info = getattr(designer, "info", None)
    note = info.get("note") if isinstance(info, dict) else None
    return str(note) if note else None


def _write_designs(path: str, spec: Any, designs: dict[str, Any]) -> None:
    from isaclearn.experiments.io import write_designs

    written = write_designs(path, spec, designs)
    print(f"wrote {written} ({', '.join(designs)})")


def _check_out_file(path: str | None, flag: str, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse an output file that cannot be written before any work is done or printed: a
    missing folder, a folder in place of the file, a folder where no file can be created
    (probed with a temporary file), a suffix not in ``suffixes``."""
    import os
    import tempfile

    if not path:
        return
    target = Path(path)
    parent = target.parent
    if suffixes and target.suffix.lower() not in suffixes:
        raise ConfigError(f"{flag} {path}: unsupported file type "
                          f"{target.suffix.lower() or '(none)'!r}; use {' or '.join(suffixes)}")
    if not parent.is_dir():
        state = "is not a folder" if parent.exists() else "does not exist"
        raise ConfigError(f"{flag} {path}: folder {parent} {state}")
    if target.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder; give a file name")
    try:
        fd, probe = tempfile.mkstemp(prefix=".isaclearn-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot write in folder {parent} "
                          f"({exc.strerror or exc})") from None


def _write_json_file(path: Path, obj: Any, writer: Any) -> None:
    if path.parent and not path.parent.exists():
        raise ConfigError(f"--json {path}: folder {path.parent} does not exist")
    try:
        writer(path, obj)
    except OSError as exc:
        raise ConfigError(f"--json {path}: cannot write ({exc.strerror or exc})") from None


# --------------------------------------------------------------------------- bench


def _cmd_bench(args: argparse.Namespace) -> int:
    from isaclearn.experiments.results import format_table, write_json
    from isaclearn.experiments.runner import check_device

    _, suite = _bench_suites()[args.suite]
    check_device(args.device)
    _check_out_file(args.json, "--json")

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    rows = suite.run(args, log)
    cols = suite.columns or sorted({k for r in rows for k in r})
    print(format_table(rows, cols))
    failed = [r for r in rows if r.get("error")]
    for r in failed:
        print(f"{r.get('designer', '?')}: failed: {r['error']}", file=sys.stderr)
    if args.json:
        _write_json_file(Path(args.json), rows, write_json)
        print(f"wrote {args.json}")
    return 0


# --------------------------------------------------------------------------- leaderboard


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from isaclearn.experiments.leaderboard import LEADERBOARD_COLUMNS, leaderboard
    from isaclearn.experiments.results import format_table, rows_to_csv_text, write_json
    spec = _system(args.system)
    _check_system_options(spec, args)
    _check_out_file(args.json, "--json")
    _check_out_file(args.csv, "--csv")

    def log(msg: str) -> None:
        print(f"[leaderboard] {msg}", file=sys.stderr, flush=True)

    board = leaderboard(spec, args, log)
    cols = [c for c in LEADERBOARD_COLUMNS[:2]] + [*spec.shown_metrics()] + [
        c for c in LEADERBOARD_COLUMNS[2:]]
    print(f"{spec.name}: ranked by {spec.primary_metric} ({spec.metrics[spec.primary_metric]}) "
          f"on {board.batch} test instance(s), seed {args.seed}")
    print(format_table(board.rows, cols))
    for note in board.notes:
        print(note)
    if args.json:
        _write_json_file(Path(args.json), {"system": spec.name, "batch": board.batch,
                                           "seed": args.seed, "rows": board.rows,
                                           "units": dict(spec.metrics)}, write_json)
        print(f"wrote {args.json}")
    if args.csv:
        from isaclearn.experiments.results import atomic_write_text

        try:
            atomic_write_text(Path(args.csv), rows_to_csv_text(board.rows))
        except OSError as exc:
            raise ConfigError(f"--csv {args.csv}: cannot write ({exc.strerror or exc})") from None
        print(f"wrote {args.csv}")
    return 0


def _add_system_options(p: argparse.ArgumentParser) -> None:
    """The options of every system's trained networks (e.g. a trade-off weight)."""
    from isaclearn.systems.base import systems

    seen: set[str] = set()
    for spec in systems().values():
        for o in spec.cli_options:
            if o.flag in seen:
                continue
            seen.add(o.flag)
            p.add_argument(o.flag, type=o.type, default=o.default,
                           help=f"{o.help} [{spec.name}]")


# --------------------------------------------------------------------------- parser


def _seed(text: str) -> int:
    from isaclearn.systems.base import seed_arg

    return seed_arg(text)


def build_parser() -> argparse.ArgumentParser:
    """The ``isaclearn`` argument parser (every system's bench suites and options included)."""
    from isaclearn.systems import DEFAULT_SYSTEM

    parser = _Parser(prog=PROG, description="Design, train and compare ISAC beamformers.")
    from isaclearn import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="systems, experiments, designers, bench suites; one "
                                    "experiment's config fields or one system's details")
    p.add_argument("name", nargs="?", default=None, metavar="EXPERIMENT|SYSTEM",
                   help="an experiment: its config fields (the keys of run --set) with type, "
                        "default, profile values and meaning; a system: as --system")
    p.add_argument("--system", default=None, help="details of one system: metrics, designers, "
                                                  "file layout")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("run", help="run an experiment into a folder",
                       epilog="`isaclearn list EXPERIMENT` prints the experiment's config "
                              "fields (the keys of --set) with their types, defaults, profile "
                              "values and meaning.")
    p.add_argument("experiment", help="experiment name <system>.<experiment> (see isaclearn list)")
    p.add_argument("--profile", default="quick", help="quick (default) or paper")
    p.add_argument("--set", action="append", nargs="+", metavar="KEY=VALUE",
                   help="override a config field (repeatable; lists as a,b,c); `isaclearn list "
                        "EXPERIMENT` shows the keys")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default runs/<experiment>-<profile>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out, skipping finished sweep points")
    p.add_argument("--seed", type=_seed, default=None,
                   help="seed in [0, 2**32 - 1] (sets the config's seed)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("plot", help="redraw a run's figures from its results.csv")
    p.add_argument("dir", type=Path, help="run folder")
    p.add_argument("--errorbars", action="store_true",
                   help="draw the standard error of each mean")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("evaluate", help="score a design stored in a .npz or .mat file, and/or "
                                        "designers run on its problem")
    p.add_argument("file", type=Path, help="file with the problem (and design) arrays of the "
                                           "system; see `isaclearn list --system NAME`")
    p.add_argument("--system", default=DEFAULT_SYSTEM,
                   help=f"system whose file layout and metrics apply (default {DEFAULT_SYSTEM})")
    p.add_argument("--json", default=None, metavar="OUT",
                   help="write per-instance and mean metrics to this JSON file")
    p.add_argument("--out", default=None, metavar="DESIGNS",
                   help="write the designs of this run to a .npz or MATLAB .mat file")
    p.add_argument("--designer", action="append", default=None, metavar="NAMES",
                   help="also design with these designers of the system (comma-separated) on "
                        "the file's problem and score them; the design arrays are then optional")
    p.add_argument("--checkpoint", action="append", default=None, metavar="PATH",
                   help="also design with this trained network (repeatable)")
    _add_system_options(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("bench", help="speed benchmarks, side by side")
    bsub = p.add_subparsers(dest="suite", metavar="SUITE", required=True)
    for name, (_, suite) in _bench_suites().items():
        bp = bsub.add_parser(name, help=suite.description, description=suite.description)
        suite.add_arguments(bp)
        bp.add_argument("--json", default=None, metavar="FILE",
                        help="write the rows as a JSON list to FILE")
        bp.add_argument("--device", default="cpu", help="cpu (default) or cuda")
        bp.set_defaults(func=_cmd_bench)

    p = sub.add_parser("leaderboard", help="every designer of a system on its test instances, "
                                           "ranked by its primary metric")
    p.add_argument("--system", default=DEFAULT_SYSTEM, help=f"system (default {DEFAULT_SYSTEM})")
    p.add_argument("--batch", type=int, default=256, help="test instances (default 256)")
    p.add_argument("--slow-batch", type=int, default=4,
                   help="instances (the first ones) for designers that solve one program per "
                        "instance (default 4; 0 leaves them out)")
    p.add_argument("--seed", type=_seed, default=0,
                   help="seed of the test instances, in [0, 2**32 - 1]")
    p.add_argument("--designers", default=None,
                   help="comma-separated designers to rank (default: all)")
    p.add_argument("--checkpoint", action="append", default=None, metavar="PATH",
                   help="trained network to rank (repeatable)")
    p.add_argument("--runs", default="runs", metavar="DIR",
                   help="folder searched for trained networks of the system (default runs; "
                        "'' searches nothing)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the table as JSON")
    p.add_argument("--csv", default=None, metavar="FILE", help="write the table as CSV")
    _add_system_options(p)
    p.set_defaults(func=_cmd_leaderboard)
    return parser


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _os_error_text(exc: OSError) -> str:
    """``PATH: reason`` for an :class:`OSError` (e.g. ``runs/x/results.csv: No space left on
    device``)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    return reason


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(list(argv) if argv is not None else None)
        return int(args.func(args))
    except _UsageError as exc:
        _err(str(exc))
        return 2
    except IsacError as exc:
        _err(str(exc))
        return 2
    except OSError as exc:  # a file system refusal not caught closer to its cause
        _err(_os_error_text(exc))
        return 2
    except MemoryError:
        _err("out of memory; reduce the sizes (--batch, --set ...)")
        return 2
    except RuntimeError as exc:
        if type(exc).__name__ == "OutOfMemoryError" or "can't allocate memory" in str(exc):
            _err(f"out of memory ({_reason(exc)}); reduce the sizes (--batch, --set ...)")
            return 2
        raise
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except SystemExit as exc:  # --help / --version
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
