"""Differentiable performance measures: one value per batch element, no reduction.

* :mod:`.comm`, :mod:`.sensing`, :mod:`.uplink` — rates, SINR, angle CRB, beampattern, uplink.
* :mod:`.pcrb` — the posterior CRB recursion of ding_dt (35)/(36), RCRB, the angle-derivative
  matrix Π and the sensing threshold Λ (54)–(58).
* :mod:`.pattern`, :mod:`.power` — the liu_irs_ppo desired beampattern (17), its error L_r (16),
  per-antenna power (22) and constraint violations.
* :mod:`.ofdm` — yang_som SINR with ICI (7) and spectral efficiency (8); the wideband angle
  Fisher information (10) is :func:`.sensing.fisher_angle`.
* :mod:`.vehicular` — per-RSU rates (10), assignment accuracy, beam MSE, tracking RMSE, NEES.
"""

from isaclearn.metrics.comm import jain_fairness, mimo_rates, mimo_sum_rate, rates, sinr, sum_rate
from isaclearn.metrics.ofdm import se, se_per_hz, sinr_ici
from isaclearn.metrics.pattern import (
    angle_grid,
    beampattern_mse,
    desired_pattern,
    paper_beampattern,
)
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
from isaclearn.metrics.power import per_antenna_power, per_antenna_violation, total_power
from isaclearn.metrics.sensing import (
    beampattern,
    covariance,
    crb_angle,
    crb_angle_approx,
    crb_from_covariance,
    crlb_from_fisher,
    fisher_angle,
)
from isaclearn.metrics.vehicular import (
    assignment_accuracy,
    beam_mse,
    nees,
    rsu_rates,
    tracking_rmse,
)

__all__ = [
    "crlb_from_fisher",
    "fisher_angle",
    "se",
    "se_per_hz",
    "sinr_ici",
    "angle_grid",
    "beampattern_mse",
    "desired_pattern",
    "mimo_rates",
    "mimo_sum_rate",
    "paper_beampattern",
    "per_antenna_power",
    "per_antenna_violation",
    "total_power",
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
