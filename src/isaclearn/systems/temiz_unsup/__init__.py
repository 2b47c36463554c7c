"""temiz_unsup: unsupervised DNN downlink ISAC precoder (shared/papers/003_2bee3e7928861829.txt).

A BS with an ``M``-antenna ULA serves ``K`` single-antenna users and points beams at ``T``
targets with the same precoder ``W`` (``X = W Y``); it is scored by the users' sum rate
(eq. 16) and the targets' angle CRBs (eq. 5). This module holds the scenario defaults
(:func:`make_scenario`), the designers that apply (:func:`baseline_designers`), the scoring
(:func:`evaluate`) and the experiments.
"""

from isaclearn.systems.temiz_unsup.designers import CONVEX_DESIGNERS, baseline_designers
from isaclearn.systems.temiz_unsup.evaluation import METRIC_UNITS, evaluate, scalar_metrics
from isaclearn.systems.temiz_unsup.scenario import make_scenario

__all__ = [
    "CONVEX_DESIGNERS",
    "METRIC_UNITS",
    "baseline_designers",
    "evaluate",
    "make_scenario",
    "scalar_metrics",
]

from isaclearn.systems.temiz_unsup import baselines as _baselines  # noqa: E402,F401  (registers)
from isaclearn.systems.temiz_unsup import experiments as _experiments  # noqa: E402,F401  (registers)
