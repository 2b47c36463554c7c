"""Differentiable performance measures: one value per batch element, no reduction.

* :mod:`.comm`, :mod:`.sensing`, :mod:`.uplink` — rates, SINR, angle CRB, beampattern, uplink.
* :mod:`.pcrb` — the posterior CRB recursion of ding_dt (35)/(36), RCRB, the angle-derivative
  matrix Π and the sensing threshold Λ (54)–(58).
* :mod:`.vehicular` — per-RSU rates (10), assignment accuracy, beam MSE, tracking RMSE, NEES.
"""

from isaclearn.metrics.comm import jain_fairness, rates, sinr, sum_rate
from isaclearn.metrics.pcrb import (
    angle_derivative_gram,
    angle_derivative_matrix,
    measurement_information,
    pcrb_recursion,
    pcrb_step,
    rcrb,
    sensing_status,
    sensing_threshold,
)
from isaclearn.metrics.sensing import (
    beampattern,
    covariance,
    crb_angle,
    crb_angle_approx,
    crb_from_covariance,
)
from isaclearn.metrics.vehicular import (
    assignment_accuracy,
    beam_mse,
    nees,
    rsu_rates,
    tracking_rmse,
)

__all__ = [
    "angle_derivative_gram",
    "angle_derivative_matrix",
    "assignment_accuracy",
    "beam_mse",
    "measurement_information",
    "nees",
    "pcrb_recursion",
    "pcrb_step",
    "rcrb",
    "rsu_rates",
    "sensing_status",
    "sensing_threshold",
    "tracking_rmse",
    "beampattern",
    "covariance",
    "crb_angle",
    "crb_angle_approx",
    "crb_from_covariance",
    "jain_fairness",
    "rates",
    "sinr",
    "sum_rate",
]
