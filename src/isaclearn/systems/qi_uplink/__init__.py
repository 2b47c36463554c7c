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
  fraction of user power left after SIC is ``ZFBF.sic_residual = 1`` by default
  (0 = perfect cancellation, a different receiver that reaches :math:`M_s` at α = 1).
* **Traditional scheme** — AO between the beams (eq. 25) and the waveform, the waveform step by
  SCA (tangent of the rate, which is convex in the interference, for fixed beams); each SCA
  subproblem is concave and solved exactly (batched KKT, default) or by CVXPY/Clarabel.
  Initialized at the Average scheme. It is monotone (tested).
* **Channel augmentation** (beyond the paper; ``augment``, default ``true``; ``--set
  augment=false`` is the paper's recipe) — each training mini-batch's channels are replaced by
  :math:`\mathbf Q\hat{\mathbf H}\mathbf D\boldsymbol\Pi` (random unitary, user phases,
  user permutation), a symmetry of problem (28), so the loss is unchanged. Without it ISACNN
  overfits the 160 channel inputs (details in :mod:`isaclearn.learn.isacnn`, the ablation
  in ``docs/qi_uplink.md``).
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

Measured results versus the paper, claim by claim with the command behind every number:
``docs/qi_uplink.md``.
"""

from isaclearn.systems.qi_uplink import experiments as experiments  # registers the experiments
from isaclearn.systems.qi_uplink.bench import bench_uplink
from isaclearn.systems.qi_uplink.evaluation import (
    METRIC_UNITS,
    evaluate,
    make_scenario,
    mean_scores,
)
from isaclearn.systems.qi_uplink.system import SYSTEM as SYSTEM  # registers the system

__all__ = ["METRIC_UNITS", "bench_uplink", "evaluate", "experiments", "make_scenario",
           "mean_scores"]
