"""temiz_unsup: unsupervised DNN downlink ISAC precoder (shared/papers/003_2bee3e7928861829.txt).

A BS with an ``M``-antenna ULA serves ``K`` single-antenna users and points beams at ``T``
targets with the same precoder ``W`` (``X = W Y``); it is scored by the users' sum rate
(eq. 16) and the targets' angle CRBs (eq. 5). This module holds the scenario defaults
(:func:`make_scenario`), the designers that apply (:func:`baseline_designers`), the scoring
(:func:`evaluate`) and the experiments.

Learned precoders (``isaclearn.learn``, variants in :mod:`.learned`): the paper's network and
loss (``dnn``), the same network scored after eq. (21) (``dnn_scaled``), a structured network
emitting the parameters of the optimal MISO precoder form (``struct``), ρ-conditioned
versions of both (``dnn_rho``, ``struct_rho``) and ``struct`` trained by continuation along ρ
(``struct_cont`` downwards from ρ = 1, ``struct_cont_up`` upwards from ρ = 0). Experiments:
``demo`` (what ``make demo`` runs: ``struct`` at ρ = 1 and 0.5 beside every baseline and the
bounds), ``tradeoff`` (Figs. 3–4), ``compression`` (Table 3, Figs. 5–6), ``snr`` (Fig. 8),
``csi_error`` (Fig. 9), ``beampattern`` (Figs. 10–11) and ``snr_definition`` (which SNR
reading gives the paper's 36.1 bit/s/Hz).

Choices where the paper is unclear (all parameters; details in ``docs/temiz_unsup.md``):
gains normalized to their per-instance mean (``gain_normalization="instance_mean"``),
SNR = P_t/σ² = 20 dB, Rician factor 1, L = 1, radar SNR 1/σ²; β of eq. (18) from WMMSE on
training channels; γ of eq. (19) the minimum *approximate* sum CRB (mean over angle draws for
random angles); α = 7.5, δ = 0.1; complexity = Q(1−J)/32 as in Table 3 (the measured share of
non-zero bits is reported too); networks trained at 20 dB are evaluated at other SNRs without
retraining unless ``retrain_per_snr=true``.

Measured results against the paper, with the command behind every number:
``docs/temiz_unsup.md``.
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
from isaclearn.systems.temiz_unsup import demo as _demo  # noqa: E402,F401  (registers)
from isaclearn.systems.temiz_unsup import experiments as _experiments  # noqa: E402,F401  (registers)
from isaclearn.systems.temiz_unsup.system import SYSTEM  # noqa: E402,F401  (registers)
