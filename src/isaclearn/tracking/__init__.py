"""State estimators for the sequential systems.

:mod:`isaclearn.tracking.ekf` holds a batched extended Kalman filter: states ``[..., n]`` (ding_dt
tracks ``[B, K, 3]`` seeds × vehicles × ``(φ, d, v̇)``), model functions written for one state and
mapped over the batch with ``torch.func.vmap``, Jacobians from ``torch.func.jacfwd``, a Cholesky
gain, the Joseph covariance, ``+inf`` variances for components without information, a mask for
padded elements, and the paper's gain of ding_dt as an option. The layer sits beside
``solvers``: it imports only ``core`` (and nothing below it).
"""

from isaclearn.tracking.ekf import (
    GAINS,
    EkfPrediction,
    EkfTrace,
    EkfUpdate,
    ExtendedKalmanFilter,
    ekf_predict,
    ekf_update,
    value_and_jacobian,
)

__all__ = [
    "GAINS",
    "EkfPrediction",
    "EkfTrace",
    "EkfUpdate",
    "ExtendedKalmanFilter",
    "ekf_predict",
    "ekf_update",
    "value_and_jacobian",
]
