"""Differentiable performance measures: one value per batch element, no reduction."""

from isaclearn.metrics.comm import jain_fairness, rates, sinr, sum_rate
from isaclearn.metrics.sensing import (
    beampattern,
    covariance,
    crb_angle,
    crb_angle_approx,
    crb_from_covariance,
)

__all__ = [
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
