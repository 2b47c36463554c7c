r"""yang_som: SoM-enhanced DRL hybrid precoding for wideband vehicular ISAC
(``shared/papers/000_e47146536a3e5322.txt``, Yang/Gao/Cheng/Yang; specification
``shared/specs/yang_som.md``). System layer of the non-learned methods.

A BS with ``N_t`` transmit / ``N_r`` receive antennas and a hybrid precoder (``B``-bit analog
``F_RF`` shared by the subcarriers, diagonal digital ``F_BB,m``) serves ``U`` vehicles on ``M``
OFDM subcarriers over a doubly-selective channel with ICI and senses one moving target; scored
by the SE (8) with ICI and the angle CRLB (11), combined in the reward (38).

Pieces (all on main below this package): the channel :mod:`isaclearn.channels.doubly_selective`
(3)–(5) and :mod:`isaclearn.channels.mobility` (41)–(42); the metrics
:mod:`isaclearn.metrics.ofdm` (7)–(8) and :func:`isaclearn.metrics.sensing.fisher_angle`
(10)–(11); the solvers :mod:`isaclearn.solvers.hybrid` (quantizer (37), Stage II (16)–(22),
OMP, the UU/AU rules) and :mod:`isaclearn.solvers.isac_ofdm_sdr` (Stage I (15)); the Kalman
recursion of :mod:`isaclearn.tracking`; the POMDP env :mod:`isaclearn.rl.envs.yang_som`
(``isaclearn/YangSom-v0``, ``YangSomAU-v0``) whose frames every method is scored on.

This package: scoring :mod:`.evaluation` (the env's metrics per subframe, frame rows, mean and
95 % CI over frames), the designers :mod:`.designers` (``opt``, ``omp``, ``ideal``, ``mp``,
``greedy``, ``orthogonal`` and :func:`~.designers.rollout_designer`), the run settings
:mod:`.config` (profiles ``quick`` / ``paper``), the experiments :mod:`.experiments`
(``yang_som.{snr, weight, users, speed, tradeoff, runtime}``, which train and score the
learned methods of :mod:`.learned` beside the classical ones), the system spec :mod:`.system`
and ``isaclearn bench yang_som`` (:mod:`.bench`).

Chosen parameters (spec §1 "missing in the paper"; every one a field of
:class:`~isaclearn.rl.envs.yang_som.YangSomConfig`,
:class:`~isaclearn.channels.doubly_selective.DoublySelectiveConfig` or
:class:`~isaclearn.systems.yang_som.config.YangSomRunConfig`)
-----------------------------------------------------------------------------------------------
* SNR := P_t/σ_c², σ_c² = σ_s² = −10 dBm; ΔT = one subframe L(M + L_CP)T_s.
* Initial θ ~ U(−60°, 60°), d ~ U(20, 150) m, heading = road axis + U(−10°, 10°), straight
  lines; speeds U[10, 30] m/s (``speed_mps`` fixes them, Figs. 10/13).
* Raised-cosine roll-off 0.25; σ_Δβ = 0.05 random walk; per-path AoD offsets U(−5°, 5°);
  |α|² = σ_RCS (100 m/d)^4.
* Preamble CSI NMSE −20 dB; synthetic position estimates (users 1°, ranges 1 m, target
  √min(CRLB, (5°)²)); GPS every 10 subframes with 0.5 m error.
* Power invariant Σ|p|² = U M (spec §6.1); initial precoder ``init="beam"`` (spec §6.15).
* Opt: SINR targets per frame τ ∈ {0} ∪ {2^{f R*/(U M)} − 1 : f ∈ ``opt_fractions``} (the
  equal per-user, per-subcarrier share of the fraction f of R*; ``opt_tau="db"`` for a fixed dB
  grid), the τ maximizing the extracted (15b) utility; Stage II N_iter = 20; per-subcarrier
  power P_t/M; ICI ignored in (15d) by default (``opt_ici_rounds`` adds the previous
  round's ICI to the noise; ``opt_ici="joint"`` solves one coupled SDP with the exact ICI,
  toy sizes only); solved every
  ``opt_stride`` subframes (paper profile 10, quick 5; the paper's algorithm is 1) and said so
  in each row's ``note``.
* MP: constant-velocity Kalman chain in angle per user, measurement std 1° (the env's), process
  std 0.01° per subframe on the rate, no target beam.
* Greedy: the quantized G_t-point dictionary, equal power, true subframe CSI.

Measured results, claim by claim, with commands: ``docs/yang_som.md``.
"""

from isaclearn.systems.yang_som import experiments as experiments  # registers the experiments
from isaclearn.systems.yang_som.bench import SUITE
from isaclearn.systems.yang_som.evaluation import METRIC_UNITS, evaluate, make_scenario
from isaclearn.systems.yang_som.system import SYSTEM as SYSTEM  # registers the system

__all__ = ["METRIC_UNITS", "SUITE", "evaluate", "experiments", "make_scenario"]
