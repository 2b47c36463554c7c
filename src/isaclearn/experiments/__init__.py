"""Running experiments, storing results, plotting, benchmarks and file input.

The only layer (with :mod:`isaclearn.cli`) that writes files or prints.

* :func:`run_experiment` (:mod:`.runner`) runs a registered experiment into a run folder.
* :mod:`.results` holds the run folder's storage (:class:`FolderContext`), JSON conversion and
  text tables.
* :func:`plot_run` (:mod:`.plotting`) redraws a run's figures from its ``results.csv``.
* :mod:`.bench` holds the ``isaclearn bench`` suites and their registries.
* :func:`load_design_file` (:mod:`.io`) reads a user's design from ``.npz`` / ``.mat``.
"""

from isaclearn.experiments.io import load_design_file
from isaclearn.experiments.plotting import plot_run
from isaclearn.experiments.results import FolderContext, read_results_csv, to_jsonable
from isaclearn.experiments.runner import RunResult, run_experiment

__all__ = [
    "FolderContext",
    "RunResult",
    "load_design_file",
    "plot_run",
    "read_results_csv",
    "run_experiment",
    "to_jsonable",
]
