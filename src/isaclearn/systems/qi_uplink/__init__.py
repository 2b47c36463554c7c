r"""qi_uplink: uplink ISAC waveform and receive beamforming, ISACNN
(``shared/papers/002_44f20366b67f6561.txt``, Qi et al., "Deep Learning-based Design of Uplink
Integrated Sensing and Communication").

A BS with ``N_t`` transmit and ``N_r`` receive antennas sends a sensing waveform
:math:`\mathbf S` and, in the same ``L`` symbols, receives the target echo and the uplink of
``K`` users. The design maximizes the weighted sum of the normalized sensing rate (eqs. 4–5)
and communication rate (eqs. 7–8), eq. (9); the paper reduces it to problem (28) in the
waveform powers :math:`\boldsymbol\sigma_s` with MMSE receive beams (eq. 25).

Pieces: scenario and problem :mod:`isaclearn.channels.uplink`; metrics
:mod:`isaclearn.metrics.uplink`; the reduced problem, receive beams and the normalizer M_s
:mod:`isaclearn.solvers.uplink_reduced`; Average, ZFBF, traditional AO+SCA and the
optimality reference :mod:`isaclearn.solvers.uplink`; ISACNN, FC-NN and training
:mod:`isaclearn.learn.isacnn`; scoring :func:`evaluate`; experiments ``qi_uplink.{training,
schemes, snr, antennas_users, weight_users, imperfect_csi, runtime}``; speed benchmark
:func:`bench_uplink`.

Choices where the paper is unclear (each one is a parameter)
-------------------------------------------------------------
* **User placement** — users uniform in area on ``[d_0, 2 d_0]``
  (``UplinkScenario.user_distance_factor``); with the default per-user SNR it does not affect
  any metric.
* **SNR definitions** — :math:`\mathrm{SNR}_s=P_s\xi_0/\sigma_n^2` as written. For
  :math:`\mathrm{SNR}_c` the text says every user has :math:`\mathrm{SNR}_k=p_k\xi_k/\sigma_n^2=
  \mathrm{SNR}_c`, i.e. power control (``comm_snr_mode="per_user"``, default);
  ``"cell_edge"`` gives all users the power that yields :math:`\mathrm{SNR}_c` at ``d_0``.
* **Scale of** :math:`\mathbf R_T` — eigenvalues :math:`\xi_0\,\mathcal U(0,1)`
  (``rt_eig_range``), so :math:`\mathrm{SNR}_s` is the SNR of the strongest target direction.
* **Sensing interference in eq. (7)** — :math:`\mathrm{tr}(\mathbf S\mathbf R_T\mathbf S^H)/L`
  (the paper's :math:`\|\cdot\|` is replaced by the trace that its eq. 19 uses).
* :math:`M_s` — Appendix C's interference-free maximum, by exact water-filling (eq. 38's
  water level is wrong when a direction is inactive); ``ms_mode="with_interference"`` uses the
  maximum of eq. (14) instead (exact, :func:`~isaclearn.solvers.allocation.solve_sensing_kkt`).
* **Lambda layer** — the paper's :math:`\ell_2` normalization of :math:`\boldsymbol\theta_s`
  can exceed the :math:`\ell_1` budget (15) by :math:`\sqrt{N_t}`; default ``theta_norm="l1"``
  (exactly feasible), ``"l2"`` is the paper's text plus a rescaling onto the budget.
* **Recovery, eqs. (31)–(32)** — :math:`\mathbf U_s` is the identity by default (any unitary
  gives the same rates, tested); :math:`\sigma_{s,i}` (sorted descending by the Lambda layer)
  is paired with the eigenvector of the ``i``-th largest eigenvalue of :math:`\mathbf R_T`; the
  beams of eq. (32) use the designer's CSI.
* **ZFBF scheme "with SIC"** — zero-forcing receive beams, and the waveform that maximizes (28)
  with the zero-forcing rate (solved globally). Fig. 7 shows this scheme equal to ISACNN at
  α = 1, which is only possible if its sensing stage sees the users' full interference; so the
  fraction of user power left after SIC is ``ZfbfDesigner.sic_residual = 1`` by default
  (0 = perfect cancellation, a different receiver that reaches :math:`M_s` at α = 1).
* **Traditional scheme** — AO between the beams (eq. 25) and the waveform, the waveform step by
  SCA (tangent of the rate, which is convex in the interference, for fixed beams); each SCA
  subproblem is concave and solved exactly (batched KKT, default) or by CVXPY/Clarabel.
  Initialized at the Average scheme. It is monotone (tested).
* **Channel augmentation** (beyond the paper; ``augment``, default ``true``; ``--set
  augment=false`` is the paper's recipe) — each training mini-batch's channels are replaced by
  :math:`\mathbf Q\hat{\mathbf H}\mathbf D\boldsymbol\Pi` (random unitary, user phases,
  user permutation), a symmetry of problem (28), so the loss is unchanged. Without it ISACNN
  overfits the 160 channel inputs (details and ablation in :mod:`isaclearn.learn.isacnn`).
* **FC-NN** — the paper lists its four layers only; it gets ISACNN's η head and Lambda layer.
* **Imperfect CSI** — designers (and the network's input) see :math:`\hat{\mathbf H}`; the
  training loss uses the true :math:`\mathbf H` as the paper says. :func:`evaluate` reports
  ``wsnr`` (receive beams computed from :math:`\hat{\mathbf H}`, applied to the true channel)
  and ``wsnr_genie`` (beams recomputed on the true channel, i.e. eq. 26 — the paper's metric).
* **Optimality reference** (beyond the paper) — the communication rate depends on the waveform
  only through the interference :math:`\boldsymbol\sigma_t^T\boldsymbol\sigma_s` and is convex
  in it, the sensing rate is strictly concave, so every maximizer of (28) maximizes
  :math:`\frac{\alpha}{M_s}\bar{\mathcal R}_s-\lambda\boldsymbol\sigma_t^T\boldsymbol\sigma_s`
  for some :math:`\lambda\ge0`: a 1-D search (log grid + golden section), each point solved
  exactly; cross-checked by multi-start projected gradient ascent and by brute force in small
  dimensions (tests).

Measured results versus the paper
---------------------------------
Measured on the shared 2-core development CPU, one torch thread (``OMP_NUM_THREADS=1``: with
two threads on an oversubscribed CPU these tiny networks train up to ~50× slower), seed 0.
The paper gives Figs. 6–11 as plots only; its stated values and trends are quoted.

**Fig. 7 with channel augmentation (the default)** — paper-size training (8000/2000
instances, early stopping, 2000 test instances), three runs of ``isaclearn run qi_uplink.schemes
--profile paper --set reference_pga_starts=0 num_cvxpy=0`` with ``alphas=1.0`` / ``0.8``
(3 min each), ``alphas=0.0,0.5`` (4 min) and ``alphas=0.1,0.2,0.3,0.4,0.6,0.7,0.9`` (18 min),
``OMP_NUM_THREADS=1``, on the shared 2-core CPU:

=====  =======  =======  =======  ===========  =========
α      ISACNN   Average  ZFBF     traditional  reference
=====  =======  =======  =======  ===========  =========
0.0    1.0000   0.9225   0.9901   1.0000       1.0000
0.1    0.9001   0.8871   0.8912   0.9001       0.9001
0.2    0.8595   0.8516   0.8496   0.8595       0.8595
0.3    0.8404   0.8162   0.8317   0.8404       0.8404
0.4    0.8228   0.7807   0.8153   0.8229       0.8229
0.5    0.8057   0.7452   0.7995   0.8057       0.8057
0.6    0.7888   0.7098   0.7838   0.7888       0.7888
0.7    0.7720   0.6743   0.7683   0.7721       0.7721
0.8    0.75525  0.63887  0.75281  0.75534      0.75534
0.9    0.7386   0.6034   0.7374   0.7387       0.7387
1.0    0.72189  0.56795  0.72201  0.72201      0.72201
=====  =======  =======  =======  ===========  =========

ISACNN is at least Average and ZFBF at every α < 1 and within 0.02 % of the traditional scheme
and the optimality reference everywhere. At α = 1, where ZFBF *is* the optimum (the paper also
draws the three equal there), ISACNN is 0.017 % below it (a tie to three digits; 1.15 % with
the paper's recipe). The paper's claim that ISACNN beats the traditional scheme in mid-range α
is not reproduced: our AO+SCA reaches the reference to 1e-9. The quick profile (≤ 40 epochs,
3000 training instances) is a smoke run: with augmentation it stops short of convergence and
ends up to 1.2 % below ZFBF at α ≥ 0.8 (measured with ``--profile quick``). The tables
below were measured **before** the
augmentation, i.e. with the paper's recipe (``--set augment=false``); the other figures have
not been re-run with it.

**Fig. 7 / acceptance, paper's recipe** — ``isaclearn run qi_uplink.schemes --profile quick``
(now with ``--set augment=false``; 3000/750 training/validation instances, ≤ 40 epochs,
500 test instances; 4 min 48 s wall). WSNR, and ISACNN's gap to the optimality reference
in %:

=====  ======  =======  ======  ===========  =========  ==========
α      ISACNN  Average  ZFBF    traditional  reference  ISACNN gap
=====  ======  =======  ======  ===========  =========  ==========
0.0    1.0000  0.9227   0.9904  1.0000       1.0000     0.003
0.2    0.8587  0.8517   0.8500  0.8596       0.8596     0.10
0.4    0.8200  0.7806   0.8155  0.8229       0.8229     0.35
0.6    0.7839  0.7096   0.7839  0.7888       0.7888     0.61
0.8    0.7482  0.6386   0.7527  0.7552       0.7552     0.92
1.0    0.7124  0.5676   0.7218  0.7218       0.7218     1.31
=====  ======  =======  ======  ===========  =========  ==========

Paper-size training (``--profile paper --set alphas=...``: 8000/2000 instances, ≤ 500 epochs,
early stopping, 2000 test instances, reference checked by 16-start PGA (8 at α ≥ 0.8)):
``alphas=0.0,0.2,0.5`` (18 min 38 s wall) and ``alphas=0.8,1.0 reference_pga_starts=8
num_cvxpy=0`` (15 min), with ISACNN's epochs until early stopping:

=====  ======  =======  ======  ===========  =========  ==========  ======
α      ISACNN  Average  ZFBF    traditional  reference  ISACNN gap  epochs
=====  ======  =======  ======  ===========  =========  ==========  ======
0.0    1.0000  0.9225   0.9901  1.0000       1.0000     0.000       159
0.2    0.8588  0.8516   0.8497  0.8595       0.8595     0.08        94
0.5    0.8024  0.7452   0.7995  0.8057       0.8057     0.42        88
0.8    0.7491  0.6389   0.7528  0.7553       0.7553     0.83        58
1.0    0.7137  0.5680   0.7220  0.7220       0.7220     1.15        107
=====  ======  =======  ======  ===========  =========  ==========  ======

The multi-start projected gradient ascent never improved on the frontier reference (0 of 2000
instances at every α), and the CVXPY traditional scheme (20 instances) matched the batched one.

* WSNR = 1 at α = 0 within 1e-3 (paper: "achieves 1"): **met** (0.99997 quick, 0.999995
  paper-size).
* At least Average at every α: **met**. At least ZFBF: **met for α ≤ 0.6** (tie at 0.6),
  **not met at α ≥ 0.8** with the paper's recipe (−0.5 % at 0.8, −1.2 % at 1.0, paper-size);
  with augmentation met at 0.8 (+0.32 %) and tied at 1.0 (−0.017 %). Within 2 % of the
  traditional scheme: **met** (worst ratio 0.987 quick, 0.988 paper-size). Gap to the
  reference: ≤ 1.3 % (quick), largest at α = 1.
* Why ZFBF wins at high α: our ZFBF waveform is optimized exactly for its receiver, and with
  ``N_r = 16 ≫ K = 5`` zero-forcing loses little, so at α ≥ 0.8 it sits 0–0.33 % below the
  optimum (0.8–1.1 % at α ≤ 0.5); at α = 1 it *is* the optimum (as in the paper, where the two
  coincide), so ISACNN can at best tie it. There the optimum is, within 0.014 %,
  interference-free water-filling on :math:`\sigma_t` alone, and ISACNN trained by the
  paper's recipe approximates it to ~1 % — not for lack of capacity but by overfitting the
  channel inputs (0.5 % gap on the training set, 1.15 % on validation; closed by the channel
  augmentation above). An ad-hoc ablation at α = 1 (4000/1000 instances, 80
  epochs, 1000 test instances; not a shipped command) gave gaps of 1.25 % as specified,
  1.26 % with the paper's ℓ2 Lambda layer (``--set theta_norm=l2``), 1.23 % with per-feature
  input batch norm, 0.82 % for FC-NN (``--set include_fcnn=true``). More training does not
  close it (paper-size early-stops at the same loss).
* The traditional AO+SCA scheme reaches the reference to 1e-9 at every α: in this scenario
  problem (28) is benign, so the paper's "ISACNN beats the traditional scheme in the middle
  range" is **not reproduced**; ISACNN's advantage is speed (Table I below).
* Paper: Average worse than ZFBF at low α and better at high α. Measured: worse at α = 0
  (0.923 vs 0.990), about equal at 0.2, **worse at every α ≥ 0.4** (not reproduced; follows from
  the strong ZFBF above).

**Table I / runtime** — ``isaclearn run qi_uplink.runtime --profile quick`` (500 instances,
batched; 1 min wall), ms per instance, and traditional ÷ ISACNN:

=============  =====  =====  =====  =====  =====  =====  =====  =====  =====
sweep          N_t=4  10     16     N_r=4  10     16     K=2    5      8
=============  =====  =====  =====  =====  =====  =====  =====  =====  =====
ISACNN (ms)    0.10   0.05   0.06   0.03   0.05   0.06   0.10   0.05   0.07
paper (ms)     0.233  0.242  0.246  0.141  0.194  0.250  0.165  0.250  0.293
trad. KKT ÷    18     16     12     16     18     14     7      15     16
trad. CVXPY ÷  244    757    2038   1564   781    1153   624    694    497
=============  =====  =====  =====  =====  =====  =====  =====  =====  =====

(timings on a loaded shared CPU are noisy to ±2×; ratios are the comparable quantity). The
batched exact-KKT traditional scheme is our fast implementation; the CVXPY one is what a
CVX-style implementation costs. ``bench_uplink`` (batch 500, default scenario): ISACNN
0.067 ms, traditional 8.8×, traditional/CVXPY 650×, reference 97×, ZFBF 156× (its global
waveform search), Average 0.9×.

**Fig. 6** — ``qi_uplink.training --profile quick`` (30 epochs; 19 s): best validation loss
ISACNN −0.795 / −0.801 vs FC-NN −0.697 / −0.760 with 500 / 2000 training instances: ISACNN
learns faster from few samples (paper: yes). The paper's "FC-NN oscillates violently" is
**not reproduced** (mean \|Δ val loss\| per epoch: FC-NN 0.0019 / 0.0030, ISACNN 0.0056 /
0.0005); at α = 1 FC-NN ends better than ISACNN (above).

**Fig. 8** — ``qi_uplink.snr --profile quick`` (2 min 36 s): SR grows and CR falls with
SNR_s; a larger SNR_c raises CR and lowers SR (paper: same). E.g. SNR_c = 0 dB: SR 0.64 /
4.33 / 18.16 and CR 3.63 / 3.29 / 2.14 bit/s/Hz at SNR_s = 0 / 10 / 20 dB; ISACNN within
0.34–1.18 % of the reference at every point.

**Fig. 9** — ``qi_uplink.antennas_users --profile quick`` (1 min 32 s): SR and CR fall and
the sum CR rises with K; 16 antennas beat 8 on both (paper: same). N = 16: SR 5.35 / 4.33 /
3.43, CR 3.54 / 3.29 / 2.98, SCR 7.08 / 16.44 / 23.84 at K = 2 / 5 / 8.

**Fig. 10** — ``qi_uplink.weight_users --profile quick`` (2 min 30 s): WSNR for K = 3
1.000 / 0.877 / 0.856 / 0.837 / 0.818 and K = 7 1.000 / 0.821 / 0.749 / 0.678 / 0.608 at
α = 0 / .25 / .5 / .75 / 1: more users, faster decline (paper: same), but for K = 3 the
paper's rise above α = 0.4 is **not reproduced** (monotone decrease).

**Fig. 11** — ``qi_uplink.imperfect_csi --profile quick`` (1 min 23 s; the same true channels
for every β). Loss of WSNR versus β = 1, ISACNN / traditional, in %:

==========  ===============  ===============  ===============  ===============
metric      β=0.3, N_r=8     β=0.3, N_r=16    β=0.7, N_r=8     β=0.7, N_r=16
==========  ===============  ===============  ===============  ===============
genie       0.01 / 0.00      −0.01 / 0.00     0.03 / 0.00      −0.02 / 0.00
estimate    43.7 / 43.4      38.0 / 37.8      23.8 / 23.6      19.1 / 19.0
==========  ===============  ===============  ===============  ===============

With the paper's metric (beams recomputed on the true channel, "genie") the loss is negligible,
as the paper reports — but equally for the traditional scheme designed on the estimate: the
optimal waveform hardly depends on H, so this robustness is a property of the problem, not
something ISACNN learns. With the beams computed from the estimate (what a receiver can
actually do) every scheme loses 19–44 %; the loss shrinks as N_r grows (paper: same trend).
"""

from isaclearn.systems.qi_uplink import experiments as experiments  # registers the experiments
from isaclearn.systems.qi_uplink.bench import bench_uplink
from isaclearn.systems.qi_uplink.evaluation import (
    METRIC_UNITS,
    evaluate,
    make_scenario,
    scalar_metrics,
)
from isaclearn.systems.qi_uplink.system import SYSTEM as SYSTEM  # registers the system

__all__ = ["METRIC_UNITS", "bench_uplink", "evaluate", "experiments", "make_scenario",
           "scalar_metrics"]
