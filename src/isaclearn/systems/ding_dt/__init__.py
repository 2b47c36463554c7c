r"""ding_dt: digital-twin-assisted vehicular ISAC (``shared/papers/004_c28dc1e34dc31f1a.txt``,
Ding et al.): EKF tracking, PCRB, FP + PGD beamforming, RSU assignment, Bi-LSTM.

Two road-side units beside a 60 m highway segment track every vehicle with an EKF, predict its
state one slot ahead, assign it to an RSU and design its beam on the *prediction*, score the
rate on the *truth*, and correct the track with the echo of that beam (the per-slot loop of
Alg. 1, :func:`~isaclearn.systems.ding_dt.twin.run_twin`). The building blocks live in the
layers above: the scene, kinematics (19) and measurement model (12)–(17) in
:mod:`isaclearn.channels.highway`; the PCRB (35), Λ of (54)–(58) in
:mod:`isaclearn.metrics.pcrb`; the rate (10) in :mod:`isaclearn.metrics.vehicular`; the EKF in
:mod:`isaclearn.tracking`; FP + PGD in :mod:`isaclearn.solvers.fractional`; the Bi-LSTM in
:mod:`isaclearn.learn.bilstm`. This package holds the system: settings
(:mod:`.config`), the slot problem and scoring (:mod:`.evaluation`), the twin loop
(:mod:`.twin`), the designers (:mod:`.designers`), the registration (:mod:`.system`), the
experiments (:mod:`.experiments`) and the bench (:mod:`.bench`).

Choices where the paper is silent or wrong (spec ``ding_dt.md`` §1 "Missing", §6), each a
parameter with our default
--------------------------------------------------------------------------------------------
* **Transmit power** (§6.1, blocking): ‖f‖² ≤ P per beam, ``power_db``; 0 dB is the paper's
  ‖f‖ ≤ 1, the ``paper`` profiles use 40 dB, Fig. 7 is swept over {0, 20, 40} dB.
* **Sensing constraint** (§6.2, blocking): ``sensing_constraint`` ∈ {"paper" (Λ clipped to
  P λ_max(ΠᴴΠ) where infeasible; default), "slack" (m̃⁽¹¹⁾_n ≤ (1+ε_s) m̃⁽¹¹⁾_{n−1},
  ``slack_eps`` 0.1), "none"}; applied to the serving pair only (§6.5); the infeasible, binding
  and violated fractions are reported.
* **Design-time echo gain**: Λ uses (16)/(17) with |η|² = P (the paper's η ≈ 1 at ‖f‖ ≤ 1,
  i.e. a full-power beam on the vehicle); the simulation uses the actual η.
* **Angle information** c_f = 2 (exact for circular noise; (35) as printed is 1), ``c_f``.
* **PCRB with process noise**: M̂ = GM̃Gᵀ + E in (35)/(36) (§6.4); the bound is propagated
  along the true trajectory with the designed beams (Fig. 11's RCRB = √M̃⁽²²⁾ of it).
* **EKF gain**: the standard gain (26) with the Joseph covariance; the paper's (27)–(32) as
  ``ekf_gain="paper"`` (§3, §6.6).
* **Process noise E** = diag(σ_φ², σ_d², σ_v²) with σ_φ = 1e−3, σ_d = 0.02 m, σ_v = 0.05 m/s;
  **speed** N(30, 2²) m/s truncated at 1 m/s, constant per vehicle (§6.10); **lanes** one per
  direction at y = ∓2.5 m (traffic keeps right).
* **Track start** (§6.10): truth + N(0, M̃₀), M̃₀ = diag(σ_φ0², 0.1², σ_v0²) with
  σ_φ0 = 5e−3, σ_v0 = 0.5 m/s, in the nearest RSU's frame, one slot before the vehicle's first
  designed slot (the detection), then predicted like every track; the stored speed is drawn
  with σ_v0 too; ``init_std_*`` of the highway config.
* **Handover** (§3): a track is stored relative to the RSU that served it last; at each slot it
  is converted to every RSU through Cartesian (x, y, v) (covariance through the conversion
  Jacobian), predicted there, and updated in the frame of the newly chosen serving RSU. Λ of
  each RSU uses that RSU's frame.
* **φ = 0 guard**: below |φ| = 1e−3 the DT's stored speed replaces v̇/φ (``phi_guard``).
* **Log base**: ln in the FP (as (40)–(42) imply), log₂ for reported rates (§6.3).
* **Interference**: intra-RSU only, as (10) (``inter_rsu_interference=False``, §6.9).
* **Bandwidth / T_s**: rates are reported in bit/s/Hz; no symbol time is needed.
* **FP + PGD controls**: at most ``fp_max_iter`` = 100 outer iterations, relative tolerance
  ``fp_tol`` = 1e−5 on Σ ln(1+SINR), ``pgd_steps`` = 10 projected-gradient steps per F step
  with Armijo backtracking (:mod:`isaclearn.solvers.fractional`); the quick profiles loosen the
  tolerance (stated in each run's config).
* **Alg. 3 guards**: at most 2K flips and no immediate re-flip (the paper proves no
  termination; :mod:`isaclearn.solvers.assignment`).
* **Bi-LSTM**: 2 × Bi-LSTM(128) + Dense(256)-ReLU, Adam, lr 1e−3, batch 128
  (:data:`isaclearn.learn.bilstm.BILSTM_TRAIN_CONFIG`); features of both RSUs, the serving
  RSU's last echo r̃, ν̃, μ̃ and the previous beam, zero at the other RSU; a new track (no echo
  yet) gets the noiseless detection echo of a full-power beam a(φ̂₀) from its nearest RSU;
  vehicles sorted by their predicted x. Labels: Alg. 3 on DT snapshots (§6.11).
* **Constant K** (Figs. 5–8, §6.12): K vehicles uniform on the segment, a leaving vehicle
  re-enters at the other end (a new track); 1 s of warm-up, then the average over the next
  1 s (``warmup_s``, ``measure_s``).
* **K values** of Figs. 5–7: {5, 10, 20, 30, 40, 50}; **N values** of Fig. 8:
  {8, 16, 32, 64, 128}; **Fig. 11** scenario: dynamic traffic at 5 /s with Alg. 3, RCRB
  averaged over tracks by age.
* **Monte Carlo counts**: seeds per point are config fields of every experiment; the dynamic
  experiments report the mean ± 95 % CI over their seeds (≥ 20 in the ``paper`` profile).
* **Measurements** are drawn from (12)–(17) (no waveform simulation, §6.13).

Measured results against the paper, claim by claim with the command behind every number:
``docs/ding_dt.md``.
"""

from isaclearn.systems.ding_dt.config import (
    EKF_GAINS,
    SENSING_MODES,
    DtSettings,
    make_settings,
)
from isaclearn.systems.ding_dt.evaluation import (
    METRIC_UNITS,
    TwinProblem,
    evaluate,
    slot_metrics,
)
from isaclearn.systems.ding_dt.scenario import SnapshotScenario, make_scenario
from isaclearn.systems.ding_dt.twin import TwinTrace, run_twin

__all__ = [
    "EKF_GAINS",
    "METRIC_UNITS",
    "SENSING_MODES",
    "DtSettings",
    "SnapshotScenario",
    "TwinProblem",
    "TwinTrace",
    "evaluate",
    "make_scenario",
    "make_settings",
    "run_twin",
    "slot_metrics",
]

from isaclearn.systems.ding_dt import experiments as _experiments  # noqa: E402,F401  (registers)
from isaclearn.systems.ding_dt.system import SYSTEM  # noqa: E402,F401  (registers)
