"""Designers that are not learned: closed-form precoders, WMMSE, convex programs, bounds.

Every precoder function takes ``(h, power, noise_var, ...)`` with ``h`` ``[..., K, M]`` and
returns ``w`` ``[..., M, K]`` with ``||w||_F^2 = power``; every designer class wraps one with
``design(problem) -> Design``. :mod:`isaclearn.solvers.allocation` holds the power-allocation
routines (water-filling and relatives) the designers share.
"""

# Each solver module adds its public names below (one import block per module).

from isaclearn.solvers.allocation import project_capped_simplex, solve_sensing_kkt, water_filling
from isaclearn.solvers.convex import SensingOnly, sensing_only_covariance
from isaclearn.solvers.convex_sdr import SdrResult, SdrTradeoff, sdr_boundary, sdr_tradeoff
from isaclearn.solvers.designers import MMSE, MRT, WMMSE, ZF
from isaclearn.solvers.dpc import dpc_sum_capacity
from isaclearn.solvers.linear import mmse, mrt, zf
from isaclearn.solvers.wmmse import WmmseInfo, wmmse

__all__ = [*globals().get("__all__", []), "MMSE", "MRT", "WMMSE", "ZF", "WmmseInfo",
           "dpc_sum_capacity", "mmse", "mrt", "wmmse", "zf"]
__all__ = [*globals().get("__all__", []), "SdrResult", "SdrTradeoff", "SensingOnly",
           "sdr_boundary", "sdr_tradeoff", "sensing_only_covariance"]
__all__ = [*globals().get("__all__", []), "project_capped_simplex", "solve_sensing_kkt",
           "water_filling"]

from isaclearn.solvers.irs import FixedPhases, MimoWmmse, without_irs  # noqa: E402
from isaclearn.solvers.mimo_wmmse import mimo_wmmse  # noqa: E402

__all__ = [*globals().get("__all__", []), "FixedPhases", "MimoWmmse", "mimo_wmmse", "without_irs"]
