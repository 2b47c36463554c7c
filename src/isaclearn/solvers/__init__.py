"""Designers that are not learned: closed-form precoders, WMMSE, convex programs, bounds.

Every precoder function takes ``(h, power, noise_var, ...)`` with ``h`` ``[..., K, M]`` and
returns ``w`` ``[..., M, K]`` with ``||w||_F^2 = power``; every designer class wraps one with
``design(problem) -> Design``. :mod:`isaclearn.solvers.allocation` holds the power-allocation
routines (water-filling and relatives) the designers share. Further: :mod:`.irs` and
:mod:`.mimo_wmmse` (liu_irs_ppo baselines), :mod:`.fractional` and :mod:`.assignment` (ding_dt
FP + PGD beamforming and RSU assignment), :mod:`.hybrid` and :mod:`.isac_ofdm_sdr` (yang_som
hybrid precoding, Stage I/II of its Opt baseline).
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

from isaclearn.solvers.assignment import (  # noqa: E402
    AssignmentResult,
    assign_alg3,
    assign_distance,
    assign_exhaustive,
    assign_greedy,
    nearest_rsu,
)
from isaclearn.solvers.fractional import (  # noqa: E402
    FPOptions,
    fp_beamforming,
    project_ball_halfspace,
)
from isaclearn.solvers.hybrid import (  # noqa: E402
    angular_dictionary,
    apply_au,
    apply_uu,
    check_hybrid,
    hybrid_decompose,
    omp_decompose,
)
from isaclearn.solvers.isac_ofdm_sdr import ofdm_isac_sdr  # noqa: E402

__all__ = [*globals().get("__all__", []), "AssignmentResult", "FPOptions", "angular_dictionary",
           "apply_au", "apply_uu", "assign_alg3", "assign_distance", "assign_exhaustive",
           "assign_greedy", "check_hybrid", "fp_beamforming", "hybrid_decompose",
           "nearest_rsu", "ofdm_isac_sdr", "omp_decompose", "project_ball_halfspace"]
