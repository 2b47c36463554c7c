"""Designers that are not learned: closed-form precoders, WMMSE, convex programs, bounds.

Every precoder function takes ``(h, power, noise_var, ...)`` with ``h`` ``[..., K, M]`` and
returns ``w`` ``[..., M, K]`` with ``||w||_F^2 = power``; every designer class wraps one with
``design(problem) -> Design``.
"""

# Each solver module adds its public names below (one import block per module).

from isaclearn.solvers.convex import SensingOnly, crb_from_covariance, sensing_only_covariance
from isaclearn.solvers.convex_sdr import SdrResult, SdrTradeoff, sdr_boundary, sdr_tradeoff

__all__ = [*globals().get("__all__", []), "SdrResult", "SdrTradeoff", "SensingOnly",
           "crb_from_covariance", "sdr_boundary", "sdr_tradeoff", "sensing_only_covariance"]
