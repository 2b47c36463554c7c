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

Choices where the paper is unclear (all parameters; details in ``docs/temiz_unsup_learned.md``):
gains normalized to their per-instance mean (``gain_normalization="instance_mean"``),
SNR = P_t/σ² = 20 dB, Rician factor 1, L = 1, radar SNR 1/σ²; β of eq. (18) from WMMSE on
training channels; γ of eq. (19) the minimum *approximate* sum CRB (mean over angle draws for
random angles); α = 7.5, δ = 0.1; complexity = Q(1−J)/32 as in Table 3 (the measured share of
non-zero bits is reported too); networks trained at 20 dB are evaluated at other SNRs without
retraining unless ``retrain_per_snr=true``.

Measured (paper profile with 10⁵ training instances and ≤ 240 s per network on 2 CPU cores,
2·10⁴ test instances; WMMSE = best of MRT/ZF/RZF starts, 100 iterations or converged,
35.16 bit/s/Hz at M = K = 10, 20 dB; full tables in ``docs/temiz_unsup_learned.md``):

* ρ = 1, M = 10: ``struct`` 35.50 bit/s/Hz (101.0 % of WMMSE, 143 % of RZF; rerun after the
  NaN-gradient fix of this session), ``struct_rho`` 35.02 (99.6 %), ``dnn_scaled`` 7.81
  (22 %), ``dnn`` 1.37 (4 %: the paper's loss as written leaves the network at its initial
  output). M = 20 (before the fix): ``struct`` 49.22 (102.6 % of 47.95), ``struct_rho`` 48.84
  (101.9 %). Paper: 36.1 at ρ = 0.5 and above WMMSE for ρ ≥ 0.5; ours reach WMMSE from
  ρ ≈ 0.7–0.8.
* Trade-off in ρ (one ``struct`` network per ρ, all eleven values): sum rate strictly monotone
  at M = 10 (rerun) and M = 20; the sum CRB rises with ρ except a 0.013 dB step on the flat
  part 0.1 ≤ ρ ≤ 0.2. ``struct_rho`` dips by 0.02 % between 0.9 and 1. The upward
  continuation chain (``struct_cont_up``) is trapped at the sensing optimum (≈ 8 bit/s/Hz up
  to ρ = 0.9).
* Q = 7 / J = 10 % (19.7 % complexity) keeps 99.99 % of ``struct``'s sum rate at ρ = 1 and
  105.5 % at ρ = 0.5 (a move along the trade-off: the sum CRB is 0.7 dB worse); paper: 97.8 %
  at ρ = 0.5. ``struct_rho`` keeps 98.7 % at ρ = 1 and 94.2 % at ρ = 0.5.
* ρ = 0 beampattern peaks within 0.75° of the targets for every trained network.
* ``isaclearn bench precoders``: the structured network is 148× faster per instance than the
  WMMSE reference (48× faster than WMMSE from one start; an earlier run: 116× and 38×).
* 36.1 bit/s/Hz equals RZF when every user is at 20 dB (36.03), but WMMSE is 45.4 there; with
  the path-loss spread kept (the default), WMMSE is 35.2, consistent with the paper's claim
  that its network (36.1) beats WMMSE.
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
