"""The ``isaclearn`` command-line tool.

Subcommands::

    isaclearn list
    isaclearn run EXPERIMENT [--profile quick|paper] [--set key=value ...] [--out DIR]
                             [--resume] [--seed N] [--device cpu|cuda]
    isaclearn plot DIR [--errorbars]
    isaclearn evaluate FILE [--json OUT] [--system temiz_unsup] [--designer NAMES]
                       [--checkpoint PATH] [--rho R]
    isaclearn bench SUITE [suite options] [--json FILE] [--device cpu|cuda]

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
    from isaclearn.experiments.bench import BENCH_SUITES, designer_factories
    from isaclearn.systems import SYSTEM_MODULES
    from isaclearn.systems.base import experiments

    exps = experiments()
    out = sys.stdout
    print("systems:", file=out)
    for sysname in SYSTEM_MODULES:
        n = sum(1 for s in exps.values() if s.system == sysname)
        state = f"{n} experiment(s)" if n else "no experiments yet"
        print(f"  {sysname:<16} {state}", file=out)
    print("\nexperiments:", file=out)
    if not exps:
        print("  (none registered)", file=out)
    for name, spec in exps.items():
        profiles = ",".join(spec.profiles)
        print(f"  {name:<28} [{profiles}]  {spec.description}", file=out)
    print("\ndesigners (temiz_unsup):", file=out)
    try:
        from isaclearn.systems import temiz_unsup

        designers = temiz_unsup.baseline_designers(include_convex=True)
        convex = temiz_unsup.CONVEX_DESIGNERS
        for dname, designer in designers.items():
            note = " (convex program per instance)" if dname in convex else ""
            print(f"  {dname:<16} {type(designer).__name__}{note}", file=out)
    except ImportError as exc:
        print(f"  (baseline designers unavailable: {exc})", file=out)
    for fname in designer_factories():
        print(f"  {fname:<16} (designer factory for bench precoders)", file=out)
    print("\nbench suites:", file=out)
    for sname, suite in BENCH_SUITES.items():
        print(f"  {sname:<16} {suite.description}", file=out)
    return 0


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

EVALUATE_METRICS = ["sum_rate", "min_rate", "sum_crb", "sum_crb_db", "sum_crb_approx",
                    "crb_fairness", "rate_fairness", "power"]


def _evaluate_designers(args: argparse.Namespace) -> dict[str, Any]:
    """The designers named by ``--designer`` and ``--checkpoint`` (in that order)."""
    from isaclearn.systems import temiz_unsup

    out: dict[str, Any] = {}
    wanted = [n.strip() for spec in (args.designer or []) for n in spec.split(",") if n.strip()]
    if wanted:
        available = temiz_unsup.baseline_designers()
        unknown = [n for n in wanted if n not in available]
        if unknown:
            raise ConfigError(f"--designer: unknown designer {', '.join(unknown)}; available: "
                              f"{', '.join(available)}")
        out.update({n: available[n] for n in wanted})
    if args.checkpoint:
        from isaclearn.systems.temiz_unsup.learned import learned_designers

        out.update(learned_designers(args.checkpoint, rho=args.rho))
    return out


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from isaclearn.experiments.io import load_problem_file
    from isaclearn.experiments.results import format_table, to_jsonable, write_json

    if args.system != "temiz_unsup":
        raise ConfigError(f"--system {args.system!r}: evaluate supports temiz_unsup only")
    from isaclearn.systems import temiz_unsup

    designers = _evaluate_designers(args)
    problem, w_file = load_problem_file(args.file, require_w=not designers)
    print(f"{args.file}: B = {problem.batch_size} instance(s), K = {problem.num_users} users, "
          f"M = {problem.num_antennas} antennas, T = {problem.num_targets} target(s)")
    units = dict(temiz_unsup.METRIC_UNITS)
    units.setdefault("crb", "rad^2")
    units.setdefault("rates", "bit/s/Hz")
    if designers:
        return _evaluate_compare(args, problem, w_file, designers, units)
    assert w_file is not None  # required above when no designer is named
    metrics = temiz_unsup.evaluate(problem, w_file)
    names = [m for m in EVALUATE_METRICS if m in metrics]
    table = []
    for m in names:
        v = metrics[m].double()
        table.append({"metric": m, "mean": float(v.mean()), "min": float(v.min()),
                      "max": float(v.max()), "unit": units.get(m, "")})
    print(format_table(table, ["metric", "mean", "min", "max", "unit"]))
    if args.json:
        per_instance = {m: to_jsonable(metrics[m].double()) for m in metrics}
        mean = {m: float(metrics[m].double().mean()) for m in names}
        report = {
            "file": str(args.file),
            "system": args.system,
            "batch": problem.batch_size,
            "per_instance": per_instance,
            "mean": mean,
            "units": {m: units.get(m, "") for m in metrics},
        }
        _write_json_file(Path(args.json), report, write_json)
        print(f"wrote {args.json}")
    return 0


def _evaluate_compare(args: argparse.Namespace, problem: Any, w_file: Any,
                      designers: dict[str, Any], units: dict[str, str]) -> int:
    """Score the file's ``W`` (if any) and each designer's design on the file's problem."""
    import torch

    from isaclearn.core.design import Design
    from isaclearn.experiments.results import format_table, to_jsonable, write_json
    from isaclearn.systems import temiz_unsup

    designs: dict[str, Any] = {}
    if w_file is not None:
        designs["file W"] = w_file
    for name, designer in designers.items():
        out = designer.design(problem)
        designs[name] = out.w if isinstance(out, Design) else out
    rows, report = [], {}
    for name, w in designs.items():
        w = w.to(problem.h.dtype)
        ok = torch.isfinite(torch.view_as_real(w)).reshape(w.shape[0], -1).all(dim=1)
        metrics = temiz_unsup.evaluate(problem.subset(ok), w[ok]) if bool(ok.any()) else {}
        mean = {m: float(metrics[m].double().mean()) for m in EVALUATE_METRICS if m in metrics}
        rows.append({"design": name, "valid": int(ok.sum()), **mean})
        report[name] = {"valid_instances": int(ok.sum()), "mean": mean,
                        "per_instance": {m: to_jsonable(v.double()) for m, v in metrics.items()}}
    cols = ["design", "valid", "sum_rate", "min_rate", "sum_crb_db", "crb_fairness", "power"]
    print(format_table(rows, cols))
    print("means over the instances with a finite design (valid); units: "
          + ", ".join(f"{c} {units.get(c, '')}".strip() for c in cols[2:]))
    if args.json:
        _write_json_file(Path(args.json), {"file": str(args.file), "system": args.system,
                                           "batch": problem.batch_size, "designs": report,
                                           "units": units}, write_json)
        print(f"wrote {args.json}")
    return 0


def _write_json_file(path: Path, obj: Any, writer: Any) -> None:
    if path.parent and not path.parent.exists():
        raise ConfigError(f"--json {path}: folder {path.parent} does not exist")
    try:
        writer(path, obj)
    except OSError as exc:
        raise ConfigError(f"--json {path}: cannot write ({exc.strerror or exc})") from None


# --------------------------------------------------------------------------- bench


def _cmd_bench(args: argparse.Namespace) -> int:
    from isaclearn.experiments.bench import BENCH_SUITES
    from isaclearn.experiments.results import format_table, write_json
    from isaclearn.experiments.runner import check_device

    suite = BENCH_SUITES[args.suite]
    check_device(args.device)
    if args.json and not Path(args.json).resolve().parent.exists():
        raise ConfigError(f"--json {args.json}: folder {Path(args.json).parent} does not exist")

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


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The ``isaclearn`` argument parser (bench suites and their plugins included)."""
    from isaclearn.experiments.bench import BENCH_SUITES, load_bench_plugins

    load_bench_plugins()
    parser = _Parser(prog=PROG, description="Design, train and compare ISAC beamformers.")
    from isaclearn import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="systems, experiments, designers, bench suites")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("run", help="run an experiment into a folder")
    p.add_argument("experiment", help="experiment name, e.g. temiz_unsup.baselines")
    p.add_argument("--profile", default="quick", help="quick (default) or paper")
    p.add_argument("--set", action="append", nargs="+", metavar="KEY=VALUE",
                   help="override a config field (repeatable)")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default runs/<experiment>-<profile>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out, skipping finished sweep points")
    p.add_argument("--seed", type=int, default=None, help="seed (sets the config's seed)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("plot", help="redraw a run's figures from its results.csv")
    p.add_argument("dir", type=Path, help="run folder")
    p.add_argument("--errorbars", action="store_true",
                   help="draw the standard error of each mean")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("evaluate", help="score a design stored in a .npz or .mat file, and/or "
                                        "designers run on its channels")
    p.add_argument("file", type=Path, help="file with H, W, theta, noise_var, radar_snr, "
                                           "num_rx[, num_symbols]")
    p.add_argument("--json", default=None, metavar="OUT",
                   help="write per-instance and mean metrics to this JSON file")
    p.add_argument("--system", default="temiz_unsup", help="system whose metrics to use")
    p.add_argument("--designer", action="append", default=None, metavar="NAMES",
                   help="also design with these baseline designers (comma-separated, e.g. "
                        "mmse,wmmse) on the file's channels and score them; W is then optional")
    p.add_argument("--checkpoint", action="append", default=None, metavar="PATH",
                   help="also design with this trained network (repeatable); W is then "
                        "optional")
    p.add_argument("--rho", type=float, default=None,
                   help="trade-off weight fed to a rho-conditioned network")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("bench", help="speed benchmarks, side by side")
    bsub = p.add_subparsers(dest="suite", metavar="SUITE", required=True)
    for name, suite in BENCH_SUITES.items():
        bp = bsub.add_parser(name, help=suite.description, description=suite.description)
        suite.add_arguments(bp)
        bp.add_argument("--json", default=None, metavar="FILE",
                        help="write the rows as a JSON list to FILE")
        bp.add_argument("--device", default="cpu", help="cpu (default) or cuda")
        bp.set_defaults(func=_cmd_bench)
    return parser


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
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except SystemExit as exc:  # --help / --version
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
