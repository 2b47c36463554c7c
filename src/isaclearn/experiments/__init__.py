"""Running experiments, storing results, plotting, benchmarks and file input.

The only layer (with :mod:`isaclearn.cli`) that writes files or prints.

* :func:`run_experiment` (:mod:`.runner`) runs a registered experiment into a run folder.
* :mod:`.results` holds the run folder's storage (:class:`FolderContext`), JSON conversion and
  text tables.
* :func:`plot_run` (:mod:`.plotting`) redraws a run's figures from its ``results.csv``.
* :mod:`.io` reads a system's problems and designs from ``.npz`` / ``.mat`` files laid out as
  its :class:`~isaclearn.systems.base.FileFormat` says (:func:`load_problem_file`,
  :func:`load_design_file`) and writes designs (:func:`write_designs`).
* :func:`leaderboard` (:mod:`.leaderboard`) ranks every designer of a system on the same test
  instances.

The bench suites belong to the systems (:class:`~isaclearn.systems.base.BenchSuite`).
"""

from isaclearn.experiments.io import load_design_file, load_problem_file, write_designs
from isaclearn.experiments.leaderboard import Leaderboard, leaderboard
from isaclearn.experiments.plotting import plot_run
from isaclearn.experiments.results import FolderContext, read_results_csv, to_jsonable
from isaclearn.experiments.runner import RunResult, run_experiment

__all__ = [
    "FolderContext",
    "Leaderboard",
    "RunResult",
    "leaderboard",
    "load_design_file",
    "load_problem_file",
    "plot_run",
    "read_results_csv",
    "run_experiment",
    "to_jsonable",
    "write_designs",
]
